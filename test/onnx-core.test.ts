/**
 * The ONNX core: the graph builder and protobuf writer make models that
 * onnxruntime loads with every optimisation on and computes as s2s does
 * (linear, embedding, s2s's masked softmax, layer norm, GELU), with dynamic
 * batch and sequence axes; the header records opset, IR version and
 * producer; builder mistakes are caught before any bytes are written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder, layers, decodeModel, OPSET, IR_VERSION, DataType, declareInput, declareOutput, contractMarkdown, type TensorDoc } from '../src/onnx/index.js';
import { Tensor, ops, Rng } from '../src/engine/index.js';
import { loadSession, checkModelHeader, feed, floats, maxAbsDiff } from './helpers/onnx.js';

function randomFloats(n: number, rng: Rng, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng.next() * 2 - 1) * scale;
  return a;
}

test('linear, embedding, masked softmax, layer norm and GELU agree with s2s ops over a dynamic batch', async () => {
  const rng = new Rng(5);
  const V = 11, D = 6, S = 5;
  const table = randomFloats(V * D, rng);
  const kernel = randomFloats(D * D, rng);
  const bias = randomFloats(D, rng);
  const gamma = randomFloats(D, rng), beta = randomFloats(D, rng);
  const g = new GraphBuilder('core');
  const ids = g.input('ids', 'int64', ['batch', 'seq']);
  const mask = g.input('mask', 'bool', ['batch', 'seq']);
  const x = layers.embedding(g, g.initializer('table', table, [V, D]), ids);
  const y = layers.linear(g, x, g.initializer('kernel', kernel, [D, D]), g.initializer('bias', bias, [D]));
  const scores = g.op('ReduceSum', [y, g.int64([2])], { keepdims: 0 });
  g.output(layers.maskedSoftmax(g, scores, mask), 'weights', 'float', ['batch', 'seq']);
  g.output(layers.gelu(g, layers.layerNorm(g, y, g.initializer('gamma', gamma, [D]), g.initializer('beta', beta, [D]), 1e-5)), 'normed', 'float', ['batch', 'seq', D]);
  const bytes = g.encode({ metadata: { what: 'core test' } });
  const header = checkModelHeader(bytes);
  assert.deepEqual(header, { opset: OPSET, irVersion: IR_VERSION, producer: 's2s' });
  assert.deepEqual(decodeModel(bytes).metadataProps, [{ key: 'what', value: 'core test' }]);
  const session = await loadSession(bytes);

  for (const B of [1, 3]) {
    const idData = Int32Array.from({ length: B * S }, (_, i) => (i * 7 + 3) % V);
    // Row 0 has 3 real positions; row 1 (when present) none at all; the rest all.
    const maskData = Uint8Array.from({ length: B * S }, (_, i) => (Math.floor(i / S) === 0 ? (i % S < 3 ? 1 : 0) : Math.floor(i / S) === 1 ? 0 : 1));
    const out = await session.run({ ids: feed.int64(idData, [B, S]), mask: feed.bool(maskData, [B, S]) });
    // The same computation with s2s's ops.
    const yRef = ops.add(ops.matmul(ops.gatherRows(new Tensor(table, [V, D]), idData), new Tensor(kernel, [D, D])), new Tensor(bias, [D]));
    const sums = new Float32Array(B * S);
    for (let r = 0; r < B * S; r++) for (let j = 0; j < D; j++) sums[r] += yRef.data[r * D + j];
    const wRef = ops.softmax(new Tensor(sums, [B, S]), maskData);
    assert.deepEqual(out.weights.dims, [B, S]);
    assert.ok(maxAbsDiff(floats(out.weights), wRef.data) < 1e-6, 'masked softmax');
    if (B > 1) assert.deepEqual(Array.from(floats(out.weights).subarray(S, 2 * S)), [0, 0, 0, 0, 0], 'a row without real positions is zeros');
    const nRef = ops.gelu(ops.layerNorm(yRef, new Tensor(gamma, [D]), new Tensor(beta, [D]), 1e-5));
    assert.ok(maxAbsDiff(floats(out.normed), nRef.data) < 1e-5, 'layer norm + GELU');
  }
});

test('initializers keep their element types and dims; int64 constants are shared', () => {
  const g = new GraphBuilder('types');
  const x = g.input('x', 'float', ['batch', 3]);
  const a = g.int64([1, -1]);
  assert.equal(g.int64([1, -1]), a, 'one initializer per distinct constant');
  g.initializer('i32', Int32Array.from([1, 2, 3]), [3]);
  g.output(g.op('Reshape', [x, a]), 'y', 'float', ['batch', 3]);
  const m = decodeModel(g.encode());
  const byName = new Map(m.graph.initializer.map((t) => [t.name, t]));
  assert.equal(byName.get(a)?.dataType, DataType.int64);
  assert.deepEqual(byName.get(a)?.dims, [2]);
  assert.equal(byName.get('i32')?.dataType, DataType.int32);
  assert.deepEqual(Array.from(new Int32Array(Uint8Array.from(byName.get('i32')?.rawData ?? []).buffer)), [1, 2, 3]);
  assert.deepEqual(m.graph.input[0].type.tensorType.shape.dim, [{ dimParam: 'batch' }, { dimValue: 3 }]);
});

test('builder mistakes are caught when the graph is built', () => {
  const g = new GraphBuilder('bad');
  g.input('x', 'float', [2]);
  assert.throws(() => g.op('Relu', ['nothing']), /reads nothing, which no node, input or initializer defines/);
  assert.throws(() => g.op('Softmax', ['x'], { axis: 0.5 }), /0\.5 is not an integer \(use \{ float: 0\.5 \}\)/);
  assert.throws(() => g.input('x', 'float', [2]), /the name x is taken/);
  assert.throws(() => g.initializer('w', new Float32Array(3), [2, 2]), /3 elements for dims \[2, 2\]/);
});

test('the contract declares graph inputs and outputs and renders their README tables', () => {
  const g = new GraphBuilder('c');
  const inDoc: TensorDoc = { name: 'src_ids', type: 'int64', dims: ['batch', 'src_len'], meaning: 'source ids | padded' };
  const outDoc: TensorDoc = { name: 'out', type: 'int64', dims: ['batch', 'src_len'], meaning: 'the same' };
  declareOutput(g, declareInput(g, inDoc), outDoc);
  assert.deepEqual(g.signature.inputs.map((i) => i.name), ['src_ids']);
  const md = contractMarkdown({
    format: 's2s-onnx', version: 1, architecture: 'x', config: {}, opset: OPSET, irVersion: IR_VERSION, weights: 'float32',
    encoder: { file: 'encoder.onnx', inputs: [inDoc], outputs: [outDoc] },
    decoder: { file: 'decoder_step.onnx', inputs: [], outputs: [], tokens: 'tokens', logits: 'logits', attention: null, state: [{ input: 'h', initial: 'h', next: 'next_h' }], constants: [] },
    targetTokens: { pad: 0, bos: 1, eos: 2, unk: 3 }, maxSourceLength: null, maxOutputLength: 10,
  });
  assert.match(md, /\| `src_ids` \| int64 \| `\[batch, src_len\]` \| source ids \\\| padded \|/);
  assert.match(md, /\| `h` \| encoder `h` \| `next_h` \|/);
});
