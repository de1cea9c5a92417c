/**
 * The Transformer's ONNX export (src/onnx/transformer.ts) run in
 * onnxruntime-node with every graph optimisation on: for tiny seeded
 * Transformers in several configs (pre-/post-LN, ReLU/GELU,
 * sinusoidal/learned positions, tied/untied embeddings, 1–2 blocks, unequal
 * encoder and decoder depths), some trained a few steps on the built-in
 * corpus, the graphs step in lockstep with s2s's KV-cached decoder (logits and
 * attention within 1e-4 at every step, rows dropped as they finish — the
 * contract's Gather on axis 0), greedy token sequences equal s2s's, a
 * sentence decodes the same alone or in a batch, and the headers record
 * opset and IR version.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { noGrad, Adam, clipGradNorm, clearTape, type Tensor } from '../src/engine/index.js';
import { makeBatch, makeSourceBatch } from '../src/data/batching.js';
import { BOS_ID, EOS_ID } from '../src/data/vocab.js';
import { greedyDecode, argmaxRows } from '../src/decode/greedy.js';
import type { Transformer, TransformerState } from '../src/model/transformer.js';
import type { IdBatch } from '../src/model/translation-model.js';
import type { ModelConfig } from '../src/model/config.js';
import { exportTransformerGraphs } from '../src/onnx/transformer.js';
import type { ExportedGraphs } from '../src/onnx/index.js';
import { tinyTransformer, type TinyTransformerSetup } from './helpers/tiny-transformer.js';
import { loadSession, checkModelHeader, feed, floats, maxAbsDiff, type Session, type OrtTensor } from './helpers/onnx.js';

const TOL = 1e-4;
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
  graphs: ExportedGraphs;
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

for (const c of CONFIGS) {
  test(`Transformer ONNX export steps with s2s (logits within ${TOL}, same greedy tokens): ${c.name}`, async (t) => {
    const setup = tinyTransformer(12, c.model, 5);
    trainFew(setup, c.train);
    const s = await sessionsFor(setup.model);
    for (const bytes of [s.graphs.encoder, s.graphs.decoder]) checkModelHeader(bytes);
    const which = Array.from({ length: 8 }, (_, i) => i);
    const src = sourceBatch(setup, which);
    const maxLength = 40;
    const r = await lockstep(s, setup.model, src, maxLength);
    t.diagnostic(`output lengths ${r.ids.map((x) => x.length).join(' ')}; ${r.steps} steps, max |Δlogit| ${r.logitDiff.toExponential(2)}, max |Δattention| ${r.attentionDiff.toExponential(2)}`);
    assert.ok(r.logitDiff < TOL, `logits differ by ${r.logitDiff}`);
    assert.ok(r.attentionDiff < TOL, `attention differs by ${r.attentionDiff}`);
    const greedy = greedyDecode(setup.model, src, { maxLength });
    assert.deepEqual(r.ids, greedy.map((h) => Array.from(h.ids)), 'the same greedy tokens as s2s');
    // Alone = in the batch: row 0 (longest) and the last row (shortest, most padding) decoded by themselves.
    for (const row of [0, which.length - 1]) {
      const len = src.lengths[row];
      const alone: IdBatch = { ids: src.ids.slice(row * src.maxLen, row * src.maxLen + len), lengths: Int32Array.of(len), maxLen: len };
      const a = await lockstep(s, setup.model, alone, maxLength);
      assert.deepEqual(a.ids[0], r.ids[row], `row ${row} alone`);
      assert.ok(a.logitDiff < TOL);
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
