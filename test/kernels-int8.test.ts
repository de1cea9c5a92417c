/**
 * The int8 inference kernels (quantizeRowsInt8, gemmInt8, gatherRowsInt8):
 * the TypeScript set against a direct reading of the contract in
 * kernels/types.ts, and every native ISA variant (generic C, AVX2, AVX-512
 * VNNI where the CPU has it; each in a child process with S2S_NATIVE_ISA)
 * against the TypeScript set bit for bit: the arithmetic is integer or
 * spelled out as single float32 roundings, so there is no tolerance.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { jsKernels, loadNativeKernels, nativeLoadError, type Kernels } from '../src/engine/kernels/index.js';
import { Rng } from '../src/engine/rng.js';
import { int8Digest } from './helpers/int8-digest.js';

const native = loadNativeKernels();
const skip = native ? false : `native addon not built (${nativeLoadError()}); run \`npm run build:native\``;

test('quantizeRowsInt8 (js): symmetric per-row scales, half-to-even rounding, the contract literally', () => {
  const x = Float32Array.of(1.5, -127, 0.5, 2.5, -2.5, 63.5, 0, 0, 0, 0, 0, 0);
  const q = new Int8Array(12), s = new Float32Array(2);
  jsKernels.quantizeRowsInt8(2, 6, x, q, s);
  assert.equal(s[0], Math.fround(127 / 127));
  assert.deepEqual(Array.from(q.subarray(0, 6)), [2, -127, 0, 2, -2, 64]); // 1.5→2, 0.5→0, 2.5→2, −2.5→−2, 63.5→64
  assert.equal(s[1], 0);
  assert.deepEqual(Array.from(q.subarray(6)), [0, 0, 0, 0, 0, 0]);
  const rng = new Rng(5);
  const y = Float32Array.from({ length: 300 }, () => rng.normal() * 3);
  const qy = new Int8Array(300), sy = new Float32Array(1);
  jsKernels.quantizeRowsInt8(1, 300, y, qy, sy);
  const amax = y.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
  assert.equal(sy[0], Math.fround(amax / 127));
  for (let i = 0; i < 300; i++) assert.ok(Math.abs(qy[i] * sy[0] - y[i]) <= sy[0] * 0.5 + 1e-6, `element ${i}`);
  assert.equal(Math.max(...Array.from(qy, Math.abs)), 127);
});

test('gemmInt8 (js): exact integer sums, dequantized as the contract says, bias and accumulate', () => {
  const a = Int8Array.of(1, -2, 3, 127, -127, 5), b = Int8Array.of(4, 5, 6, -1, 0, 1, 127, 127, 127);
  const as = Float32Array.of(0.5, 0.25), bs = Float32Array.of(1, 2, 0.1);
  const out = Float32Array.of(10, 10, 10, 10, 10, 10);
  jsKernels.gemmInt8(2, 3, 3, a, as, b, bs, Float32Array.of(1, 2, 3), true, out);
  const dot = (i: number, j: number): number => a[i * 3] * b[j * 3] + a[i * 3 + 1] * b[j * 3 + 1] + a[i * 3 + 2] * b[j * 3 + 2];
  const expected = [0, 1].flatMap((i) => [0, 1, 2].map((j) => Math.fround(10 + Math.fround(Math.fround(dot(i, j) * Math.fround(as[i] * bs[j])) + [1, 2, 3][j]))));
  assert.deepEqual(Array.from(out), expected);
});

test('gatherRowsInt8 (js): rows times their scale, zeros for negative ids', () => {
  const out = new Float32Array(6);
  jsKernels.gatherRowsInt8(2, Int8Array.of(1, 2, -3, 4), Float32Array.of(0.5, 2), Int32Array.of(1, -1, 0), out);
  assert.deepEqual(Array.from(out), [-6, 8, 0, 0, 0.5, 1]);
});

test('int8 kernels: every native ISA variant equals the TypeScript kernels bit for bit', { skip }, () => {
  const want = int8Digest(jsKernels);
  assert.deepEqual(int8Digest(native as Kernels), want, `native (${(native as Kernels).description})`);
  const script = fileURLToPath(new URL('./helpers/int8-digest.js', import.meta.url));
  for (const isa of ['generic', 'avx2']) {
    const got = JSON.parse(execFileSync(process.execPath, [script], { env: { ...process.env, S2S_NATIVE_ISA: isa, S2S_KERNELS: 'native' }, encoding: 'utf8' })) as { digest: number[]; description: string };
    assert.deepEqual(got.digest, want, got.description);
  }
});

test('int8 kernels (native): bad arguments throw instead of reading or writing out of bounds', { skip }, () => {
  const N = native as Kernels;
  assert.throws(() => N.gemmInt8(2, 2, 4, new Int8Array(7), new Float32Array(2), new Int8Array(8), new Float32Array(2), null, false, new Float32Array(4)), RangeError);
  assert.throws(() => N.gemmInt8(1, 2, 4, new Int8Array(4), new Float32Array(1), new Int8Array(8), new Float32Array(1), null, false, new Float32Array(2)), RangeError);
  assert.throws(() => N.gemmInt8(1, 1, 1, new Uint8Array(1) as unknown as Int8Array, new Float32Array(1), new Int8Array(1), new Float32Array(1), null, false, new Float32Array(1)), TypeError);
  assert.throws(() => N.gatherRowsInt8(2, new Int8Array(4), new Float32Array(2), Int32Array.of(2), new Float32Array(2)), RangeError);
  assert.throws(() => N.gatherRowsInt8(2, new Int8Array(4), new Float32Array(1), Int32Array.of(1), new Float32Array(2)), RangeError);
  assert.throws(() => N.quantizeRowsInt8(2, 3, new Float32Array(6), new Int8Array(5), new Float32Array(2)), RangeError);
});
