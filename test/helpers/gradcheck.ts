/**
 * Test helpers for the compute core: seeded random tensors, a finite-difference
 * gradient checker and closeness assertions.
 *
 * The gradient check compares the tape's gradients with central differences.
 * The engine computes in float32, so the difference quotient uses the actual
 * float32 perturbation and accumulates the loss in float64. The loss is a
 * fixed random projection Σ_k Σ_i R_k[i]·out_k[i] of every output, so every
 * output element (and every output of a multi-output op) influences it. The
 * projection is attached to the tape with `record` directly, so the checker
 * does not depend on the ops it is checking.
 */
import assert from 'node:assert/strict';
import { Tensor, noGrad, record, clearTape, type Shape, shapeSize } from '../../src/engine/tensor.js';
import { kernels } from '../../src/engine/kernels/index.js';
import { Rng } from '../../src/engine/rng.js';

/** Name of the kernels the tests run on (S2S_KERNELS is honoured by kernels()). */
export function kernelName(): string {
  return kernels().name;
}

/** Uniform values in [lo, hi) from a seeded generator. */
export function randomData(rng: Rng, size: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.uniform(lo, hi);
  return out;
}

/** A seeded random tensor that requires grad. */
export function randomTensor(rng: Rng, shape: Shape, lo = -1, hi = 1, requiresGrad = true): Tensor {
  return new Tensor(randomData(rng, shapeSize(shape), lo, hi), shape, requiresGrad);
}

/** Uniform values in ±[lo, hi] (kept away from 0, for kinks such as relu's). */
export function awayFromZero(rng: Rng, size: number, lo = 0.1, hi = 1): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (rng.next() < 0.5 ? -1 : 1) * rng.uniform(lo, hi);
  return out;
}

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-2). */
  eps?: number;
  /** Relative tolerance (default 1e-2). */
  rtol?: number;
  /** Absolute floor (default 2e-3). */
  atol?: number;
  /** Seed for the output projection and for sub-sampling elements. */
  seed?: number;
  /** Check at most this many elements per input (random subset beyond). */
  maxChecks?: number;
  /** Indices of inputs whose gradient may legitimately be all zero. */
  allowZero?: number[];
}

export interface GradcheckReport {
  checked: number;
  maxAbsError: number;
  analytic: Float32Array[];
}

type Outputs = Tensor | Tensor[] | Record<string, Tensor>;

function outputList(o: Outputs): Tensor[] {
  if (o instanceof Tensor) return [o];
  if (Array.isArray(o)) return o;
  return Object.values(o);
}

/**
 * Checks d(loss)/d(input) for every input against central differences.
 * `fn` must recompute the outputs from the inputs' current data each call
 * (anything random inside it must be re-seeded per call).
 */
export function gradcheck(label: string, inputs: Tensor[], fn: () => Outputs, opts: GradcheckOptions = {}): GradcheckReport {
  const eps = opts.eps ?? 1e-2;
  const rtol = opts.rtol ?? 1e-2;
  const atol = opts.atol ?? 2e-3;
  const rng = new Rng(opts.seed ?? 1234);
  clearTape();
  for (const x of inputs) {
    x.requiresGrad = true;
    x.grad = null;
  }

  // Analytic gradients through the tape.
  const outs = outputList(fn());
  const proj = outs.map((o) => {
    const r = new Float64Array(o.size);
    for (let i = 0; i < r.length; i++) r[i] = rng.normal();
    return r;
  });
  const project = (os: Tensor[]): number => {
    let s = 0;
    os.forEach((o, k) => {
      const r = proj[k];
      for (let i = 0; i < r.length; i++) s += r[i] * o.data[i];
    });
    return s;
  };
  const loss = Tensor.scalar(project(outs));
  record(loss, () => {
    const g = loss.grad ? loss.grad[0] : 0;
    outs.forEach((o, k) => {
      if (!o.requiresGrad) return;
      const d = o.gradBuffer(), r = proj[k];
      for (let i = 0; i < d.length; i++) d[i] += g * r[i];
    });
  });
  loss.backward();
  const analytic = inputs.map((x) => (x.grad ? x.grad.slice() : new Float32Array(x.size)));

  // Numerical gradients.
  let checked = 0, maxAbsError = 0, worstRatio = 0;
  const failures: string[] = [];
  const evalLoss = (): number => noGrad(() => project(outputList(fn())));
  inputs.forEach((x, xi) => {
    let indices = Array.from({ length: x.size }, (_, i) => i);
    if (opts.maxChecks !== undefined && indices.length > opts.maxChecks) {
      rng.shuffle(indices);
      indices = indices.slice(0, opts.maxChecks).sort((a, b) => a - b);
    }
    let anyNonZero = false;
    for (const i of indices) {
      const orig = x.data[i];
      x.data[i] = orig + eps;
      const up = x.data[i];
      const fUp = evalLoss();
      x.data[i] = orig - eps;
      const down = x.data[i];
      const fDown = evalLoss();
      x.data[i] = orig;
      const numeric = (fUp - fDown) / (up - down);
      const a = analytic[xi][i];
      if (a !== 0) anyNonZero = true;
      const err = Math.abs(a - numeric);
      maxAbsError = Math.max(maxAbsError, err);
      worstRatio = Math.max(worstRatio, err / (atol + rtol * Math.max(Math.abs(a), Math.abs(numeric))));
      checked++;
      if (!(err <= atol + rtol * Math.max(Math.abs(a), Math.abs(numeric)))) {
        if (failures.length < 8) failures.push(`input ${xi}${x.name ? ` (${x.name})` : ''} [${i}]: analytic ${a.toPrecision(6)} vs numeric ${numeric.toPrecision(6)}`);
        else if (failures.length === 8) failures.push('…');
      }
    }
    if (!anyNonZero && indices.length > 0 && !(opts.allowZero ?? []).includes(xi)) {
      failures.push(`input ${xi}: analytic gradient is identically zero`);
    }
  });
  clearTape();
  for (const x of inputs) x.grad = null;
  if (process.env.S2S_GRADCHECK_VERBOSE) {
    console.log(`gradcheck ${label}: ${checked} elements, max |error| ${maxAbsError.toExponential(2)}, ${(100 * worstRatio).toFixed(1)}% of tolerance`);
  }
  assert.ok(failures.length === 0, `gradcheck ${label} (${kernelName()} kernels) failed:\n  ${failures.join('\n  ')}`);
  return { checked, maxAbsError, analytic };
}

/** Asserts |a − b| ≤ atol + rtol·|b| elementwise, reporting the worst element. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string, rtol = 1e-5, atol = 1e-6): void {
  assert.equal(actual.length, expected.length, `${label}: length ${actual.length} vs expected ${expected.length}`);
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.fail(`${label}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (|diff| ${Math.abs(actual[worst] - expected[worst]).toExponential(3)}, rtol ${rtol}, atol ${atol})`);
  }
}

/** Asserts bitwise equality of two float arrays, reporting the first difference. */
export function assertSameBits(actual: Float32Array, expected: Float32Array, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${label}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}
