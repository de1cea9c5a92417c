#!/usr/bin/env bash
# The architecture comparison in the README: each row trains for the same
# wall-clock budget on the full fra.txt (same hash split), then is scored on
# the same test sentences. Usage: bash bench/compare.sh [MINUTES] [TEST_LIMIT]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=../shared/data/fra-eng/fra.txt
MIN=${1:-6}
LIMIT=${2:-2000}
OUT=${OUT:-models/compare}
[ -f "$DATA" ] || { echo "compare: $DATA not found (the comparison needs fra.txt)"; exit 0; }
mkdir -p "$OUT"
common=(--data "$DATA" --samples all --split hash --max-minutes "$MIN" --epochs 100 --batch-size 64 --examples 0)
train() { # name, options...
  local name=$1; shift
  [ -f "$OUT/$name/config.json" ] || node bin/s2s.js train "${common[@]}" --out "$OUT/$name" "$@" 2>&1 | grep -E '^epoch [0-9]+/|trained' || true
}
train seed      --preset seed --level char --cell lstm --latent-dim 256
train attention --preset seed --level char --latent-dim 256 --embedding-dim 64 --attention general --optimizer adam --lr 0.002 --clip-norm 5
train bidir     --preset seed --level char --latent-dim 256 --embedding-dim 64 --attention general --bidirectional --optimizer adam --lr 0.002 --clip-norm 5
train bpe       --preset seed --level bpe --bpe-merges 8000 --latent-dim 256 --embedding-dim 256 --attention general --bidirectional --optimizer adam --lr 0.002 --clip-norm 5 --dropout 0.2 --batch-size 128
score() { # name, beam
  local t0 t1 r
  t0=$(date +%s.%N)
  r=$(node bin/s2s.js eval --model "$OUT/$1" --data "$DATA" --split test --limit "$LIMIT" --beam "$2")
  t1=$(date +%s.%N)
  local bleu chrf sps minutes
  bleu=$(echo "$r" | sed -n 's/^BLEU: \([0-9.]*\).*/\1/p')
  chrf=$(echo "$r" | sed -n 's/^chrF: \([0-9.]*\).*/\1/p')
  sps=$(echo "$r" | sed -n 's/.*sentences, \([0-9.]*\) sentences\/s.*/\1/p')
  minutes=$(node -e "const h=require('./$OUT/$1/history.json'); console.log((h.reduce((s,e)=>s+e.seconds,0)/60).toFixed(1)+' ('+h.length+' epochs)')")
  single=$(node -e "
    const { loadBundle } = await import('./dist/src/bundle/bundle.js');
    const b = loadBundle('$OUT/$1'); const s = ['I am happy.', 'Where is the station?', 'She does not like cats.', 'We will see.'];
    b.translator.translate(s); const t0 = performance.now(); let n = 0;
    while (performance.now() - t0 < 3000) { for (const x of s) { b.translator.translate([x], { beam: $2 }); n++; } }
    console.log((n / ((performance.now() - t0) / 1000)).toFixed(1));" --input-type=module)
  echo "| $3 | $bleu | $chrf | $minutes | $sps | $single |"
}
echo "| model | BLEU | chrF | training minutes | sentences/s (batch 64) | sentences/s (one at a time) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
score seed 1 'seed: char LSTM, greedy'
score attention 1 '+ attention (general, input feeding)'
score bidir 1 '+ bidirectional encoder'
score bpe 1 '+ BPE subwords (8k merges), embeddings'
score bpe 5 '+ beam search (K=5)'
