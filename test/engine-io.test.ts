/**
 * Weights I/O: exact round trips, and every kind of damaged or hostile
 * index/blob is rejected with a WeightsError naming the problem, before any
 * large allocation.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../src/engine/tensor.js';
import { serializeWeights, deserializeWeights, assignWeights, crc32, crc32Combine, StreamChecksums, WeightsError, WEIGHTS_VERSION, WEIGHTS_VERSION_FLOAT32, type WeightsIndex } from '../src/engine/io.js';
import { Rng } from '../src/engine/rng.js';
import { test } from 'node:test';
import { quantizeMatrix, dequantize } from '../src/engine/int8.js';
import { randomData, assertSameBits } from './helpers/gradcheck.js';

function sample(): Tensor[] {
  const rng = new Rng(11);
  const big = new Float32Array(40);
  big.set(randomData(rng, 40));
  return [
    new Tensor(randomData(rng, 12), [3, 4], true, 'enc/kernel'),
    new Tensor(big.subarray(8, 20), [12], true, 'enc/bias'), // a view with a byte offset
    new Tensor(Float32Array.of(NaN, Infinity, -Infinity, -0, 1e-45, 3.4028234663852886e38), [2, 3], true, 'odd/values'),
    new Tensor(Float32Array.of(2.5), [], true, 'scalar'),
    new Tensor(new Float32Array(0), [2, 0], true, 'empty'),
    new Tensor(randomData(rng, 24), [2, 3, 4], true, 'dec/attn/w'),
  ];
}

/** Expects a WeightsError whose message matches `re`. */
function rejects(f: () => unknown, re: RegExp): void {
  assert.throws(f, (err: unknown) => {
    assert.ok(err instanceof WeightsError, `expected a WeightsError, got ${String(err)}`);
    assert.match((err as Error).message, re);
    return true;
  });
}

/** A structurally valid (checksummed) index and blob with one tensor entry replaced. */
function withEntry(patch: Record<string, unknown>): { index: WeightsIndex; blob: Uint8Array } {
  const { index, blob } = serializeWeights([new Tensor(Float32Array.of(1, 2, 3, 4), [2, 2], false, 'w')]);
  const entry = { ...index.tensors[0], ...patch };
  return { index: { ...index, tensors: [entry as never] }, blob };
}

describe('weights round trip', () => {
  it('names, shapes, order and exact bits survive, including NaN, ±∞, −0 and denormals', () => {
    const ts = sample();
    const { index, blob } = serializeWeights(ts);
    assert.equal(index.version, WEIGHTS_VERSION_FLOAT32); // all float32: version 1, which s2s before int8 bundles reads
    assert.equal(index.byteLength, blob.length);
    assert.equal(blob.length, ts.reduce((s, t) => s + 4 * t.size, 0));
    // The index survives JSON.
    const loaded = deserializeWeights(JSON.parse(JSON.stringify(index)), blob);
    assert.deepEqual([...loaded.keys()], ts.map((t) => t.name));
    for (const t of ts) {
      const w = loaded.get(t.name as string) as Tensor;
      assert.deepEqual(w.shape, t.shape);
      assert.equal(w.name, t.name);
      const a = new Uint32Array(w.data.buffer, w.data.byteOffset, w.size), b = new Uint32Array(t.data.slice().buffer);
      assert.deepEqual(Array.from(a), Array.from(b), `${t.name} bits`);
    }
    // Loaded tensors own their data.
    blob.fill(0);
    assert.equal((loaded.get('scalar') as Tensor).item(), 2.5);
  });

  it('assignWeights copies into matching parameters', () => {
    const ts = sample();
    const { index, blob } = serializeWeights(ts);
    const fresh = ts.map((t) => new Tensor(new Float32Array(t.size), t.shape, true, t.name));
    assignWeights(fresh, deserializeWeights(index, blob));
    fresh.forEach((p, i) => assertSameBits(p.data, ts[i].data.slice(), p.name as string));
  });

  it('crc32 is the standard IEEE CRC', () => {
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
    assert.equal(crc32(new Uint8Array(0)), 0);
  });

  it('crc32Combine(crc(A), crc(B), |B|) = crc(A‖B), for every split of random bytes and at lengths up to megabytes', () => {
    const rng = new Rng(17);
    for (const n of [0, 1, 7, 8, 9, 100, 4097]) {
      const bytes = Uint8Array.from({ length: n }, () => rng.nextUint32() & 0xff);
      for (let cut = 0; cut <= n; cut += Math.max(1, Math.floor(n / 13))) {
        assert.equal(crc32Combine(crc32(bytes.subarray(0, cut)), crc32(bytes.subarray(cut)), n - cut), crc32(bytes), `n ${n}, cut ${cut}`);
      }
    }
    const big = Uint8Array.from({ length: 3 << 20 }, (_, i) => (i * 2654435761) >>> 24);
    assert.equal(crc32Combine(crc32(big.subarray(0, 12345)), crc32(big.subarray(12345)), big.length - 12345), crc32(big));
  });

  it('block checksums taken as a blob streams in (any chunking) give the same tensors and the same refusals', () => {
    const rng = new Rng(5);
    const sizes = [10_000, 5, 20_000, 3, 4096, 9000];
    const tensors = sizes.map((n, i) => new Tensor(Float32Array.from({ length: n }, () => rng.nextUint32() / 2 ** 32 - 0.5), [n], false, `t${i}`));
    const { index, blob } = serializeWeights(tensors);
    assert.ok(blob.length > 8 * StreamChecksums.BLOCK_SIZE, 'tensors span many blocks');
    const streamed = (bytes: Uint8Array, chunk: () => number): ReturnType<StreamChecksums['finish']> => {
      const sums = new StreamChecksums();
      for (let at = 0; at < bytes.length;) {
        const n = Math.min(chunk(), bytes.length - at);
        sums.update(bytes.subarray(at, at + n));
        at += n;
      }
      return sums.finish();
    };
    const plain = deserializeWeights(index, blob);
    for (const chunk of [() => blob.length, () => 1000, () => StreamChecksums.BLOCK_SIZE, () => 1 + (rng.nextUint32() % 40_000)]) {
      const got = deserializeWeights(index, blob, 'w', { checksums: streamed(blob, chunk) });
      for (const t of tensors) assertSameBits((got.get(t.name as string) as Tensor).data, (plain.get(t.name as string) as Tensor).data, t.name as string);
    }
    // A damaged download is refused as without them (its checksums are of the bytes that arrived).
    for (const pos of [0, StreamChecksums.BLOCK_SIZE - 1, StreamChecksums.BLOCK_SIZE, 70_001, blob.length - 1]) {
      const bad = blob.slice();
      bad[pos] ^= 0x10;
      rejects(() => deserializeWeights(index, bad, 'w', { checksums: streamed(bad, () => 3000) }), /checksum mismatch: the weights file is corrupted/);
    }
    const wrongEntry = { ...index, tensors: index.tensors.map((e, i) => (i === 2 ? { ...e, crc32: (e.crc32 + 1) >>> 0 } : e)) };
    rejects(() => deserializeWeights(wrongEntry, blob, 'w', { checksums: streamed(blob, () => 5000) }), /tensors\[2\] \("t2"\): checksum mismatch/);
    // Checksums of another length do not describe this blob.
    rejects(() => deserializeWeights(index, blob, 'w', { checksums: streamed(blob.subarray(1), () => 5000) }), /block checksums of \d+ bytes in \d+ blocks do not describe this \d+-byte blob/);
  });

  it('serializeWeights needs unique names', () => {
    rejects(() => serializeWeights([new Tensor(new Float32Array(1), [1])]), /every tensor needs a name/);
    rejects(() => serializeWeights([new Tensor(new Float32Array(1), [1], false, 'a'), new Tensor(new Float32Array(1), [1], false, 'a')]), /duplicate name "a"/);
  });
});

describe('damaged weights are rejected clearly', () => {
  const { index, blob } = serializeWeights(sample());

  it('truncated blob', () => {
    rejects(() => deserializeWeights(index, blob.subarray(0, blob.length - 3), 'model.bin'), /^model\.bin: blob has \d+ bytes but the index says \d+: the file is truncated/);
  });

  it('a flipped byte anywhere in the blob', () => {
    for (const pos of [0, 17, blob.length - 1]) {
      const bad = blob.slice();
      bad[pos] ^= 0x10;
      rejects(() => deserializeWeights(index, bad), /checksum mismatch: the weights file is corrupted/);
    }
  });

  it('wrong format, version or dtype; index not an object', () => {
    rejects(() => deserializeWeights({ ...index, version: WEIGHTS_VERSION + 1 }, blob), new RegExp(`weights format version ${WEIGHTS_VERSION + 1} is not supported \\(this s2s reads versions ${WEIGHTS_VERSION_FLOAT32} and ${WEIGHTS_VERSION}\\); was it written by a newer s2s\\?`));
    rejects(() => deserializeWeights({ ...index, version: '1' }, blob), /version "1" is not supported/);
    rejects(() => deserializeWeights({ ...index, format: 'npz' }, blob), /"format" must be "s2s-weights", got "npz"/);
    rejects(() => deserializeWeights({ ...index, dtype: 'float16' }, blob), /"dtype" must be "float32", got "float16"/);
    rejects(() => deserializeWeights(null, blob), /index is not a JSON object/);
    rejects(() => deserializeWeights('{"format":"s2s-weights"}', blob), /index is not a JSON object/);
    rejects(() => deserializeWeights({ ...index, tensors: {} }, blob), /"tensors" must be an array/);
  });

  it('a tensor entry whose own checksum does not match', () => {
    const { index: i2, blob: b2 } = withEntry({ crc32: 12345 });
    rejects(() => deserializeWeights(i2, b2), /tensors\[0\] \("w"\): checksum mismatch/);
  });

  it('bad names', () => {
    rejects(() => deserializeWeights(withEntry({ name: '' }).index, withEntry({}).blob), /tensors\[0\]\.name must be a non-empty string/);
    rejects(() => deserializeWeights(withEntry({ name: 7 }).index, withEntry({}).blob), /tensors\[0\]\.name must be a non-empty string/);
    const { index: i2, blob: b2 } = withEntry({});
    rejects(() => deserializeWeights({ ...i2, tensors: [i2.tensors[0], i2.tensors[0]] }, b2), /tensors\[1\]: duplicate tensor name "w"/);
    rejects(() => deserializeWeights({ ...i2, tensors: [null] }, b2), /tensors\[0\] is not an object/);
  });

  it('absurd shapes and lengths are refused without allocating', () => {
    const { blob: b } = withEntry({});
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ shape: [-1, 4] }, /shape must be an array of at most 8 non-negative integers/],
      [{ shape: [2.5, 2] }, /shape must be an array/],
      [{ shape: ['2', 2] }, /shape must be an array/],
      [{ shape: 4 }, /shape must be an array/],
      [{ shape: [1, 1, 1, 1, 1, 1, 1, 1, 4] }, /at most 8/],
      [{ shape: [1e9, 1e9], length: 1e18 }, /shape must be an array/], // dimensions larger than the blob
      [{ shape: [16, 16, 16, 16, 16, 16, 16, 16], length: 16 ** 8 }, /bytes \[0, \d+\) lie outside the 16-byte blob/],
      [{ shape: [2, 2], length: 5 }, /length 5 does not match shape \[2, 2\]/],
      [{ shape: [2, 2], length: '4' }, /length "4" does not match shape/],
      [{ shape: [16], length: 16 }, /bytes \[0, 64\) lie outside the 16-byte blob/],
    ];
    const before = process.memoryUsage().arrayBuffers;
    for (const [patch, re] of cases) rejects(() => deserializeWeights(withEntry(patch).index, b), re);
    assert.ok(process.memoryUsage().arrayBuffers - before < 32 * 1024 * 1024, 'no large buffers were allocated');
  });

  it('absurd offsets', () => {
    const { blob: b } = withEntry({});
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ offset: -4 }, /bad offset -4/],
      [{ offset: 2 }, /bad offset 2/],
      [{ offset: 1.5 }, /bad offset 1.5/],
      [{ offset: '0' }, /bad offset "0"/],
      [{ offset: 4 }, /bytes \[4, 20\) lie outside the 16-byte blob/],
      [{ offset: 2 ** 52 }, /lie outside the 16-byte blob/],
      [{ offset: 2 ** 60 }, /bad offset/],
    ];
    for (const [patch, re] of cases) rejects(() => deserializeWeights(withEntry(patch).index, b), re);
  });
});

describe('assignWeights mismatches', () => {
  const mk = (name: string, shape: number[]): Tensor => new Tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape, true, name);
  const loaded = (): Map<string, Tensor> => new Map([['a', mk('a', [2, 3])], ['b', mk('b', [4])]]);

  it('missing parameters', () => {
    rejects(() => assignWeights([mk('a', [2, 3]), mk('b', [4]), mk('c', [1])], loaded(), 'bundle x'), /^bundle x: missing parameters c$/);
  });
  it('unexpected parameters', () => {
    rejects(() => assignWeights([mk('a', [2, 3])], loaded()), /unexpected parameters b \(does the config match these weights\?\)/);
  });
  it('shape mismatch, including same size in another shape', () => {
    rejects(() => assignWeights([mk('a', [3, 2]), mk('b', [4])], loaded()), /parameter "a" has shape \[2, 3\] but the model expects \[3, 2\]/);
    rejects(() => assignWeights([mk('a', [2, 3]), mk('b', [1, 4])], loaded()), /parameter "b" has shape \[4\] but the model expects \[1, 4\]/);
  });
  it('nothing is modified when validation fails on a later parameter', () => {
    const a = mk('a', [2, 3]);
    const src = loaded();
    (src.get('a') as Tensor).data.fill(7);
    assert.throws(() => assignWeights([a, mk('b', [5])], src));
    assert.ok(a.data.every((v) => v === 0), 'a was left untouched');
  });
});

test('version 2: int8 tensors (both scale axes) round trip exactly beside float32 ones; quantizeMatrix keeps each channel within half a step', () => {
  const values = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i + 1) * (i + 1));
  for (const axis of [0, 1] as const) {
    const w = quantizeMatrix(values, [3, 4], axis);
    assert.equal(w.scales.length, axis === 0 ? 3 : 4);
    const dense = dequantize(Tensor.quantized([3, 4], w, 'w'));
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 4; c++) {
        const s = w.scales[axis === 0 ? r : c];
        assert.ok(Math.abs(dense[r * 4 + c] - values[r * 4 + c]) <= s / 2 + 1e-6, `axis ${axis} [${r}, ${c}]`);
      }
    }
    const bias = new Tensor(Float32Array.of(1, 2, 3, 4), [4], false, 'b');
    const { index, blob } = serializeWeights([Tensor.quantized([3, 4], w, 'w'), bias]);
    assert.equal(index.version, WEIGHTS_VERSION);
    assert.deepEqual(index.tensors.map((t) => [t.name, t.dtype, t.scaleAxis]), [['w', 'int8', axis], ['b', 'float32', undefined]]);
    const back = deserializeWeights(JSON.parse(JSON.stringify(index)), blob);
    const w2 = (back.get('w') as Tensor).int8;
    assert.ok(w2);
    assert.deepEqual([w2.axis, Array.from(w2.values), Array.from(w2.scales)], [w.axis, Array.from(w.values), Array.from(w.scales)]);
    assert.deepEqual(Array.from((back.get('b') as Tensor).data), [1, 2, 3, 4]);
    assert.equal(blob.length, 12 + 4 * w.scales.length + 16);
  }
});
