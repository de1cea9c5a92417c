/**
 * The int8 kernels on seeded inputs, as one CRC per result array (so two kernel sets compare cheaply).
 * Run as a script (kernels-int8.test.ts does, with S2S_NATIVE_ISA set), it prints the active set's digest.
 */
import { fileURLToPath } from 'node:url';
import { kernels, type Kernels } from '../../src/engine/kernels/index.js';
import { Rng } from '../../src/engine/rng.js';
import { crc32 } from '../../src/engine/io.js';

/** Shapes with k tails (not multiples of 16 or 32), channel tails (not multiples of 4), odd row counts. */
const SHAPES: [number, number, number][] = [[1, 1, 1], [1, 7, 3], [1, 64, 256], [2, 5, 33], [3, 9, 47], [5, 130, 256], [4, 12, 31], [7, 33, 512], [1, 517, 96], [16, 64, 100]];

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Every kernel on seeded inputs; returns one CRC per result array, so two sets compare cheaply. */
export function int8Digest(K: Kernels): number[] {
  const rng = new Rng(13);
  const out: number[] = [];
  for (const [m, n, k] of SHAPES) {
    const x = new Float32Array(m * k);
    for (let i = 0; i < x.length; i++) x[i] = rng.normal() * (1 + (i % 5));
    if (m > 1) x.fill(0, 0, k); // an all-zero row: scale 0
    const q = new Int8Array(m * k), as = new Float32Array(m);
    K.quantizeRowsInt8(m, k, x, q, as);
    const w = new Int8Array(n * k);
    for (let i = 0; i < w.length; i++) w[i] = rng.int(255) - 127;
    const bs = new Float32Array(n), bias = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      bs[j] = Math.abs(rng.normal()) * 0.01;
      bias[j] = rng.normal();
    }
    const c1 = new Float32Array(m * n), c2 = new Float32Array(m * n);
    for (let i = 0; i < c2.length; i++) c2[i] = rng.normal();
    K.gemmInt8(m, n, k, q, as, w, bs, null, false, c1);
    K.gemmInt8(m, n, k, q, as, w, bs, bias, true, c2);
    const idx = Int32Array.from({ length: 2 * m + 1 }, (_, i) => (i === 1 ? -1 : rng.int(n)));
    const g = new Float32Array(idx.length * k);
    K.gatherRowsInt8(k, w, bs, idx, g);
    out.push(crc32(bytesOf(q)), crc32(bytesOf(as)), crc32(bytesOf(c1)), crc32(bytesOf(c2)), crc32(bytesOf(g)));
  }
  return out;
}


if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const K = kernels();
  process.stdout.write(JSON.stringify({ digest: int8Digest(K), description: K.description }));
}
