/**
 * The Transformer's ONNX export (src/onnx/transformer.ts, through
 * exportOnnx) run in onnxruntime-node with every graph optimisation on, for
 * tiny seeded Transformers in several configs (pre-/post-LN, ReLU/GELU,
 * sinusoidal/learned positions, tied/untied embeddings, 1–2 blocks, unequal
 * encoder and decoder depths, 2 or 4 heads), most trained a few steps on the
 * built-in corpus:
 *   - both graphs load; opset and IR version recorded;
 *   - a greedy decoder written against model.json only (helpers/onnx-decode.ts)
 *     gives s2s's greedy token sequences, logits within 1e-4 at every step;
 *   - each sentence alone gives what it gives in the batch;
 *   - s2s's beam search over the ONNX graphs (helpers/onnx-sync.ts: the
 *     self-attention caches reordered by Gather on axis 0) gives s2s's n-best;
 *   - stepping s2s's KV-cached decoder and the graphs side by side, the
 *     attention output equals s2s's attention map;
 *   - learned positions past the table, and a row without source tokens,
 *     behave as in s2s; the README documents the caches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { noGrad, Adam, clipGradNorm, clearTape, type Tensor } from '../src/engine/index.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeBatch, makeSourceBatch } from '../src/data/batching.js';
import { BOS_ID, EOS_ID } from '../src/data/vocab.js';
import { argmaxRows } from '../src/decode/greedy.js';
import type { Transformer, TransformerState } from '../src/model/transformer.js';
import type { IdBatch } from '../src/model/translation-model.js';
import type { ModelConfig } from '../src/model/config.js';
import { exportTransformerGraphs } from '../src/onnx/transformer.js';
import { decodeModel, type ExportedGraphs, type OnnxContract } from '../src/onnx/index.js';
import { saveBundle } from '../src/bundle/bundle.js';
import { exportOnnx, ONNX_EXPORT_FILES } from '../src/onnx/export.js';
import { tinyTransformer, transformerBundleParts, type TinyTransformerSetup } from './helpers/tiny-transformer.js';
import { loadSession, checkModelHeader, feed, floats, maxAbsDiff, type Session, type OrtTensor } from './helpers/onnx.js';
import { readContract } from './helpers/onnx-decode.js';
import { assertGreedyEqualsS2s, assertAloneEqualsBatch, assertBeamOverOnnx, checkInt8Export, idBatch } from './helpers/onnx-agree.js';

const TOL = 1e-4;
const MAX_LENGTH = 40;
const EXPORT_OPTIONS = { producerVersion: 'test', metadata: {} };

/** Trains a tiny model `steps` Adam steps on its pairs (so its outputs are not near-uniform). */
function trainFew(setup: TinyTransformerSetup, steps: number): void {
  if (steps === 0) return;
  const params = setup.model.parameters();
  const opt = new Adam(params, { learningRate: 0.01 });
  const idx = setup.examples.map((_, i) => i);
  for (let s = 0; s < steps; s++) {
    clearTape();
    opt.zeroGrad();
    setup.model.forward(makeBatch(setup.examples, idx)).loss.backward();
    clipGradNorm(params, 1);
    opt.update();
  }
  clearTape();
}

/** Rows `index` of a tensor along axis 0 (any element type): the contract's reordering of state and constants. */
function gatherRows(t: OrtTensor, index: ArrayLike<number>): OrtTensor {
  const rowSize = t.dims.slice(1).reduce((a, b) => a * b, 1);
  const data = t.data as Float32Array | BigInt64Array | Uint8Array;
  const Ctor = data.constructor as { new (n: number): Float32Array | BigInt64Array | Uint8Array };
  const out = new Ctor(index.length * rowSize);
  for (let i = 0; i < index.length; i++) (out as Float32Array).set((data as Float32Array).subarray(index[i] * rowSize, (index[i] + 1) * rowSize), i * rowSize);
  return new ort.Tensor(t.type as 'float32', out as Float32Array, [index.length, ...t.dims.slice(1)]);
}

interface Sessions {
  graphs: Pick<ExportedGraphs, 'contract'>;
  encoder: Session;
  decoder: Session;
}

async function sessionsFor(model: Transformer): Promise<Sessions> {
  const graphs = exportTransformerGraphs(model, EXPORT_OPTIONS);
  return { graphs, encoder: await loadSession(graphs.encoder), decoder: await loadSession(graphs.decoder) };
}

/** The decoder's non-token inputs after encoding, per the contract's state and constant links. */
async function encodeOnnx(s: Sessions, src: IdBatch): Promise<Record<string, OrtTensor>> {
  const B = src.lengths.length;
  const enc = await s.encoder.run({ src_ids: feed.int64(src.ids.subarray(0, B * src.maxLen), [B, src.maxLen]), src_lengths: feed.int64(src.lengths, [B]) });
  const inputs: Record<string, OrtTensor> = {};
  for (const link of s.graphs.contract.decoder.state) inputs[link.input] = enc[link.initial];
  for (const link of s.graphs.contract.decoder.constants) inputs[link.input] = enc[link.from];
  return inputs;
}

/**
 * Greedy decoding with s2s and ONNX side by side: the same tokens go into both, logits and attention
 * are compared at every step, finished rows leave both batches (selectState / Gather on axis 0).
 * Before `minLength` tokens an EOS is replaced by another token (the same in both), so rows run on.
 * Returns the token sequences and the largest differences seen.
 */
async function lockstep(s: Sessions, model: Transformer, src: IdBatch, maxLength: number, minLength = 0): Promise<{ ids: number[][]; logitDiff: number; attentionDiff: number; steps: number }> {
  const B = src.lengths.length;
  let onnxState = await encodeOnnx(s, src);
  let state: TransformerState = noGrad(() => model.encode(src));
  let rows = Int32Array.from({ length: B }, (_, i) => i);
  let tokens = new Int32Array(B).fill(BOS_ID);
  const out: number[][] = Array.from({ length: B }, () => []);
  let logitDiff = 0, attentionDiff = 0, steps = 0;
  for (let step = 0; step <= maxLength && rows.length > 0; step++, steps++) {
    const r = noGrad(() => model.decodeStep(tokens, state));
    const o = await s.decoder.run({ ...onnxState, tokens: feed.int64(tokens, [tokens.length]) });
    assert.deepEqual(o.logits.dims, [rows.length, model.config.tgtVocabSize]);
    logitDiff = Math.max(logitDiff, maxAbsDiff(floats(o.logits), r.logits.data));
    attentionDiff = Math.max(attentionDiff, maxAbsDiff(floats(o.attention), (r.attention as Tensor).data));
    const { ids } = argmaxRows(r.logits);
    const onnxIds = argmaxRows({ data: floats(o.logits), rows: rows.length, cols: model.config.tgtVocabSize } as Tensor).ids;
    assert.deepEqual(Array.from(onnxIds), Array.from(ids), `step ${step}: the same argmax tokens`);
    if (step < minLength) for (let i = 0; i < ids.length; i++) if (ids[i] === EOS_ID) ids[i] = EOS_ID + 1;
    const next: Record<string, OrtTensor> = { ...onnxState };
    for (const link of s.graphs.contract.decoder.state) next[link.input] = o[link.next];
    const keep: number[] = [];
    for (let i = 0; i < rows.length; i++) {
      if (ids[i] === EOS_ID) continue;
      if (step < maxLength) {
        out[rows[i]].push(ids[i]);
        keep.push(i);
      }
    }
    const idx = Int32Array.from(keep);
    state = noGrad(() => model.selectState(r.state, idx));
    for (const k of Object.keys(next)) next[k] = gatherRows(next[k], idx);
    onnxState = next;
    tokens = idx.map((i) => ids[i]);
    rows = idx.map((i) => rows[i]);
  }
  return { ids: out, logitDiff, attentionDiff, steps };
}

/** A padded source batch of the first `n` examples (length-sorted as the Translator does). */
function sourceBatch(setup: TinyTransformerSetup, which: number[]): IdBatch {
  const b = makeSourceBatch(which.map((i) => setup.examples[i].src));
  return { ids: b.srcIds, lengths: b.srcLengths, maxLen: b.srcMaxLen };
}

const CONFIGS: { name: string; model: Partial<ModelConfig>; train: number }[] = [
  { name: 'pre-LN, ReLU, sinusoidal, untied, 1+1', model: {}, train: 0 },
  { name: 'post-LN, GELU, learned, tied, 2+2', model: { postNorm: true, activation: 'gelu', positions: 'learned', tieEmbeddings: true, layers: 2 }, train: 80 },
  { name: 'pre-LN, GELU, sinusoidal, tied, 2 enc + 1 dec', model: { activation: 'gelu', tieEmbeddings: true, encoderLayers: 2, decoderLayers: 1 }, train: 80 },
  { name: 'post-LN, ReLU, learned, untied, 1 enc + 2 dec, 4 heads', model: { postNorm: true, positions: 'learned', encoderLayers: 1, decoderLayers: 2, modelDim: 16, heads: 4, ffDim: 24 }, train: 80 },
];

const NOVEL = ['I am happy.', 'The cat is not hungry?', 'We see the big dog.', 'x'];

for (const c of CONFIGS) {
  test(`Transformer ONNX export = s2s: ${c.name}`, async (t) => {
    const setup = tinyTransformer(24, c.model, 5);
    trainFew(setup, c.train);
    const dir = mkdtempSync(join(tmpdir(), 's2s-onnx-transformer-'));
    try {
      const result = exportOnnx(transformerBundleParts(setup), dir);
      assert.deepEqual(result.files, [...ONNX_EXPORT_FILES]);
      const encBytes = readFileSync(join(dir, 'encoder.onnx')), decBytes = readFileSync(join(dir, 'decoder_step.onnx'));
      checkModelHeader(encBytes);
      checkModelHeader(decBytes);
      const [enc, dec] = await Promise.all([loadSession(encBytes), loadSession(decBytes)]);
      const contract = readContract(dir);

      const texts = [...setup.pairs.slice(0, 5).map((p) => p.source), ...NOVEL];
      const sources = texts.map((x) => setup.vocabs.source.encode(setup.tokenizers.source.tokenize(x)).ids);
      const src = idBatch(sources);
      const onnx = { contract, encoder: enc, decoder: dec };
      const { got, worst } = await assertGreedyEqualsS2s(setup.model, onnx, texts, sources, MAX_LENGTH, TOL);
      t.diagnostic(`output lengths ${got.ids.map((x) => x.length).join(' ')}; max |Δlogit| over every step ${worst.toExponential(2)}`);
      if (c.train > 0) {
        assert.ok(got.finished.filter(Boolean).length >= 3, 'several outputs end with EOS (rows leave the batch at different steps)');
        assert.ok(new Set(got.ids.map((ids) => ids.join(','))).size > 2, 'outputs differ between sentences');
      }
      await assertAloneEqualsBatch(onnx, texts, sources, got, MAX_LENGTH);
      // s2s's beam search over the ONNX graphs: beams expand, reorder and finish through Gathers on the caches.
      await assertBeamOverOnnx(dir, setup.model, texts, sources, MAX_LENGTH);

      // The attention output, stepping s2s and the graphs side by side.
      const side = await lockstep({ graphs: { contract: result.contract }, encoder: enc, decoder: dec }, setup.model, src, MAX_LENGTH);
      assert.ok(side.attentionDiff < TOL, `attention within ${TOL} (${side.attentionDiff})`);
      assert.deepEqual(side.ids, got.ids);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('Transformer ONNX export: sources and outputs longer than the learned positions reuse the last one, as in s2s', async () => {
  // Untrained: s2s refuses to train on sequences longer than its positions.
  const setup = tinyTransformer(8, { positions: 'learned', maxPositions: 10, encoderLayers: 2, decoderLayers: 1 }, 5);
  const s = await sessionsFor(setup.model);
  const src = sourceBatch(setup, [0, 1, 2, 3]);
  assert.ok(src.maxLen > 10, 'a source longer than the positions');
  const r = await lockstep(s, setup.model, src, 20, 20);
  assert.equal(r.steps, 21, 'outputs past the positions');
  assert.ok(r.logitDiff < TOL, `logits differ by ${r.logitDiff}`);
  assert.ok(r.attentionDiff < TOL, `attention differs by ${r.attentionDiff}`);
});

test('Transformer ONNX export: a row with no source tokens attends to nothing, as in s2s (zeros, finite)', async () => {
  const setup = tinyTransformer(4, { activation: 'gelu' }, 5);
  trainFew(setup, 20);
  const s = await sessionsFor(setup.model);
  const src = sourceBatch(setup, [0, 1]);
  const ids = new Int32Array(3 * src.maxLen);
  ids.set(src.ids);
  const withEmpty: IdBatch = { ids, lengths: Int32Array.of(src.lengths[0], src.lengths[1], 0), maxLen: src.maxLen };
  const r = await lockstep(s, setup.model, withEmpty, 10);
  assert.ok(r.logitDiff < TOL, `logits differ by ${r.logitDiff}`);
  const alone = await lockstep(s, setup.model, sourceBatch(setup, [0, 1]), 10);
  assert.deepEqual(r.ids.slice(0, 2), alone.ids, 'the empty row changes nothing for the others');
});

test('s2s export-onnx on a saved Transformer bundle: the files, and a README with every tensor and the caches explained', () => {
  const setup = tinyTransformer(6, { layers: 2, positions: 'learned' }, 5);
  const dir = mkdtempSync(join(tmpdir(), 's2s-onnx-transformer-cli-'));
  try {
    saveBundle(join(dir, 'model'), transformerBundleParts(setup));
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const run = spawnSync(process.execPath, [join(root, 'bin', 's2s.js'), 'export-onnx', '--model', join(dir, 'model'), '--out', join(dir, 'onnx')], { encoding: 'utf8', cwd: root, timeout: 120_000 });
    assert.equal(run.status, 0, run.stderr);
    for (const f of ONNX_EXPORT_FILES) assert.ok(existsSync(join(dir, 'onnx', f)), f);
    const contract = JSON.parse(readFileSync(join(dir, 'onnx', 'model.json'), 'utf8')) as OnnxContract;
    assert.equal(contract.config.arch, 'transformer');
    assert.deepEqual(contract.decoder.state.map((s) => s.input), ['self_key_0', 'self_value_0', 'self_key_1', 'self_value_1']);
    assert.deepEqual(contract.decoder.constants.map((s) => s.input), ['src_mask', 'cross_key_0', 'cross_value_0', 'cross_key_1', 'cross_value_1']);
    const readme = readFileSync(join(dir, 'onnx', 'README.md'), 'utf8');
    for (const t of [...contract.encoder.inputs, ...contract.encoder.outputs, ...contract.decoder.inputs, ...contract.decoder.outputs]) {
      assert.ok(readme.includes(`| \`${t.name}\` | ${t.type} |`), `README row for ${t.name}`);
    }
    assert.match(readme, /## The Transformer's state/);
    assert.match(readme, /Gather axis 0 of every `next_self_\*`/);
    assert.match(readme, /Positions are learned \(64 of them\)/);
    // Standard ai.onnx operators only (what ONNX Runtime, Triton's ORT backend or onnxruntime-web run), no contrib domain.
    const ops = new Set<string>();
    for (const f of ['encoder.onnx', 'decoder_step.onnx']) {
      for (const node of decodeModel(readFileSync(join(dir, 'onnx', f))).graph.node) {
        assert.equal(node.domain ?? '', '', `${f}: ${node.opType} is in the ai.onnx domain`);
        ops.add(node.opType);
      }
    }
    const allowed = ['Add', 'Concat', 'Erf', 'Gather', 'Gemm', 'Identity', 'LayerNormalization', 'Less', 'MatMul', 'Min', 'Mul', 'Range', 'ReduceMean', 'Relu', 'Reshape', 'Shape', 'Slice', 'Softmax', 'Split', 'Squeeze', 'Transpose', 'Unsqueeze', 'Where'];
    assert.deepEqual([...ops].filter((o) => !allowed.includes(o)), [], 'only the expected standard operators');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// An int8 bundle (s2s quantize) of a Transformer: INT8 initializers + DequantizeLinear, = s2s on the dequantized weights.
for (const c of [
  { name: 'pre-LN, GELU, learned positions, tied, 2+2', model: { activation: 'gelu', positions: 'learned', tieEmbeddings: true, layers: 2 } as Partial<ModelConfig>, train: 80 },
  { name: 'post-LN, ReLU, sinusoidal, untied, 1 enc + 2 dec, 4 heads', model: { postNorm: true, encoderLayers: 1, decoderLayers: 2, modelDim: 16, heads: 4, ffDim: 24 } as Partial<ModelConfig>, train: 80 },
]) {
  test(`Transformer ONNX export of an int8 bundle = s2s on its dequantized weights: ${c.name}`, async (t) => {
    const setup = tinyTransformer(24, c.model, 5);
    trainFew(setup, c.train);
    const texts = [...setup.pairs.map((p) => p.source), ...NOVEL];
    const sources = texts.map((x) => setup.vocabs.source.encode(setup.tokenizers.source.tokenize(x)).ids);
    await checkInt8Export(t, transformerBundleParts(setup), texts, sources, MAX_LENGTH);
  });
}
