/**
 * Parity with PyTorch: the fixtures in test/fixtures/torch/ were written by
 * scripts/torch_fixtures.py (float64 PyTorch references; run it by hand to
 * regenerate). Here the same computations are rebuilt from s2s engine parts
 * and the forward values and every gradient are compared.
 *
 * Mapping PyTorch → s2s:
 *   LSTM: weight_ih [4H, in] → wIH [in, 4H] (transpose), weight_hh [4H, H] →
 *         wHH [H, 4H]; gate order i, f, g, o is the same; one bias
 *         b = bias_ih + bias_hh (so dL/db = dL/dbias_ih = dL/dbias_hh).
 *   GRU:  PyTorch is reset-after like s2s, but its gate order is r, z, n and
 *         s2s's is Keras's z, r, n: the first two row blocks swap before the
 *         transpose. bias_ih goes into the input projection, bias_hh is s2s's
 *         recurrent bias. Both compute h = (1 − z)·n + z·h_prev.
 *   Sequences: PyTorch's pack_padded_sequence(enforce_sorted=False) sorts by
 *         length internally; s2s layouts are sorted by the caller, so the test
 *         permutes rows with gatherRows (which also carries the gradients back).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, clearTape } from '../src/engine/tensor.js';
import * as ops from '../src/engine/ops.js';
import { lstm, gru, packedLayout, packIndex, unpackIndex, type PackedLayout } from '../src/engine/rnn.js';
import { assertClose, kernelName } from './helpers/gradcheck.js';

interface Entry { shape: number[]; data: number[] }

interface RnnFixture {
  kind: 'lstm' | 'gru';
  batch: number; input: number; hidden: number; layers: number; steps: number;
  lengths: number[];
  weights: Record<string, Entry>;
  x: Entry; h0: Entry; c0?: Entry;
  proj: Record<'output' | 'h_n' | 'c_n', Entry>;
  expected: { output: Entry; h_n: Entry; c_n?: Entry; loss: number };
  grads: Record<string, Entry>;
}

interface CrossEntropyFixture {
  logits: Entry; targets: number[]; ignoreIndex: number;
  expected: { loss: number };
  grads: { logits: Entry };
}

function fixtureDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'test', 'fixtures', 'torch');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('test/fixtures/torch not found above ' + fileURLToPath(import.meta.url));
}

function load<T>(name: string): T {
  return JSON.parse(readFileSync(join(fixtureDir(), name), 'utf8')) as T;
}

/** Forward values: within 1e-5. Gradients: 1e-4 relative with a small absolute floor. */
const FWD = { rtol: 1e-5, atol: 1e-5 };
const GRAD = { rtol: 1e-4, atol: 2e-6 };

const leaf = (data: ArrayLike<number>, shape: number[], name?: string): Tensor => new Tensor(Float32Array.from(data), shape, true, name);

/**
 * PyTorch [G, cols] (row blocks of H in PyTorch's gate order) → s2s [cols, G]
 * (column blocks in s2s order). `blocks[k]` is the PyTorch block that becomes
 * s2s block k.
 */
function torchToOurs(w: Entry, blocks: number[]): Float32Array {
  const [G, cols] = w.shape.length === 2 ? w.shape : [w.shape[0], 1];
  const H = G / blocks.length;
  const out = new Float32Array(G * cols);
  for (let k = 0; k < blocks.length; k++) {
    for (let j = 0; j < H; j++) {
      for (let c = 0; c < cols; c++) out[c * G + k * H + j] = w.data[(blocks[k] * H + j) * cols + c];
    }
  }
  return out;
}

/** Inverse of torchToOurs for gradients: s2s [cols, G] → PyTorch [G, cols]. */
function oursToTorch(g: Float32Array, G: number, cols: number, blocks: number[]): Float64Array {
  const H = G / blocks.length;
  const out = new Float64Array(G * cols);
  for (let k = 0; k < blocks.length; k++) {
    for (let j = 0; j < H; j++) {
      for (let c = 0; c < cols; c++) out[(blocks[k] * H + j) * cols + c] = g[c * G + k * H + j];
    }
  }
  return out;
}

/** Sorting longest first (stable), as PyTorch's enforce_sorted=False does. */
function sortByLength(lengths: number[]): { perm: number[]; inv: number[]; layout: PackedLayout } {
  const perm = lengths.map((_, i) => i).sort((a, b) => lengths[b] - lengths[a] || a - b);
  const inv = new Array<number>(perm.length);
  perm.forEach((orig, sorted) => (inv[orig] = sorted));
  return { perm, inv, layout: packedLayout(perm.map((i) => lengths[i])) };
}

function gradOf(t: Tensor): Float32Array {
  return t.grad ?? new Float32Array(t.size);
}

/** Rebuilds a PyTorch LSTM/GRU fixture with s2s parts; returns everything to compare. */
function runRnn(fx: RnnFixture) {
  const { batch: B, input: D, hidden: H, layers: Lyr, steps: T, kind } = fx;
  const G = (kind === 'lstm' ? 4 : 3) * H;
  const blocks = kind === 'lstm' ? [0, 1, 2, 3] : [1, 0, 2];
  const { perm, inv, layout } = sortByLength(fx.lengths);
  clearTape();

  const x = leaf(fx.x.data, [B * T, D], 'x');
  const h0 = leaf(fx.h0.data, [Lyr * B, H], 'h0');
  const c0 = fx.c0 ? leaf(fx.c0.data, [Lyr * B, H], 'c0') : null;
  // Packed input: packed row (t, sorted i) ← padded row perm[i]·T + t.
  const pk = packIndex(layout, T).map((r) => perm[Math.floor(r / T)] * T + (r % T));
  let input: Tensor = ops.gatherRows(x, pk);

  const params: { l: number; wIH: Tensor; b: Tensor; wHH: Tensor; bHH: Tensor | null }[] = [];
  const finalH: Tensor[] = [], finalC: Tensor[] = [];
  for (let l = 0; l < Lyr; l++) {
    const w = (n: string): Entry => fx.weights[`${n}_l${l}`];
    const inDim = l === 0 ? D : H;
    const wIH = leaf(torchToOurs(w('weight_ih'), blocks), [inDim, G], `wIH${l}`);
    const wHH = leaf(torchToOurs(w('weight_hh'), blocks), [H, G], `wHH${l}`);
    const bih = torchToOurs(w('bias_ih'), blocks), bhh = torchToOurs(w('bias_hh'), blocks);
    const b = leaf(kind === 'lstm' ? bih.map((v, i) => v + bhh[i]) : bih, [G], `b${l}`);
    const bHH = kind === 'gru' ? leaf(bhh, [G], `bHH${l}`) : null;
    params.push({ l, wIH, b, wHH, bHH });
    const xProj = ops.add(ops.matmul(input, wIH), b);
    const stateIdx = Int32Array.from(perm, (orig) => l * B + orig);
    const h0l = ops.gatherRows(h0, stateIdx);
    if (kind === 'lstm') {
      const r = lstm(xProj, wHH, h0l, ops.gatherRows(c0 as Tensor, stateIdx), layout);
      input = r.output;
      finalH.push(r.h);
      finalC.push(r.c);
    } else {
      const r = gru(xProj, wHH, bHH as Tensor, h0l, layout);
      input = r.output;
      finalH.push(r.h);
    }
  }
  // Padded, original-order output [B·T, H] (zeros past each length) and final states [layers·B, H].
  const up = unpackIndex(layout, T);
  const output = ops.gatherRows(input, Int32Array.from({ length: B * T }, (_, r) => up[inv[Math.floor(r / T)] * T + (r % T)]));
  const unsort = Int32Array.from(inv);
  const hN = ops.concat(finalH.map((h) => ops.reshape(ops.gatherRows(h, unsort), [1, B * H])));
  const cN = finalC.length ? ops.concat(finalC.map((c) => ops.reshape(ops.gatherRows(c, unsort), [1, B * H]))) : null;

  const proj = (e: Entry, shape: number[]): Tensor => new Tensor(Float32Array.from(e.data), shape);
  let loss = ops.add(ops.sum(ops.mul(output, proj(fx.proj.output, [B * T, H]))), ops.sum(ops.mul(hN, proj(fx.proj.h_n, [1, Lyr * B * H]))));
  if (cN) loss = ops.add(loss, ops.sum(ops.mul(cN, proj(fx.proj.c_n, [1, Lyr * B * H]))));
  loss.backward();
  return { G, blocks, x, h0, c0, params, output, hN, cN, loss };
}

function checkRnnParity(fx: RnnFixture): void {
  const r = runRnn(fx);
  const { input: D, hidden: H } = fx;
  assertClose(r.output.data, fx.expected.output.data, 'output', FWD.rtol, FWD.atol);
  assertClose(r.hN.data, fx.expected.h_n.data, 'h_n', FWD.rtol, FWD.atol);
  if (r.cN) assertClose(r.cN.data, (fx.expected.c_n as Entry).data, 'c_n', FWD.rtol, FWD.atol);
  assertClose([r.loss.item()], [fx.expected.loss], 'loss', FWD.rtol, FWD.atol);

  assertClose(gradOf(r.x), fx.grads.x.data, 'd loss/d x', GRAD.rtol, GRAD.atol);
  assertClose(gradOf(r.h0), fx.grads.h0.data, 'd loss/d h0', GRAD.rtol, GRAD.atol);
  if (r.c0) assertClose(gradOf(r.c0), fx.grads.c0.data, 'd loss/d c0', GRAD.rtol, GRAD.atol);
  for (const p of r.params) {
    const inDim = p.l === 0 ? D : H;
    const g = (n: string): number[] => fx.grads[`${n}_l${p.l}`].data;
    assertClose(oursToTorch(gradOf(p.wIH), r.G, inDim, r.blocks), g('weight_ih'), `d loss/d weight_ih_l${p.l}`, GRAD.rtol, GRAD.atol);
    assertClose(oursToTorch(gradOf(p.wHH), r.G, H, r.blocks), g('weight_hh'), `d loss/d weight_hh_l${p.l}`, GRAD.rtol, GRAD.atol);
    const db = oursToTorch(gradOf(p.b), r.G, 1, r.blocks);
    assertClose(db, g('bias_ih'), `d loss/d bias_ih_l${p.l}`, GRAD.rtol, GRAD.atol);
    if (p.bHH) assertClose(oursToTorch(gradOf(p.bHH), r.G, 1, r.blocks), g('bias_hh'), `d loss/d bias_hh_l${p.l}`, GRAD.rtol, GRAD.atol);
    else assertClose(db, g('bias_hh'), `d loss/d bias_hh_l${p.l} (the summed bias)`, GRAD.rtol, GRAD.atol);
  }
  clearTape();
}

describe(`PyTorch parity (${kernelName()} kernels)`, () => {
  it('fixtures are present and self-consistent', () => {
    const fx = load<RnnFixture>('lstm.json');
    assert.equal(fx.kind, 'lstm');
    assert.equal(fx.layers, 2);
    assert.equal(fx.x.data.length, fx.batch * fx.steps * fx.input);
    assert.deepEqual(fx.weights.weight_ih_l0.shape, [4 * fx.hidden, fx.input]);
    assert.ok(fx.lengths.some((l) => l < fx.steps), 'unequal lengths');
    // Sanity: PyTorch pads with exact zeros past each length.
    for (let b = 0; b < fx.batch; b++) {
      for (let t = fx.lengths[b]; t < fx.steps; t++) {
        for (let j = 0; j < fx.hidden; j++) assert.equal(fx.expected.output.data[(b * fx.steps + t) * fx.hidden + j], 0);
      }
    }
  });

  it('two-layer LSTM over packed unequal-length sequences: outputs, final h/c, loss and all gradients', () => {
    checkRnnParity(load<RnnFixture>('lstm.json'));
  });

  it('GRU (PyTorch r,z,n → s2s z,r,n) over packed unequal-length sequences: outputs, final h, loss and all gradients', () => {
    const fx = load<RnnFixture>('gru.json');
    assert.equal(fx.kind, 'gru');
    checkRnnParity(fx);
  });

  it('softmax cross-entropy with ignore_index: loss and gradient', () => {
    const fx = load<CrossEntropyFixture>('cross_entropy.json');
    assert.ok(fx.ignoreIndex < 0 && fx.targets.includes(fx.ignoreIndex), 'PyTorch ignore_index is negative, which s2s treats as padding');
    clearTape();
    const [rows, classes] = fx.logits.shape;
    const logits = leaf(fx.logits.data, [rows, classes]);
    const loss = ops.softmaxCrossEntropy(logits, Int32Array.from(fx.targets));
    assertClose([loss.item()], [fx.expected.loss], 'loss', FWD.rtol, FWD.atol);
    loss.backward();
    assertClose(gradOf(logits), fx.grads.logits.data, 'd loss/d logits', GRAD.rtol, GRAD.atol);
  });

  it('a deliberately wrong GRU mapping (no r/z swap) is caught', () => {
    const fx = load<RnnFixture>('gru.json');
    const swapped: RnnFixture = { ...fx, weights: { ...fx.weights } };
    // Pretend PyTorch's order were already z, r, n by pre-swapping the blocks back.
    for (const n of ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']) {
      const e = fx.weights[n];
      const G = e.shape[0], cols = e.shape.length === 2 ? e.shape[1] : 1, H = G / 3;
      const data = e.data.slice();
      for (let j = 0; j < H * cols; j++) [data[j], data[H * cols + j]] = [data[H * cols + j], data[j]];
      swapped.weights[n] = { shape: e.shape, data };
    }
    assert.throws(() => checkRnnParity(swapped), /output/);
    clearTape();
  });
});
