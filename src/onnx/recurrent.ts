/**
 * The ONNX graphs of an RNN Seq2Seq (model/seq2seq.ts): every cell, stacking,
 * bidirectional encoder with its bridge, one-hot or embedded inputs, and
 * dot/general/additive attention with input feeding.
 *
 * The cells are ONNX's LSTM and GRU operators, which compute s2s's cells
 * exactly once the weights are laid out as ONNX wants them:
 *   - LSTM: s2s keeps Keras's gate order i, f, g(c), o; ONNX wants i, o, f, c,
 *     gates as rows (W [dirs, 4H, in]), and a bias of input + recurrent parts
 *     (s2s's single bias and zeros). No peepholes, default activations.
 *   - GRU: s2s's cell is reset-after (cuDNN, Keras reset_after=True) with gate
 *     order z, r, n, which is ONNX's z, r, h with linear_before_reset=1 and
 *     B = [input bias; recurrent bias].
 * The encoder passes `sequence_lens`, so each row stops at its own length:
 * padding never enters a state, and the reverse direction reads each row
 * backwards within its length — what s2s's packed sequences do. A sentence
 * therefore gets the same result alone or in a batch.
 * One-hot inputs (embeddingDim 0, the seed preset) feed OneHot(ids) to the
 * cell, whose W is s2s's kernel (x·W is a row of it).
 */
import type { Seq2Seq } from '../model/seq2seq.js';
import type { RecurrentLayer } from '../model/recurrent.js';
import { GraphBuilder, type Value } from './graph.js';
import { DataType } from './proto.js';
import { concat, embedding, linear, maskedSoftmax, squeeze, transpose, unsqueeze, weight, dim, reshape, dequantized, type Weight } from './layers.js';
import { int8Logical } from '../engine/index.js';
import { NAMES, declareInput, declareOutput, type ExportedGraphs, type GraphExportOptions, type TensorDoc, type StateLink, type ConstantLink } from './contract.js';

/** s2s gate index of each ONNX LSTM gate (ONNX i, o, f, c ← Keras i, f, g, o). */
const LSTM_GATES = [0, 3, 1, 2];
const GRU_GATES = [0, 1, 2];

/** kernel [in, G·H] (s2s) → rows [G·H, in] in ONNX gate order (float32 or int8 values). */
function gateRows<T extends Float32Array | Int8Array>(kernel: T, inSize: number, H: number, order: readonly number[]): T {
  const G = order.length * H;
  const out = new (kernel.constructor as new (n: number) => T)(G * inSize);
  order.forEach((s, k) => {
    for (let j = 0; j < H; j++) {
      const row = (k * H + j) * inSize, col = s * H + j;
      for (let x = 0; x < inSize; x++) out[row + x] = kernel[x * G + col];
    }
  });
  return out;
}

function gateVector(bias: Float32Array | null, H: number, order: readonly number[]): Float32Array {
  const out = new Float32Array(order.length * H);
  if (bias) order.forEach((s, k) => out.set(bias.subarray(s * H, (s + 1) * H), k * H));
  return out;
}

/** The input kernel of a layer, with the input-feeding rows appended below it when present. */
function inputKernel(layer: RecurrentLayer): { data: Float32Array; rows: number } {
  if (!layer.feedKernel) return { data: layer.kernel.data, rows: layer.inputSize };
  const data = new Float32Array((layer.inputSize + layer.feedSize) * layer.kernel.shape[1]);
  data.set(layer.kernel.data);
  data.set(layer.feedKernel.data, layer.kernel.data.length);
  return { data, rows: layer.inputSize + layer.feedSize };
}

/** The kernels of a layer that read its input, in ONNX's column order of W: the input kernel, then input feeding. */
function inputKernels(layer: RecurrentLayer): Weight[] {
  return layer.feedKernel ? [layer.kernel, layer.feedKernel] : [layer.kernel];
}

/**
 * W or R of an ONNX LSTM/GRU node from int8 kernels ([in, G·H] each, s2s layout): every direction's
 * every kernel becomes an int8 [1, G·H, in] block in ONNX gate order with its own DequantizeLinear —
 * axis 1 for scales per gate unit (s2s's per-column scales, reordered with the gates), axis 2 for
 * per-input-row scales (the one-hot layer 0, whose kernel s2s gathers by token) — and the blocks are
 * concatenated along the input axis (input feeding) and then the directions. Float kernels among them
 * stay float blocks.
 */
function gateWeightInt8(g: GraphBuilder, name: string, dirs: Weight[][], H: number, order: readonly number[]): Value {
  const G = order.length * H;
  const perDir = dirs.map((parts, d) => concat(g, parts.map((w, k) => {
    const inSize = w.shape[0];
    const part = `${name}/dir${d}_part${k}`;
    if (!w.int8) return g.initializer(part, gateRows(w.data, inSize, H, order), [1, G, inSize]);
    const rows = gateRows(int8Logical(w.int8), inSize, H, order);
    return w.int8.axis === 1
      ? dequantized(g, part, rows, gateVector(w.int8.scales, H, order), [1, G, inSize], 1)
      : dequantized(g, part, rows, w.int8.scales, [1, G, inSize], 2);
  }), 2, `${name}/dir${d}`));
  return concat(g, perDir, 0, name);
}

/**
 * An ONNX LSTM/GRU node over X [seq, batch, in] for the given directions (forward, then reverse);
 * returns Y [seq, dirs, batch, H], Y_h [dirs, batch, H] and, for LSTMs, Y_c.
 */
function recurrentNode(
  g: GraphBuilder, name: string, dirs: RecurrentLayer[], x: Value,
  init: { h: Value; c: Value | null } | null, seqLens: Value | null,
): { y: Value; yh: Value; yc: Value | null } {
  const first = dirs[0];
  const H = first.hidden;
  const lstm = first.cell === 'lstm';
  const order = lstm ? LSTM_GATES : GRU_GATES;
  const G = order.length * H;
  const B = new Float32Array(dirs.length * 2 * G);
  dirs.forEach((layer, d) => {
    B.set(gateVector(layer.bias.data, H, order), d * 2 * G);
    B.set(gateVector(layer.recurrentBias?.data ?? null, H, order), (d * 2 + 1) * G);
  });
  let w: Value, r: Value;
  if (dirs.some((l) => [...inputKernels(l), l.recurrentKernel].some((k) => k.int8))) {
    w = gateWeightInt8(g, `${name}/W`, dirs.map(inputKernels), H, order);
    r = gateWeightInt8(g, `${name}/R`, dirs.map((l) => [l.recurrentKernel]), H, order);
  } else {
    const kernels = dirs.map(inputKernel);
    const inSize = kernels[0].rows;
    const W = new Float32Array(dirs.length * G * inSize);
    const R = new Float32Array(dirs.length * G * H);
    dirs.forEach((layer, d) => {
      W.set(gateRows(kernels[d].data, inSize, H, order), d * G * inSize);
      R.set(gateRows(layer.recurrentKernel.data, H, H, order), d * G * H);
    });
    w = g.initializer(`${name}/W`, W, [dirs.length, G, inSize]);
    r = g.initializer(`${name}/R`, R, [dirs.length, G, H]);
  }
  const inputs = [
    x, w, r,
    g.initializer(`${name}/B`, B, [dirs.length, 2 * G]),
    seqLens ?? '',
    init?.h ?? '',
  ];
  if (lstm) inputs.push(init?.c ?? '');
  const attrs = { hidden_size: H, direction: dirs.length === 2 ? 'bidirectional' : 'forward', ...(lstm ? {} : { linear_before_reset: 1 }) };
  const outs = g.node(lstm ? 'LSTM' : 'GRU', inputs, attrs, lstm ? 3 : 2, name);
  return { y: outs[0], yh: outs[1], yc: lstm ? outs[2] : null };
}

/** [dirs, batch, H] → [batch, dirs·H] (forward part first). */
function joinDirections(g: GraphBuilder, v: Value, name: string): Value {
  return reshape(g, transpose(g, v, [1, 0, 2], `${name}/t`), [0, -1], name);
}

/** The cell input of layer 0: embedded tokens, or their one-hot vectors. */
function tokenInput(g: GraphBuilder, table: Value | null, vocab: number, ids: Value, name: string): Value {
  if (table) return embedding(g, table, ids, name);
  return g.op('OneHot', [ids, g.int64([vocab], []), g.float([0, 1])], { axis: -1 }, name);
}

interface Sizes {
  H: number;
  L: number;
  /** Encoder output width (dirs·H). */
  D: number;
  /** Key width (D for dot attention, H otherwise). */
  K: number;
  lstm: boolean;
  attention: boolean;
  /** memory_keys is its own tensor (general, additive). */
  keys: boolean;
}

function sizesOf(model: Seq2Seq): Sizes {
  const c = model.config;
  const D = (c.bidirectional ? 2 : 1) * c.latentDim;
  return {
    H: c.latentDim, L: c.layers, D, K: c.attention === 'dot' ? D : c.latentDim,
    lstm: c.cell === 'lstm', attention: model.attention !== null, keys: c.attention === 'general' || c.attention === 'additive',
  };
}

/** The documented tensors shared by the two graphs. */
function docs(model: Seq2Seq, s: Sizes) {
  const c = model.config;
  const cell = c.cell.toUpperCase();
  return {
    srcIds: { name: NAMES.srcIds, type: 'int64', dims: ['batch', 'src_len'], meaning: `Source token ids (vocab.json "source"), one sentence per row, no BOS/EOS, padded with PAD (${0}) after each row's length.` } as TensorDoc,
    srcLengths: { name: NAMES.srcLengths, type: 'int64', dims: ['batch'], meaning: 'Number of real tokens in each row of src_ids (≥ 1; positions from it on are padding and never read).' } as TensorDoc,
    h: { name: 'h', type: 'float', dims: ['batch', s.L, s.H], meaning: `${cell} hidden state of each decoder layer (layer 0 first).` } as TensorDoc,
    c: { name: 'c', type: 'float', dims: ['batch', s.L, s.H], meaning: 'LSTM cell state of each decoder layer.' } as TensorDoc,
    memory: { name: 'memory', type: 'float', dims: ['batch', 'src_len', s.D], meaning: `Top encoder layer's output at every source position${c.bidirectional ? ' ([forward; backward])' : ''}; zeros at padding.` } as TensorDoc,
    memoryKeys: { name: 'memory_keys', type: 'float', dims: ['batch', 'src_len', s.K], meaning: `Attention keys: memory · W_${c.attention === 'general' ? 'a' : 'k'}, computed once per sentence.` } as TensorDoc,
    srcMask: { name: 'src_mask', type: 'bool', dims: ['batch', 'src_len'], meaning: 'True at real source positions (attention never looks at the others).' } as TensorDoc,
    feed: { name: 'feed', type: 'float', dims: ['batch', s.H], meaning: 'Input feeding: the previous step\'s attentional vector (zeros before the first step).' } as TensorDoc,
  };
}

function encoderGraph(model: Seq2Seq, s: Sizes, d: ReturnType<typeof docs>, options: GraphExportOptions): { bytes: Uint8Array; outputs: TensorDoc[] } {
  const c = model.config;
  const g = new GraphBuilder('s2s_encoder');
  const ids = declareInput(g, d.srcIds);
  const lengths = declareInput(g, d.srcLengths);
  const seqLens = g.op('Cast', [lengths], { to: DataType.int32 }, 'seq_lens');
  const idsT = transpose(g, ids, [1, 0], 'ids_time_major');
  const table = model.srcEmbedding ? weight(g, 'encoder/embedding', model.srcEmbedding) : null;
  let x = tokenInput(g, table, c.srcVocabSize, idsT, 'encoder/input');
  const hs: Value[] = [];
  const cs: Value[] = [];
  let top: Value = x;
  for (let l = 0; l < s.L; l++) {
    const dirs = [model.encoder[l], ...(c.bidirectional ? [model.encoderReverse[l]] : [])];
    const r = recurrentNode(g, `encoder/${c.cell}_${l}`, dirs, x, null, seqLens);
    // Y [seq, dirs, batch, H] → [seq, batch, dirs·H]: the next layer's input.
    top = reshape(g, transpose(g, r.y, [0, 2, 1, 3], `encoder/${l}/y_t`), [0, 0, -1], `encoder/${l}/output`);
    x = top;
    if (c.bidirectional) {
      const b = model.bridges[l];
      const joined = joinDirections(g, r.yh, `bridge/${l}/h_in`);
      hs.push(g.op('Tanh', [linear(g, joined, weight(g, `bridge/h_${l}/kernel`, b.h[0]), weight(g, `bridge/h_${l}/bias`, b.h[1]), `bridge/h_${l}`)], {}, `bridge/h_${l}/tanh`));
      if (b.c && r.yc) cs.push(linear(g, joinDirections(g, r.yc, `bridge/${l}/c_in`), weight(g, `bridge/c_${l}/kernel`, b.c[0]), weight(g, `bridge/c_${l}/bias`, b.c[1]), `bridge/c_${l}`));
    } else {
      hs.push(squeeze(g, r.yh, [0], `encoder/${l}/h`));
      if (r.yc) cs.push(squeeze(g, r.yc, [0], `encoder/${l}/c`));
    }
  }
  const stack = (vs: Value[], name: string): Value => concat(g, vs.map((v, l) => unsqueeze(g, v, [1], `${name}/${l}`)), 1, name);
  const outputs: TensorDoc[] = [d.h];
  declareOutput(g, stack(hs, 'h_stack'), d.h);
  if (s.lstm) {
    declareOutput(g, stack(cs, 'c_stack'), d.c);
    outputs.push(d.c);
  }
  if (model.attention) {
    // Real positions: t < length, for t in 0..src_len−1.
    const srcLen = g.op('Squeeze', [dim(g, ids, 1, 'src_len')], {}, 'src_len_scalar');
    const positions = g.op('Range', [g.int64([0], []), srcLen, g.int64([1], [])], {}, 'positions');
    const mask = g.op('Less', [unsqueeze(g, positions, [0], 'positions_row'), unsqueeze(g, lengths, [1], 'lengths_col')], {}, 'src_mask');
    const memory = g.op('Where', [unsqueeze(g, mask, [2], 'mask3'), transpose(g, top, [1, 0, 2], 'memory_batch_major'), g.float([0])], {}, 'memory');
    declareOutput(g, memory, d.memory);
    outputs.push(d.memory);
    if (s.keys) {
      declareOutput(g, linear(g, memory, weight(g, 'attention/key_kernel', model.attention.keyKernel as NonNullable<typeof model.attention.keyKernel>), undefined, 'attention/keys'), d.memoryKeys);
      outputs.push(d.memoryKeys);
    }
    declareOutput(g, mask, d.srcMask);
    outputs.push(d.srcMask);
    const feedShape = concat(g, [dim(g, ids, 0, 'batch'), g.int64([s.H])], 0, 'feed_shape');
    declareOutput(g, g.op('ConstantOfShape', [feedShape], { value: { tensor: { data: new Float32Array(1), dims: [1] } } }, 'feed_zeros'), d.feed);
    outputs.push(d.feed);
  }
  return { bytes: g.encode({ doc: `s2s encoder: ${model.config.cell} ${s.L}×${s.H}`, metadata: options.metadata, producerVersion: options.producerVersion }), outputs };
}

function decoderGraph(model: Seq2Seq, s: Sizes, d: ReturnType<typeof docs>, options: GraphExportOptions) {
  const c = model.config;
  const g = new GraphBuilder('s2s_decoder_step');
  const tokensDoc: TensorDoc = { name: NAMES.tokens, type: 'int64', dims: ['batch'], meaning: 'The previous output token of each row (vocab.json "target"): BOS (1) on the first step.' };
  const tokens = declareInput(g, tokensDoc);
  const inputs: TensorDoc[] = [tokensDoc, d.h];
  const state: StateLink[] = [{ input: 'h', initial: 'h', next: `${NAMES.nextPrefix}h` }];
  const constants: ConstantLink[] = [];
  const h = declareInput(g, d.h);
  let cIn: Value | null = null;
  if (s.lstm) {
    cIn = declareInput(g, d.c);
    inputs.push(d.c);
    state.push({ input: 'c', initial: 'c', next: `${NAMES.nextPrefix}c` });
  }
  let feed: Value | null = null, memory: Value | null = null, keys: Value | null = null, mask: Value | null = null;
  if (model.attention) {
    feed = declareInput(g, d.feed);
    state.push({ input: 'feed', initial: 'feed', next: `${NAMES.nextPrefix}feed` });
    memory = declareInput(g, d.memory);
    inputs.push(d.feed, d.memory);
    constants.push({ input: 'memory', from: 'memory' });
    if (s.keys) {
      keys = declareInput(g, d.memoryKeys);
      inputs.push(d.memoryKeys);
      constants.push({ input: 'memory_keys', from: 'memory_keys' });
    } else keys = memory;
    mask = declareInput(g, d.srcMask);
    inputs.push(d.srcMask);
    constants.push({ input: 'src_mask', from: 'src_mask' });
  }
  const table = model.tgtEmbedding ? weight(g, 'decoder/embedding', model.tgtEmbedding) : null;
  let x = tokenInput(g, table, c.tgtVocabSize, tokens, 'decoder/input');
  if (feed) x = concat(g, [x, feed], 1, 'decoder/input_feed');
  const hs: Value[] = [], cs: Value[] = [];
  let top: Value = x;
  for (let l = 0; l < s.L; l++) {
    const layerH = unsqueeze(g, g.op('Gather', [h, g.int64([l], [])], { axis: 1 }, `decoder/${l}/h0`), [0], `decoder/${l}/h0_dir`);
    const layerC = cIn ? unsqueeze(g, g.op('Gather', [cIn, g.int64([l], [])], { axis: 1 }, `decoder/${l}/c0`), [0], `decoder/${l}/c0_dir`) : null;
    const r = recurrentNode(g, `decoder/${c.cell}_${l}`, [model.decoder[l]], unsqueeze(g, x, [0], `decoder/${l}/x_seq`), { h: layerH, c: layerC }, null);
    top = squeeze(g, r.yh, [0], `decoder/${l}/h`);
    hs.push(top);
    if (r.yc) cs.push(squeeze(g, r.yc, [0], `decoder/${l}/c`));
    x = top;
  }
  const outputs: TensorDoc[] = [];
  const logitsDoc: TensorDoc = { name: NAMES.logits, type: 'float', dims: ['batch', c.tgtVocabSize], meaning: 'Next-token scores before softmax; s2s takes log-softmax for log-probabilities and the argmax (first index on ties) for greedy decoding.' };
  let attentionDoc: TensorDoc | null = null;
  let projected = top;
  let weightsOut: Value | null = null;
  if (model.attention && memory && keys && mask && feed) {
    const a = model.attention;
    let scores: Value;
    if (a.type === 'additive') {
      const q = linear(g, top, weight(g, 'attention/query_kernel', a.queryKernel as NonNullable<typeof a.queryKernel>), undefined, 'attention/query');
      const energy = g.op('Tanh', [g.op('Add', [keys, unsqueeze(g, q, [1], 'attention/query_row')], {}, 'attention/energy_in')], {}, 'attention/energy');
      scores = squeeze(g, g.op('MatMul', [energy, weight(g, 'attention/score_vector', a.scoreVector as NonNullable<typeof a.scoreVector>)], {}, 'attention/scores3'), [2], 'attention/scores');
    } else {
      scores = squeeze(g, g.op('MatMul', [keys, unsqueeze(g, top, [2], 'attention/query_col')], {}, 'attention/scores3'), [2], 'attention/scores');
    }
    weightsOut = maskedSoftmax(g, scores, mask, -1, 'attention/weights');
    const context = squeeze(g, g.op('MatMul', [unsqueeze(g, weightsOut, [1], 'attention/weights_row'), memory], {}, 'attention/context3'), [1], 'attention/context');
    projected = g.op('Tanh', [linear(g, concat(g, [context, top], 1, 'attention/combine_in'), weight(g, 'attention/combine_kernel', a.combineKernel), undefined, 'attention/combine')], {}, 'attention/attentional');
    attentionDoc = { name: NAMES.attention, type: 'float', dims: ['batch', 'src_len'], meaning: 'Attention weights over the source positions at this step (0 at padding; each row sums to 1).' };
  }
  // Logits: h·W + b, or h·Eᵀ + b when the output layer is tied to the target embedding.
  const outKernel = model.tiedOutput && table ? table : weight(g, 'output/kernel', model.outputKernel);
  const logits = g.op('Gemm', [projected, outKernel, weight(g, 'output/bias', model.outputBias)], { transB: model.tiedOutput ? 1 : 0 }, 'output/logits');
  declareOutput(g, logits, logitsDoc);
  outputs.push(logitsDoc);
  const stack = (vs: Value[], name: string): Value => concat(g, vs.map((v, l) => unsqueeze(g, v, [1], `${name}/${l}`)), 1, name);
  const nextDoc = (doc: TensorDoc): TensorDoc => ({ ...doc, name: `${NAMES.nextPrefix}${doc.name}`, meaning: `${doc.name} after this step (the next step's ${doc.name}).` });
  declareOutput(g, stack(hs, 'next_h_stack'), nextDoc(d.h));
  outputs.push(nextDoc(d.h));
  if (s.lstm) {
    declareOutput(g, stack(cs, 'next_c_stack'), nextDoc(d.c));
    outputs.push(nextDoc(d.c));
  }
  if (attentionDoc && weightsOut) {
    declareOutput(g, projected, nextDoc(d.feed));
    declareOutput(g, weightsOut, attentionDoc);
    outputs.push(nextDoc(d.feed), attentionDoc);
  }
  const bytes = g.encode({ doc: `s2s one-step decoder: ${c.cell} ${s.L}×${s.H}, attention ${c.attention}`, metadata: options.metadata, producerVersion: options.producerVersion });
  return { bytes, inputs, outputs, state, constants, attention: attentionDoc ? NAMES.attention : null };
}

/** encoder.onnx and decoder_step.onnx of an RNN model, and their contract. */
export function exportRecurrentGraphs(model: Seq2Seq, options: GraphExportOptions): ExportedGraphs {
  const s = sizesOf(model);
  const d = docs(model, s);
  const enc = encoderGraph(model, s, d, options);
  const dec = decoderGraph(model, s, d, options);
  return {
    encoder: enc.bytes,
    decoder: dec.bytes,
    contract: {
      encoder: { file: NAMES.encoderFile, inputs: [d.srcIds, d.srcLengths], outputs: enc.outputs },
      decoder: {
        file: NAMES.decoderFile, inputs: dec.inputs, outputs: dec.outputs,
        tokens: NAMES.tokens, logits: NAMES.logits, attention: dec.attention, state: dec.state, constants: dec.constants,
      },
    },
  };
}
