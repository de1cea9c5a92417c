/**
 * The checks every ONNX export test makes of an exported folder against the
 * s2s model it came from (any architecture: the model is only a
 * TranslationModel/StepModel here):
 *   - greedy decoding over the contract (onnx-decode.ts) gives s2s's greedy
 *     tokens, and its logits are within a tolerance of s2s's at every step
 *     (s2s teacher-forced on the ONNX outputs);
 *   - each sentence decoded alone gives what it gives in the batch;
 *   - s2s's own beam search run over the graphs (onnx-sync.ts) gives s2s's n-best lists.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BundleParts } from '../../src/bundle/format.js';
import { quantizeParts } from '../../src/bundle/quantize.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { BOS_ID } from '../../src/data/vocab.js';
import { noGrad, dequantize } from '../../src/engine/index.js';
import { decodeModel, DataType } from '../../src/onnx/index.js';
import { greedyDecode } from '../../src/decode/greedy.js';
import { beamSearch, type StepModel } from '../../src/decode/beam.js';
import type { IdBatch, TranslationModel } from '../../src/model/model.js';
import { loadSession, maxAbsDiff, runner, FLOAT_MATMUL_NBITS, type Session } from './onnx.js';
import { greedy, readContract, type Contract, type GreedyResult } from './onnx-decode.js';
import { SyncOnnxModel } from './onnx-sync.js';

/** Source id rows as a padded IdBatch (in the given order). */
export function idBatch(sources: readonly Int32Array[]): IdBatch {
  const maxLen = Math.max(...sources.map((s) => s.length));
  const ids = new Int32Array(sources.length * maxLen);
  sources.forEach((s, b) => ids.set(s, b * maxLen));
  return { ids, lengths: Int32Array.from(sources, (s) => s.length), maxLen };
}

/** s2s's logits at every step of the given outputs (teacher-forced on them), per sentence. */
export function s2sStepLogits<S>(model: StepModel<S>, src: IdBatch, outputs: number[][], steps: number[]): Float32Array[][] {
  return noGrad(() => {
    const result: Float32Array[][] = outputs.map(() => []);
    let state = model.encode(src);
    for (let t = 0; t < Math.max(...steps); t++) {
      // Rows that have ended are fed BOS: rows never influence each other.
      const tokens = Int32Array.from(outputs, (o) => (t === 0 ? BOS_ID : (o[t - 1] ?? BOS_ID)));
      const r = model.decodeStep(tokens, state);
      const V = r.logits.cols;
      outputs.forEach((_, b) => { if (t < steps[b]) result[b].push(r.logits.data.slice(b * V, (b + 1) * V)); });
      state = r.state;
    }
    return result;
  });
}

export interface OnnxPair {
  contract: Contract;
  encoder: Session;
  decoder: Session;
}

/**
 * Greedy decoding over the graphs = s2s's greedyDecode of `model` (tokens, finished, log-prob within 1e-3),
 * logits within `tolerance` at every step. Returns the ONNX result and the largest logit difference.
 */
export async function assertGreedyEqualsS2s<S>(model: TranslationModel<S>, onnx: OnnxPair, texts: readonly string[], sources: readonly Int32Array[], maxLength: number, tolerance = 1e-4): Promise<{ got: GreedyResult; worst: number }> {
  const src = idBatch(sources);
  const ref = greedyDecode(model, src, { maxLength });
  const got = await greedy(onnx.contract, runner(onnx.encoder), runner(onnx.decoder), sources.map((s) => Array.from(s)), { maxLength, recordLogits: true });
  ref.forEach((h, i) => {
    assert.deepEqual(got.ids[i], Array.from(h.ids), `tokens of "${texts[i]}"`);
    assert.equal(got.finished[i], h.finished, `finished, "${texts[i]}"`);
    assert.ok(Math.abs(got.logProb[i] - h.logProb) < 1e-3, `log-prob of "${texts[i]}": ${got.logProb[i]} vs ${h.logProb}`);
  });
  const steps = got.steps as Float32Array[][];
  const expected = s2sStepLogits(model, src, got.ids, steps.map((s) => s.length));
  let worst = 0;
  steps.forEach((rows, i) => rows.forEach((row, t) => (worst = Math.max(worst, maxAbsDiff(row, expected[i][t])))));
  assert.ok(worst < tolerance, `logits within ${tolerance} at every step (worst ${worst})`);
  return { got, worst };
}

/** Each sentence decoded alone gives its tokens in the batch `batch`, logits within `tolerance` (default 1e-5) of the batch's. */
export async function assertAloneEqualsBatch(onnx: OnnxPair, texts: readonly string[], sources: readonly Int32Array[], batch: GreedyResult, maxLength: number, tolerance = 1e-5): Promise<void> {
  const steps = batch.steps as Float32Array[][];
  for (let i = 0; i < sources.length; i++) {
    const alone = await greedy(onnx.contract, runner(onnx.encoder), runner(onnx.decoder), [Array.from(sources[i])], { maxLength, recordLogits: true });
    assert.deepEqual(alone.ids[0], batch.ids[i], `"${texts[i]}" alone`);
    const d = Math.max(...(alone.steps as Float32Array[][])[0].map((row, t) => maxAbsDiff(row, steps[i][t])));
    assert.ok(d < tolerance, `"${texts[i]}" alone: logits within ${tolerance} of the batch's (${d})`);
  }
}

/** s2s's beam search over the exported graphs in `dir` gives the n-best lists it gives over `model`. */
export async function assertBeamOverOnnx<S>(dir: string, model: StepModel<S>, texts: readonly string[], sources: readonly Int32Array[], maxLength: number): Promise<void> {
  const src = idBatch(sources);
  const sync = new SyncOnnxModel(dir);
  try {
    const opts = { beamSize: 4, maxLength, nBest: 3 };
    const beamRef = beamSearch(model, src, opts);
    const beamGot = beamSearch(sync, src, opts);
    beamRef.forEach((list, i) => {
      assert.deepEqual(beamGot[i].map((h) => Array.from(h.ids)), list.map((h) => Array.from(h.ids)), `n-best of "${texts[i]}"`);
      list.forEach((h, k) => assert.ok(Math.abs(beamGot[i][k].score - h.score) < 1e-3, `score ${k} of "${texts[i]}"`));
    });
  } finally {
    await sync.close();
  }
}

/** Replaces every int8 parameter of `model` by its dequantized float32 values (int8 × scale): the model an int8 export computes. */
export function dequantizeInPlace(model: TranslationModel): void {
  for (const p of model.parameters()) {
    if (!p.int8) continue;
    (p as { data: Float32Array }).data = dequantize(p);
    p.int8 = null;
  }
}

export interface Int8GraphStats {
  dequantizeNodes: number;
  int8Initializers: number;
  int8Bytes: number;
  floatBytes: number;
}

/**
 * Asserts that a graph of an int8 export stores its weights as INT8 initializers expanded by per-axis
 * DequantizeLinear nodes (int8 values, a float scale vector, an int8 zero point of zeros, an axis), and
 * that every INT8 initializer is read by one of them.
 */
export function assertInt8Graph(bytes: Uint8Array, file: string): Int8GraphStats {
  const g = decodeModel(bytes).graph;
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const dq = g.node.filter((n) => n.opType === 'DequantizeLinear');
  assert.ok(dq.length > 0, `${file}: DequantizeLinear nodes`);
  const read = new Set<string>();
  for (const n of dq) {
    const [x, scale, zero] = n.input.map((i) => inits.get(i));
    assert.ok(x && scale && zero, `${file}: ${n.name} reads initializers`);
    assert.equal(x.dataType, DataType.int8, `${file}: ${n.name} dequantizes an INT8 tensor`);
    assert.equal(scale.dataType, DataType.float);
    assert.equal(zero.dataType, DataType.int8);
    assert.ok(zero.rawData.every((b) => b === 0), 'zero point 0 (symmetric)');
    const axis = n.attribute.find((a) => a.name === 'axis');
    assert.ok(axis, `${file}: ${n.name} has an axis (per-axis scales)`);
    assert.equal(Number(scale.dims[0]), Number(x.dims[Number(axis.i ?? 0)]), `${file}: ${n.name}: one scale per index of axis ${axis.i ?? 0}`);
    read.add(x.name);
  }
  const int8 = g.initializer.filter((t) => t.dataType === DataType.int8 && !/^zero_point/.test(t.name));
  assert.ok(int8.length > 0, `${file}: INT8 initializers`);
  for (const t of int8) assert.ok(read.has(t.name), `${file}: ${t.name} feeds a DequantizeLinear`);
  const bytesOf = (ts: typeof g.initializer): number => ts.reduce((n, t) => n + (t.rawData?.length ?? 0), 0);
  return { dequantizeNodes: dq.length, int8Initializers: int8.length, int8Bytes: bytesOf(int8), floatBytes: bytesOf(g.initializer.filter((t) => t.dataType === DataType.float)) };
}

/** How many outputs of two decodings are the same token sequence. */
export function agreement(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): number {
  return a.filter((ids, i) => ids.length === b[i].length && ids.every((x, k) => x === b[i][k])).length;
}

export interface Int8ExportCheck {
  /** Bytes of encoder.onnx + decoder_step.onnx, float32 export and int8 export. */
  floatOnnxBytes: number;
  int8OnnxBytes: number;
  /** Outputs of the ONNX int8 export equal to s2s's own int8 translation (activations quantized per row), of `sources.length`. */
  sameAsS2sInt8: number;
  worstLogitDiff: number;
  /** The same with ORT's default session config (its fused MatMulNBits computing in int8): vs s2s int8, vs the dequantized float32. */
  ortDefaultSameAsS2sInt8: number;
  ortDefaultSameAsFloat: number;
}

/**
 * The int8 export of a bundle (`parts`, float32; quantized here in place): the graphs hold INT8
 * initializers with DequantizeLinear, load with every optimisation on, and decode greedily exactly as s2s
 * does with the same int8 weights dequantized to float32 (tokens equal, logits within 1e-4 at every step,
 * alone = batch). How often they agree with s2s's own int8 inference, which also quantizes activations,
 * is measured and returned, not asserted.
 */
export async function checkInt8Export(t: TestContext, parts: BundleParts, texts: readonly string[], sources: readonly Int32Array[], maxLength: number): Promise<Int8ExportCheck> {
  const dir = mkdtempSync(join(tmpdir(), 's2s-onnx-int8-'));
  try {
    const onnxBytes = (d: string): number => ['encoder.onnx', 'decoder_step.onnx'].reduce((n, f) => n + statSync(join(d, f)).size, 0);
    exportOnnx(parts, join(dir, 'float'));
    assert.equal(readContract(join(dir, 'float')).weights, 'float32');
    const floatOnnxBytes = onnxBytes(join(dir, 'float'));
    quantizeParts(parts);
    const out = join(dir, 'int8');
    exportOnnx(parts, out);
    const int8OnnxBytes = onnxBytes(out);
    const contract = readContract(out);
    assert.equal(contract.weights, 'int8', 'model.json records int8 weights');
    assert.match(readFileSync(join(out, 'README.md'), 'utf8'), /int8 weights[^]*INT8 initializer[^]*DequantizeLinear/);
    const encBytes = readFileSync(join(out, 'encoder.onnx')), decBytes = readFileSync(join(out, 'decoder_step.onnx'));
    const stats = [assertInt8Graph(encBytes, 'encoder.onnx'), assertInt8Graph(decBytes, 'decoder_step.onnx')];
    // Initializer bytes: int8 values are a quarter of float32; what stays float32 is small (biases, norms, scales, sinusoids).
    const floatWeights = ['encoder.onnx', 'decoder_step.onnx'].reduce((n, f) => n + decodeModel(readFileSync(join(dir, 'float', f))).graph.initializer.reduce((m, x) => m + x.rawData.length, 0), 0);
    const int8Weights = stats.reduce((n, s) => n + s.int8Bytes + s.floatBytes, 0);
    t.diagnostic(`.onnx bytes: float32 export ${floatOnnxBytes}, int8 export ${int8OnnxBytes} (${(int8OnnxBytes / floatOnnxBytes).toFixed(3)}×); initializers ${floatWeights} → ${int8Weights} (${(int8Weights / floatWeights).toFixed(3)}×); DequantizeLinear nodes ${stats.map((s) => s.dequantizeNodes).join(' + ')}`);
    assert.ok(int8OnnxBytes < floatOnnxBytes, 'the int8 export is smaller');
    assert.ok(int8Weights < 0.5 * floatWeights, `int8 export initializers ${int8Weights} B < half the float32 export's ${floatWeights} B`);

    // Float32 compute on the dequantized weights (ORT would otherwise fuse DequantizeLinear → MatMul into an int8-compute MatMulNBits).
    const [encoder, decoder] = await Promise.all([loadSession(encBytes, 1, FLOAT_MATMUL_NBITS), loadSession(decBytes, 1, FLOAT_MATMUL_NBITS)]);
    const onnx = { contract, encoder, decoder };
    // ORT's defaults: int8 compute in its fused MatMulNBits.
    const [encoderDefault, decoderDefault] = await Promise.all([loadSession(encBytes), loadSession(decBytes)]);
    const ortDefault = (await greedy(contract, runner(encoderDefault), runner(decoderDefault), sources.map((s) => Array.from(s)), { maxLength })).ids;
    const s2sInt8 = greedyDecode(parts.model, idBatch(sources), { maxLength }).map((h) => Array.from(h.ids));
    dequantizeInPlace(parts.model);
    const { got, worst } = await assertGreedyEqualsS2s(parts.model, onnx, texts, sources, maxLength);
    // ORT's fused int8-weight MatMul (MatMulNBits) sums in another order for one row than for many: the tolerance of two shapes.
    await assertAloneEqualsBatch(onnx, texts, sources, got, maxLength, 1e-4);
    const sameAsS2sInt8 = agreement(got.ids, s2sInt8);
    const ortDefaultSameAsS2sInt8 = agreement(ortDefault, s2sInt8), ortDefaultSameAsFloat = agreement(ortDefault, got.ids);
    t.diagnostic(`max |Δlogit| vs s2s on the dequantized weights ${worst.toExponential(2)}; same tokens as s2s's own int8 inference: ${sameAsS2sInt8}/${sources.length}`);
    t.diagnostic(`ORT default session (int8-compute MatMulNBits): same tokens as s2s int8 ${ortDefaultSameAsS2sInt8}/${sources.length}, as the dequantized float32 ${ortDefaultSameAsFloat}/${sources.length}`);
    return { floatOnnxBytes, int8OnnxBytes, sameAsS2sInt8, worstLogitDiff: worst, ortDefaultSameAsS2sInt8, ortDefaultSameAsFloat };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
