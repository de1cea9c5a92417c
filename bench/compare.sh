#!/usr/bin/env bash
# The architecture comparison in the README: each row trains for the same
# wall-clock budget on the full fra.txt (same hash split), then is scored on
# the same test sentences; the last rows score the fra-attention model
# (configs/fra-attention.yaml, 60 minutes) when models/fra-attention exists.
#
# Usage: bash bench/compare.sh [MINUTES] [TEST_LIMIT]
#   MINUTES     training budget of every row (default 6)
#   TEST_LIMIT  first N test sentences to score (default: all 8,409)
#   JOBS=2      train two rows side by side, one OpenBLAS thread each (the
#               same conditions for every row; half the waiting on 2 cores)
#   OUT=dir     where the models go (default models/compare); rows already
#               trained there are reused
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=../shared/data/fra-eng/fra.txt
MIN=${1:-6}
LIMIT=${2:-1000000}
JOBS=${JOBS:-1}
OUT=${OUT:-models/compare}
[ -f "$DATA" ] || { echo "compare: $DATA not found (the comparison needs fra.txt)"; exit 0; }
mkdir -p "$OUT"
common=(--data "$DATA" --samples all --split hash --max-minutes "$MIN" --epochs 100 --batch-size 64 --examples 0)
adam=(--optimizer adam --lr 0.002 --clip-norm 5)
threads=()
[ "$JOBS" -gt 1 ] && threads=(env OPENBLAS_NUM_THREADS=1)
train() { # name, options...
  local name=$1; shift
  [ -f "$OUT/$name/config.json" ] && return 0
  rm -rf "$OUT/$name"
  "${threads[@]}" node bin/s2s.js train "${common[@]}" --out "$OUT/$name" "$@" > "$OUT/$name.log" 2>&1
  grep -aE '^epoch [0-9]+/|trained' "$OUT/$name.log" | sed "s/^/[$name] /" || true
}
queue() { # runs `train` in the background, at most JOBS at once
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  train "$@" &
}
queue seed      --preset seed --level char --cell lstm --latent-dim 256
queue attention --preset seed --level char --latent-dim 256 --embedding-dim 64 --attention general "${adam[@]}"
queue bidir     --preset seed --level char --latent-dim 256 --embedding-dim 64 --attention general --bidirectional "${adam[@]}"
queue bpe       --config configs/fra-attention.yaml --max-minutes "$MIN"
wait

score() { # dir, beam, label
  local r bleu chrf sps minutes single
  r=$(node bin/s2s.js eval --model "$1" --data "$DATA" --split test --limit "$LIMIT" --beam "$2")
  bleu=$(echo "$r" | sed -n 's/^BLEU: \([0-9.]*\).*/\1/p')
  chrf=$(echo "$r" | sed -n 's/^chrF: \([0-9.]*\).*/\1/p')
  sps=$(echo "$r" | sed -n 's/.*sentences, \([0-9.]*\) sentences\/s.*/\1/p')
  minutes=$(node -e "const h=require('./$1/history.json'); console.log((h.reduce((s,e)=>s+e.seconds,0)/60).toFixed(1)+' ('+h.length+' epochs)')")
  single=$(node --input-type=module -e "
    const { loadBundle } = await import('./dist/src/bundle/bundle.js');
    const b = loadBundle('$1'); const s = ['I am happy.', 'Where is the station?', 'She does not like cats.', 'We will see.'];
    b.translator.translate(s); const t0 = performance.now(); let n = 0;
    while (performance.now() - t0 < 3000) { for (const x of s) { b.translator.translate([x], { beam: $2 }); n++; } }
    console.log((n / ((performance.now() - t0) / 1000)).toFixed(1));")
  echo "| $3 | $bleu | $chrf | $minutes | $sps | $single |"
}
echo
echo "| model | BLEU | chrF | training minutes | sentences/s (batched) | sentences/s (one at a time) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
score "$OUT/seed" 1 'seed: char LSTM, greedy'
score "$OUT/attention" 1 '+ attention (general, input feeding), embeddings'
score "$OUT/bidir" 1 '+ bidirectional encoder'
score "$OUT/bpe" 1 '+ BPE subwords (5k merges): configs/fra-attention.yaml'
score "$OUT/bpe" 5 '+ beam search (K=5)'
if [ -f models/fra-attention/config.json ]; then
  score models/fra-attention 1 'configs/fra-attention.yaml, full budget, greedy'
  score models/fra-attention 5 'configs/fra-attention.yaml, full budget, beam 5'
fi
