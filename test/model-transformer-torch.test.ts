/**
 * Parity of the Transformer's encoder and decoder stacks with
 * torch.nn.Transformer (norm_first=True, batch_first=True, dropout 0, ReLU):
 * the fixture test/fixtures/torch/transformer.json was written by
 * scripts/torch_transformer_fixtures.py (float64 PyTorch; run by hand).
 *
 * Mapping PyTorch → s2s (weights [out, in] → kernels [in, out], transposed):
 *   self_attn.in_proj_weight [3D, D] (q; k; v)   → self_attention/qkv_kernel [D, 3D]
 *   multihead_attn.in_proj_weight rows [0, D)    → cross_attention/query_kernel [D, D]
 *   multihead_attn.in_proj_weight rows [D, 3D)   → cross_attention/kv_kernel [D, 2D]
 *   out_proj → …/output_kernel, linear1 → feed_forward/inner_kernel, linear2 → feed_forward/outer_kernel
 *   normK → norm_K (gain, bias); encoder.norm / decoder.norm → encoder|decoder/final_norm
 * torch.nn.Transformer has no embeddings or positions: the inputs are the
 * embedded source and target, fed to encodeEmbedded / decodeEmbedded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, ops, Rng } from '../src/engine/index.js';
import { Transformer } from '../src/model/transformer.js';
import { assertClose, kernelName } from './helpers/gradcheck.js';

interface Entry { shape: number[]; data: number[] }
interface Fixture {
  modelDim: number; heads: number; encoderLayers: number; decoderLayers: number; ffDim: number;
  batch: number; srcLen: number; tgtLen: number; srcLengths: number[]; tgtLengths: number[];
  weights: Record<string, Entry>; src: Entry; tgt: Entry; proj: { out: Entry; memory: Entry };
  expected: { memory: Entry; out: Entry; loss: number };
  grads: Record<string, Entry>;
}

const FWD = { rtol: 1e-5, atol: 1e-5 };
const GRAD = { rtol: 1e-4, atol: 1e-5 };

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fx = JSON.parse(readFileSync(join(root, 'test', 'fixtures', 'torch', 'transformer.json'), 'utf8')) as Fixture;

/** Rows [r0, r1) of a torch [rows, cols] weight, transposed to [cols, r1 − r0]. */
function transposed(w: Entry, r0 = 0, r1 = w.shape[0]): Float32Array {
  const cols = w.shape[1], n = r1 - r0;
  const out = new Float32Array(cols * n);
  for (let r = r0; r < r1; r++) for (let c = 0; c < cols; c++) out[c * n + (r - r0)] = w.data[r * cols + c];
  return out;
}

/** The s2s parameter name and value for each torch parameter (with the inverse map for gradients). */
function mapping(D: number): { ours: string; torch: string; value: (w: Entry) => Float32Array }[] {
  const m: { ours: string; torch: string; value: (w: Entry) => Float32Array }[] = [];
  const vec = (r0?: number, r1?: number) => (w: Entry): Float32Array => Float32Array.from(w.data.slice(r0 ?? 0, r1 ?? w.data.length));
  const block = (side: 'encoder' | 'decoder', l: number): void => {
    const t = `${side}.layers.${l}`, o = `${side}/layer_${l}`;
    m.push({ ours: `${o}/self_attention/qkv_kernel`, torch: `${t}.self_attn.in_proj_weight`, value: (w) => transposed(w) });
    m.push({ ours: `${o}/self_attention/qkv_bias`, torch: `${t}.self_attn.in_proj_bias`, value: vec() });
    m.push({ ours: `${o}/self_attention/output_kernel`, torch: `${t}.self_attn.out_proj.weight`, value: (w) => transposed(w) });
    m.push({ ours: `${o}/self_attention/output_bias`, torch: `${t}.self_attn.out_proj.bias`, value: vec() });
    if (side === 'decoder') {
      m.push({ ours: `${o}/cross_attention/query_kernel`, torch: `${t}.multihead_attn.in_proj_weight`, value: (w) => transposed(w, 0, D) });
      m.push({ ours: `${o}/cross_attention/kv_kernel`, torch: `${t}.multihead_attn.in_proj_weight`, value: (w) => transposed(w, D, 3 * D) });
      m.push({ ours: `${o}/cross_attention/query_bias`, torch: `${t}.multihead_attn.in_proj_bias`, value: vec(0, D) });
      m.push({ ours: `${o}/cross_attention/kv_bias`, torch: `${t}.multihead_attn.in_proj_bias`, value: vec(D, 3 * D) });
      m.push({ ours: `${o}/cross_attention/output_kernel`, torch: `${t}.multihead_attn.out_proj.weight`, value: (w) => transposed(w) });
      m.push({ ours: `${o}/cross_attention/output_bias`, torch: `${t}.multihead_attn.out_proj.bias`, value: vec() });
    }
    m.push({ ours: `${o}/feed_forward/inner_kernel`, torch: `${t}.linear1.weight`, value: (w) => transposed(w) });
    m.push({ ours: `${o}/feed_forward/inner_bias`, torch: `${t}.linear1.bias`, value: vec() });
    m.push({ ours: `${o}/feed_forward/outer_kernel`, torch: `${t}.linear2.weight`, value: (w) => transposed(w) });
    m.push({ ours: `${o}/feed_forward/outer_bias`, torch: `${t}.linear2.bias`, value: vec() });
    for (let k = 1; k <= (side === 'decoder' ? 3 : 2); k++) {
      m.push({ ours: `${o}/norm_${k}/gain`, torch: `${t}.norm${k}.weight`, value: vec() });
      m.push({ ours: `${o}/norm_${k}/bias`, torch: `${t}.norm${k}.bias`, value: vec() });
    }
  };
  for (let l = 0; l < fx.encoderLayers; l++) block('encoder', l);
  for (let l = 0; l < fx.decoderLayers; l++) block('decoder', l);
  for (const side of ['encoder', 'decoder']) {
    m.push({ ours: `${side}/final_norm/gain`, torch: `${side}.norm.weight`, value: vec() });
    m.push({ ours: `${side}/final_norm/bias`, torch: `${side}.norm.bias`, value: vec() });
  }
  return m;
}

const realMask = (lengths: number[], len: number): Uint8Array => {
  const m = new Uint8Array(lengths.length * len);
  lengths.forEach((n, b) => m.fill(1, b * len, b * len + n));
  return m;
};

test(`Transformer stacks match torch.nn.Transformer (pre-LN): forward 1e-5, gradients 1e-4 (${kernelName()} kernels)`, () => {
  const D = fx.modelDim, B = fx.batch, S = fx.srcLen, T = fx.tgtLen;
  const model = new Transformer({
    arch: 'transformer', modelDim: D, heads: fx.heads, ffDim: fx.ffDim, encoderLayers: fx.encoderLayers, decoderLayers: fx.decoderLayers,
    srcVocabSize: 4, tgtVocabSize: 4,
  });
  const byName = new Map(model.parameters().map((p) => [p.name as string, p]));
  const map = mapping(D);
  for (const { ours, torch, value } of map) {
    const p = byName.get(ours);
    assert.ok(p, `s2s has ${ours}`);
    const v = value(fx.weights[torch]);
    assert.equal(v.length, p.size, `${ours} ← ${torch}: size`);
    p.data.set(v);
  }
  assert.equal(new Set(map.map((m) => m.torch)).size, Object.keys(fx.weights).length, 'every torch parameter is mapped');

  const srcMask = realMask(fx.srcLengths, S), tgtMask = realMask(fx.tgtLengths, T);
  const src = new Tensor(Float32Array.from(fx.src.data), [B * S, D], true);
  const tgt = new Tensor(Float32Array.from(fx.tgt.data), [B * T, D], true);
  const run = { training: false, rng: new Rng(0), dropout: 0, attentionDropout: 0 };
  const srcShape = { batch: B, length: S, mask: srcMask }, tgtShape = { batch: B, length: T, mask: tgtMask };
  const memory = model.encodeEmbedded(src, srcShape, run);
  const out = model.decodeEmbedded(tgt, tgtShape, memory, srcShape, run);

  // Compared at real positions (torch's padded target rows see padded target keys; s2s masks them).
  const rowsOf = (x: ArrayLike<number>, mask: Uint8Array): number[] => Array.from(mask).flatMap((m, r) => (m ? Array.from({ length: D }, (_, j) => x[r * D + j]) : []));
  assertClose(rowsOf(memory.data, srcMask), rowsOf(fx.expected.memory.data, srcMask), 'encoder output', FWD.rtol, FWD.atol);
  assertClose(rowsOf(out.data, tgtMask), rowsOf(fx.expected.out.data, tgtMask), 'decoder output', FWD.rtol, FWD.atol);

  const masked = (proj: Entry, mask: Uint8Array, rows: number): Tensor => {
    const d = Float32Array.from(proj.data);
    for (let r = 0; r < rows; r++) if (!mask[r]) d.fill(0, r * D, (r + 1) * D);
    return new Tensor(d, [rows, D]);
  };
  const loss = ops.add(ops.sum(ops.mul(out, masked(fx.proj.out, tgtMask, B * T))), ops.sum(ops.mul(memory, masked(fx.proj.memory, srcMask, B * S))));
  assert.ok(Math.abs(loss.item() - fx.expected.loss) <= 1e-5 * Math.abs(fx.expected.loss) + 1e-5, `loss ${loss.item()} vs ${fx.expected.loss}`);
  for (const p of model.parameters()) p.zeroGrad();
  loss.backward();
  for (const { ours, torch, value } of map) {
    const p = byName.get(ours) as Tensor;
    assertClose(p.grad as Float32Array, value(fx.grads[torch]), `d loss / d ${ours}`, GRAD.rtol, GRAD.atol);
  }
  assertClose(src.grad as Float32Array, fx.grads.src.data, 'd loss / d src', GRAD.rtol, GRAD.atol);
  assertClose(tgt.grad as Float32Array, fx.grads.tgt.data, 'd loss / d tgt', GRAD.rtol, GRAD.atol);
});
