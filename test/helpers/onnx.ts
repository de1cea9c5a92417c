/**
 * Running exported graphs in onnxruntime-node (the CPU build in its npm
 * package): a session with every graph optimisation on (what a deployment
 * uses; a graph ORT cannot optimise or type-check fails here), one thread so
 * tests stay frugal and repeatable, and the checks an `onnx.checker` run
 * would make of the model's header.
 */
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { decodeModel, OPSET, IR_VERSION, PRODUCER } from '../../src/onnx/index.js';
import type { PlainTensor, Runner } from './onnx-decode.js';

export type Session = ort.InferenceSession;
export type OrtTensor = ort.Tensor;

/**
 * ONNX Runtime's session config for the MatMulNBits it fuses DequantizeLinear → MatMul into (int8 exports,
 * optimisation level 'extended' and up): '1' computes in float32 on the dequantized weights (what the graph
 * says), ORT's default '4' quantizes the activations to int8 too (faster; results move by ~1e-3).
 */
export const FLOAT_MATMUL_NBITS = { session: { qdq_matmulnbits_accuracy_level: '1' } };

/** A session over a model (bytes or a file path), graph optimisations 'all', one intra-op thread, optional session config entries. */
export async function loadSession(model: Uint8Array | string, threads = 1, extra?: Record<string, unknown>): Promise<Session> {
  const options: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', ...(extra ? { extra } : {}) };
  return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}

/** The header checks of a model: opset ≥ 17 for ai.onnx, IR version recorded, producer s2s; returns them. */
export function checkModelHeader(bytes: Uint8Array): { opset: number; irVersion: number; producer: string } {
  const m = decodeModel(bytes);
  const ai = m.opsetImport.find((o) => (o.domain ?? '') === '');
  assert.ok(ai, 'the model imports the ai.onnx opset');
  assert.ok(Number(ai.version) >= 17, `opset ${ai.version} ≥ 17`);
  assert.equal(Number(m.irVersion), IR_VERSION);
  assert.equal(Number(ai.version), OPSET);
  assert.equal(m.producerName, PRODUCER);
  return { opset: Number(ai.version), irVersion: Number(m.irVersion), producer: m.producerName };
}

export const feed = {
  float: (data: Float32Array | number[], dims: number[]): OrtTensor => new ort.Tensor('float32', Float32Array.from(data), dims),
  int64: (data: ArrayLike<number>, dims: number[]): OrtTensor => new ort.Tensor('int64', BigInt64Array.from(Array.from(data), (x) => BigInt(x)), dims),
  bool: (data: ArrayLike<number | boolean>, dims: number[]): OrtTensor => new ort.Tensor('bool', Uint8Array.from(Array.from(data), (x) => (x ? 1 : 0)), dims),
};

/** Runs a session; every output as a plain { data, dims } (float outputs as Float32Array). */
export async function run(session: Session, feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>> {
  return session.run(feeds);
}

/** A float output's data. */
export function floats(t: OrtTensor): Float32Array {
  assert.equal(t.type, 'float32');
  return t.data as Float32Array;
}

/** The largest absolute difference of two float arrays of equal length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A contract Runner (onnx-decode.ts) over a session: plain tensors in, plain tensors out. */
export function runner(session: Session): Runner {
  return async (feeds) => {
    const f: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(feeds)) f[k] = new ort.Tensor(t.type, t.data as Float32Array, [...t.dims]);
    const out = await session.run(f);
    const plain: Record<string, PlainTensor> = {};
    for (const [k, t] of Object.entries(out)) plain[k] = { type: t.type as PlainTensor['type'], data: t.data as PlainTensor['data'], dims: t.dims };
    return plain;
  };
}
