/**
 * ONNX benchmark (issue 14): greedy decoding of one model by onnxruntime-node
 * (the exported encoder.onnx + decoder_step.onnx, driven by the contract
 * decoder of test/helpers/onnx-decode.ts) beside s2s native (its Translator),
 * on the same sentences in the same run, at batch 1 and batch 64:
 * sentences/s, the ratio ONNX / s2s, and how many outputs agree token for token.
 *
 * Usage: npm run bench:onnx [-- --model DIR] [--arch rnn|transformer] [--int8] [--sentences N] [--max-length L] [--threads T]
 *   --model DIR   a trained bundle (any architecture exportOnnx handles); without it, a model of the
 *                 fra-attention shape (bidirectional LSTM 256, general attention, embeddings 256) with
 *                 seeded random weights on the built-in corpus's character vocabulary (said in the output).
 *   --arch transformer  without --model: the reference Transformer instead (issue 12's: d_model 256, 4 heads,
 *                 3 + 3 blocks, ff 1024, tied embeddings), seeded, on one character vocabulary for both sides.
 *   --sentences N sentences decoded per configuration (default 200): fra.txt's test split when
 *                 ../shared/data/fra-eng/fra.txt exists and the model is a trained bundle, else the built-in corpus.
 *   --int8        quantize the model first (s2s quantize, in memory): s2s native int8 inference beside
 *                 onnxruntime on the int8 export (INT8 initializers + DequantizeLinear, ORT's default session,
 *                 which fuses them into int8-compute MatMulNBits); prints both exports' .onnx sizes.
 *                 A bundle that is already int8 is measured as it is.
 *   --threads T   onnxruntime intra-op threads (default 1); s2s's OpenBLAS threads come from the environment.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { kernels } from '../src/engine/index.js';
import { loadBundle, makeTranslator, type BundleParts } from '../src/bundle/bundle.js';
import { readSplit } from '../src/data/read-split.js';
import { generateCorpus } from '../src/data/synthetic.js';
import { CharTokenizer } from '../src/data/char.js';
import { Vocab } from '../src/data/vocab.js';
import { tokenizerFromJSON } from '../src/data/tokenizer-factory.js';
import { createModel } from '../src/model/model.js';
import { describeArchitecture } from '../src/model/config.js';
import { PRESETS } from '../src/train/options.js';
import { exportOnnx } from '../src/onnx/export.js';
import { greedy, readContract } from '../test/helpers/onnx-decode.js';
import { runner } from '../test/helpers/onnx.js';
import { quantizeParts } from '../src/bundle/quantize.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const FRA = resolve(root, '..', 'shared', 'data', 'fra-eng', 'fra.txt');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function seededReference(transformer: boolean): { parts: BundleParts; texts: string[]; note: string } {
  const pairs = generateCorpus({ size: 2000, seed: 1, maxSourceLength: 60 });
  const tok = new CharTokenizer();
  const shared = transformer ? Vocab.build(pairs.flatMap((p) => [tok.tokenize(p.source), tok.tokenize(p.target)])) : null;
  const vocabs = shared ? { source: shared, target: shared } : { source: Vocab.build(pairs.map((p) => tok.tokenize(p.source))), target: Vocab.build(pairs.map((p) => tok.tokenize(p.target))) };
  const sizes = { srcVocabSize: vocabs.source.size, tgtVocabSize: vocabs.target.size };
  const model = transformer
    ? createModel({ arch: 'transformer', modelDim: 256, heads: 4, ffDim: 1024, layers: 3, tieEmbeddings: true, ...sizes }, 1)
    : createModel({ cell: 'lstm', latentDim: 256, embeddingDim: 256, bidirectional: true, attention: 'general', ...sizes }, 1);
  const parts: BundleParts = {
    config: { format: 's2s-model', version: 1, model: model.config, tokenizers: { source: { level: 'char' }, target: { level: 'char' } }, data: { ...PRESETS.seed.data, corpus: '<built-in>' }, train: { ...PRESETS.seed.train }, createdBy: 'bench' },
    vocabs, model, history: [],
  };
  const shape = transformer ? 'the reference Transformer shape (d_model 256, 4 heads, 3 + 3 blocks, ff 1024, tied embeddings)' : 'the fra-attention shape (bidirectional LSTM 256, general attention, embeddings 256)';
  return { parts, texts: pairs.map((p) => p.source), note: `seeded random weights of ${shape}, char vocabulary of the built-in corpus, built-in corpus sentences` };
}

async function main(): Promise<void> {
  const modelDir = arg('model');
  const n = Number(arg('sentences') ?? 200);
  const maxLength = Number(arg('max-length') ?? 60);
  const threads = Number(arg('threads') ?? 1);
  let parts: BundleParts, texts: string[], note: string;
  if (modelDir) {
    parts = loadBundle(modelDir);
    if (existsSync(FRA) && /fra\.txt$/.test(parts.config.data.corpus)) {
      texts = readSplit(FRA, parts.config.data).split.test.map((p) => p.source);
      note = `${modelDir} (trained bundle), fra.txt test split`;
    } else {
      texts = generateCorpus({ size: 2000, seed: 1, maxSourceLength: 60 }).map((p) => p.source);
      note = `${modelDir} (trained bundle), built-in corpus sentences`;
    }
  } else ({ parts, texts, note } = seededReference(arg('arch') === 'transformer'));
  // Evenly spaced sentences the model can take.
  const step = Math.max(1, Math.floor(texts.length / n));
  texts = texts.filter((_, i) => i % step === 0).slice(0, n);

  const dir = mkdtempSync(join(tmpdir(), 's2s-bench-onnx-'));
  try {
    const onnxBytes = (d: string): number => ['encoder.onnx', 'decoder_step.onnx'].reduce((b, f) => b + statSync(join(d, f)).size, 0);
    let sizes = '';
    if (process.argv.includes('--int8') && !parts.model.parameters().some((p) => p.int8)) {
      exportOnnx(parts, join(dir, 'float32'));
      sizes = `float32 export ${(onnxBytes(join(dir, 'float32')) / 2 ** 20).toFixed(2)} MiB`;
      quantizeParts(parts);
    }
    const t0 = performance.now();
    exportOnnx(parts, dir);
    const exportMs = performance.now() - t0;
    const weights = readContract(dir).weights;
    sizes = `${sizes ? `${sizes}, ` : ''}${weights} export ${(onnxBytes(dir) / 2 ** 20).toFixed(2)} MiB (encoder.onnx + decoder_step.onnx)`;
    const contract = readContract(dir);
    const options: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1 };
    const sessions = async (extra?: Record<string, unknown>): Promise<[ort.InferenceSession, ort.InferenceSession]> => {
      const o = { ...options, ...(extra ? { extra } : {}) };
      return Promise.all([ort.InferenceSession.create(join(dir, 'encoder.onnx'), o), ort.InferenceSession.create(join(dir, 'decoder_step.onnx'), o)]);
    };
    // An int8 export also runs with ORT's QDQ handling off: its DequantizeLinear nodes are then folded to float32 constants at load.
    const variants = [{ label: 'onnxruntime', pair: await sessions() }];
    if (weights === 'int8') variants.push({ label: 'onnxruntime, disable_quant_qdq', pair: await sessions({ session: { disable_quant_qdq: '1' } }) });
    const translator = makeTranslator(parts);
    const tokenizer = tokenizerFromJSON(parts.config.tokenizers.source);
    const sources = texts.map((t) => Array.from(parts.vocabs.source.encode(tokenizer.tokenize(t.normalize('NFC'))).ids)).filter((s) => s.length > 0);
    const targetTok = tokenizerFromJSON(parts.config.tokenizers.target);

    console.log(`ONNX benchmark: ${describeArchitecture(parts.config.model)}`);
    console.log(`model: ${note}; weights ${weights}${weights === 'int8' ? ' (s2s native int8 kernels; ORT default session: DequantizeLinear → MatMul fused into int8-compute MatMulNBits)' : ''}`);
    console.log(`sizes: ${sizes}`);
    console.log(`conditions: ${sources.length} sentences, greedy, max length ${maxLength}; s2s kernels ${kernels().description}, OPENBLAS_NUM_THREADS=${process.env.OPENBLAS_NUM_THREADS ?? '(unset)'}; onnxruntime-node ${ort.env.versions.common}, ${threads} intra-op thread(s), graph optimisations all; ${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; export took ${exportMs.toFixed(0)} ms`);
    console.log('');
    console.log(`| batch | s2s native (sent/s) | ${variants.map((v) => `${v.label} (sent/s) | ratio | same output`).join(' | ')} |`);
    console.log(`|---:|---:|${variants.map(() => '---:|---:|---:|').join('')}`);
    for (const batch of [1, 64]) {
      // s2s: its Translator, as `s2s translate` runs it (sorted by length, batched).
      const s0 = performance.now();
      const ref = translator.translate(texts, { batchSize: batch, maxLength });
      const s2sMs = performance.now() - s0;
      const refTexts = ref.filter((r) => r.text !== '' || r.source.trim() !== '').map((r) => r.text);
      const s2sRate = (texts.length / s2sMs) * 1000;
      const cells: string[] = [];
      for (const { pair: [enc, dec] } of variants) {
        // ORT: the same sorting and batching, the contract's greedy loop.
        const order = sources.map((_, i) => i).sort((a, b) => sources[b].length - sources[a].length);
        const outputs: string[] = new Array(sources.length);
        const o0 = performance.now();
        for (let s = 0; s < order.length; s += batch) {
          const chunk = order.slice(s, s + batch);
          const r = await greedy(contract, runner(enc), runner(dec), chunk.map((i) => sources[i]), { maxLength });
          chunk.forEach((i, k) => (outputs[i] = targetTok.detokenize(parts.vocabs.target.decode(r.ids[k]))));
        }
        const ortRate = (sources.length / (performance.now() - o0)) * 1000;
        const same = outputs.filter((t, i) => t === refTexts[i]).length;
        cells.push(`${ortRate.toFixed(1)} | ${(ortRate / s2sRate).toFixed(2)}× | ${same}/${sources.length}`);
      }
      console.log(`| ${batch} | ${s2sRate.toFixed(1)} | ${cells.join(' | ')} |`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
