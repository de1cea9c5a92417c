/**
 * The tape-free incremental decoder step (transformer-step.ts, stepMode
 * 'fused') against the same step through the autodiff ops ('tape'), on
 * float32 and int8 weights, the TypeScript and the native kernels: the
 * logits of every step agree, across a beam-style reordering (rows
 * repeated and dropped) and a stale state stepped again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, setKernels, loadNativeKernels, kernels, type Kernels } from '../src/engine/index.js';
import { quantizeModel } from '../src/bundle/quantize.js';
import type { Transformer } from '../src/model/transformer.js';
import type { ModelConfig } from '../src/model/config.js';
import { tinyTransformer } from './helpers/tiny-transformer.js';

/** Relative to the step's largest logit. Float32: the two paths order their sums differently. */
const FLOAT_RTOL = 1e-4;
/**
 * int8: both paths quantize the same activations with the same kernel, but
 * a value a rounding error away from a quantization boundary can land one
 * int8 step apart (1/127 of that row's largest value, on one element).
 */
const INT8_RTOL = 2e-3;

const CONFIGS: [string, Partial<ModelConfig>][] = [
  ['pre-LN, untied, sinusoidal positions, 2 blocks', { modelDim: 16, heads: 2, ffDim: 32, layers: 2 }],
  ['tied embeddings, learned positions, GELU', { modelDim: 16, heads: 4, ffDim: 32, tieEmbeddings: true, positions: 'learned', activation: 'gelu' }],
  ['post-LN, 2 + 1 blocks', { modelDim: 16, heads: 2, ffDim: 24, postNorm: true, encoderLayers: 2, decoderLayers: 1 }],
];

/** Per step: logits of 3 sentences for 3 steps, then rows [2, 0, 0] (a beam's reordering), 3 more steps, then the pre-reorder state again. */
function trace(model: Transformer): Float32Array[] {
  return noGrad(() => {
    const ids = Int32Array.of(4, 5, 6, 7, 8, 5, 6, 0, 0, 0, 7, 8, 9, 10, 0);
    let state = model.encode({ ids, lengths: Int32Array.of(5, 3, 4), maxLen: 5 });
    const out: Float32Array[] = [];
    let tokens = Int32Array.of(1, 1, 1);
    for (let t = 0; t < 3; t++) {
      const r = model.decodeStep(tokens, state);
      out.push(r.logits.data.slice(), r.attention ? r.attention.data.slice() : new Float32Array(0));
      state = r.state;
      tokens = Int32Array.of(3 + t, 4 + t, 5 + t);
    }
    const before = state;
    state = model.selectState(state, Int32Array.of(2, 0, 0));
    for (let t = 0; t < 3; t++) {
      const r = model.decodeStep(tokens, state);
      out.push(r.logits.data.slice());
      state = r.state;
      tokens = Int32Array.of(6 + t, 7, 8 - t);
    }
    // A state older than the session's newest (what a beam keeps around) still steps as itself.
    out.push(model.decodeStep(Int32Array.of(9, 9, 9), before).logits.data.slice());
    return out;
  });
}

function assertClose(actual: Float32Array[], expected: Float32Array[], rtol: number, label: string): void {
  assert.equal(actual.length, expected.length);
  expected.forEach((e, t) => {
    assert.equal(actual[t].length, e.length, `${label}: output ${t} length`);
    const scale = Math.max(1e-6, e.reduce((m, v) => Math.max(m, Math.abs(v)), 0));
    for (let i = 0; i < e.length; i++) {
      const err = Math.abs(actual[t][i] - e[i]) / scale;
      assert.ok(err <= rtol, `${label}: output ${t}[${i}]: ${actual[t][i]} vs ${e[i]} (relative ${err.toExponential(2)})`);
    }
  });
}

function compareModes(model: Transformer, rtol: number, label: string): void {
  model.stepMode = 'tape';
  const tape = trace(model);
  model.stepMode = 'fused';
  const fused = trace(model);
  const state = noGrad(() => model.encode({ ids: Int32Array.of(4, 5), lengths: Int32Array.of(2), maxLen: 2 })) as { kind: string };
  assert.equal(state.kind, 'incremental', `${label}: the fused step runs`);
  assertClose(fused, tape, rtol, label);
}

const native = loadNativeKernels();
const KERNEL_SETS: [string, Kernels | 'js' | null][] = [['js', 'js'], ['native', native]];

for (const [kernelName, set] of KERNEL_SETS) {
  for (const [label, config] of CONFIGS) {
    test(`fused step = tape step (${kernelName}, float32 and int8): ${label}`, { skip: set ? false : 'native addon not built' }, () => {
      const before = kernels();
      try {
        setKernels(set as Kernels | 'js');
        const { model } = tinyTransformer(24, config);
        compareModes(model, FLOAT_RTOL, `${kernelName} float32 ${label}`);
        quantizeModel(model);
        assert.ok(model.parameters().some((p) => p.int8), 'the model is quantized');
        compareModes(model, INT8_RTOL, `${kernelName} int8 ${label}`);
      } finally {
        setKernels(before);
      }
    });
  }
}
