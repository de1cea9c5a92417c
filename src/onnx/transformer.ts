/**
 * The Transformer as two ONNX graphs, computing what `Transformer.encode`
 * and `Transformer.decodeStep` compute (src/model/transformer.ts):
 *
 * encoder.onnx: source ids and lengths → the key-padding mask, the memory,
 * every decoder block's cross-attention keys and values (projected once per
 * sentence, [batch, heads, src_len, head_dim]) and an empty self-attention
 * cache per block ([batch, heads, 0, head_dim]).
 *
 * decoder_step.onnx: the previous token of each row, the self-attention
 * cache of the past_len positions so far, the cross keys/values and the mask
 * → logits, the caches one position longer (the new key/value concatenated
 * on axis 2, as fairseq's and Hugging Face's past_key_values), and the last
 * block's cross-attention weights averaged over heads. The step's position
 * is past_len (the cache's axis 2): every row of a batch is at the same step,
 * as in s2s.
 *
 * Positions come from a table of `maxPositions` rows in both graphs: s2s's
 * own sinusoidal table (so the values are the same floats), or the learned
 * one, whose rows past the end are clamped to the last as s2s does.
 * Padding: masked keys get probability 0 and a row with no real key attends
 * to nothing (zeros), as s2s's attention kernel; a sentence's outputs do not
 * depend on the other rows of its batch.
 */
import { sinusoidalPositions } from '../engine/index.js';
import type { Transformer } from '../model/transformer.js';
import type { MultiHeadAttention, FeedForward, LayerNorm } from '../model/transformer-layers.js';
import { decoderLayerCount } from '../model/config.js';
import { GraphBuilder, type Value } from './graph.js';
import { weight, linear, embedding, maskedSoftmax, layerNorm, gelu, reshape, transpose, unsqueeze, squeeze, concat, split, dim } from './layers.js';
import { declareInput, declareOutput, NAMES, type ExportedGraphs, type GraphExportOptions, type TensorDoc, type StateLink, type ConstantLink } from './contract.js';

/** Graph names of the Transformer's tensors (block index l from 0). */
export const TRANSFORMER_NAMES = {
  /** encoder output and decoder input: bool [batch, src_len], true at real source positions. */
  srcMask: 'src_mask',
  /** encoder output: float [batch, src_len, model_dim], the encoder stack's output (not needed by decoder_step). */
  memory: 'memory',
  crossKey: (l: number | string) => `cross_key_${l}`,
  crossValue: (l: number | string) => `cross_value_${l}`,
  selfKey: (l: number | string) => `self_key_${l}`,
  selfValue: (l: number | string) => `self_value_${l}`,
} as const;

/** Epsilon of every s2s layer norm (LayerNorm.apply). */
const LN_EPSILON = 1e-5;

/** A named s2s parameter (an engine Tensor fits). */
interface Param {
  data: Float32Array;
  shape: readonly number[];
  name?: string;
}

/** Dense layer weights as s2s holds them. */
interface Dense {
  kernel: Param;
  bias: Param;
}

/** One graph's emitter: the builder, the model's sizes, and the weights' initializers by s2s parameter name. */
class Emitter {
  readonly g: GraphBuilder;
  readonly D: number;
  readonly heads: number;
  readonly headDim: number;
  private readonly weights = new Map<string, Value>();

  constructor(name: string, readonly model: Transformer) {
    this.g = new GraphBuilder(name);
    this.D = model.config.modelDim;
    this.heads = model.config.heads;
    this.headDim = this.D / this.heads;
  }

  /** A parameter as an initializer named after it (once per graph, however often it is used). */
  param(t: Param): Value {
    const key = t.name ?? '';
    let v = this.weights.get(key);
    if (!v) {
      v = weight(this.g, key || 'weight', t);
      if (key) this.weights.set(key, v);
    }
    return v;
  }

  dense(x: Value, d: Dense, name: string): Value {
    return linear(this.g, x, this.param(d.kernel), this.param(d.bias), name);
  }

  norm(x: Value, n: LayerNorm): Value {
    return layerNorm(this.g, x, this.param(n.gain), this.param(n.bias), LN_EPSILON, n.name);
  }

  /** [B, T, D] → [B, H, T, hd]. */
  splitHeads(x: Value, name: string): Value {
    return transpose(this.g, reshape(this.g, x, [0, 0, this.heads, this.headDim], `${name}/reshape`), [0, 2, 1, 3], `${name}/heads`);
  }

  /** [B, H, T, hd] → [B, T, D]. */
  mergeHeads(x: Value, name: string): Value {
    return reshape(this.g, transpose(this.g, x, [0, 2, 1, 3], `${name}/merge`), [0, 0, this.D], `${name}/concat_heads`);
  }

  /**
   * softmax(q·kᵀ/√hd) over the keys, masked by `keyMask` (bool, broadcast to [B, H, Tq, Tk]) or all real;
   * q [B, H, Tq, hd], k and v [B, H, Tk, hd] → the output projection of the heads' context [B, Tq, D], and the probabilities.
   */
  attend(att: MultiHeadAttention, q: Value, k: Value, v: Value, keyMask: Value | null, name: string): { out: Value; probs: Value } {
    const g = this.g;
    const scores = g.op('Mul', [g.op('MatMul', [q, transpose(g, k, [0, 1, 3, 2], `${name}/keys_t`)], {}, `${name}/scores`), g.float([1 / Math.sqrt(this.headDim)])], {}, `${name}/scaled`);
    const probs = keyMask ? maskedSoftmax(g, scores, keyMask, -1, `${name}/softmax`) : g.op('Softmax', [scores], { axis: -1 }, `${name}/softmax`);
    const context = this.mergeHeads(g.op('MatMul', [probs, v], {}, `${name}/context`), name);
    return { out: this.dense(context, att.out, `${name}/output`), probs };
  }

  /** Self-attention q, k, v of x [B, T, D] (the fused [D, 3D] projection, split), each [B, H, T, hd]. */
  projectQKV(att: MultiHeadAttention, x: Value, name: string): [Value, Value, Value] {
    const qkv = att.qkv as Dense;
    const [q, k, v] = split(this.g, this.dense(x, qkv, `${name}/qkv`), [this.D, this.D, this.D], -1, `${name}/split`);
    return [this.splitHeads(q, `${name}/q`), this.splitHeads(k, `${name}/k`), this.splitHeads(v, `${name}/v`)];
  }

  /** Cross-attention keys and values of the memory [B, S, D], each [B, H, S, hd]. */
  projectKV(att: MultiHeadAttention, memory: Value, name: string): [Value, Value] {
    const [k, v] = split(this.g, this.dense(memory, att.kv as Dense, `${name}/kv`), [this.D, this.D], -1, `${name}/split`);
    return [this.splitHeads(k, `${name}/k`), this.splitHeads(v, `${name}/v`)];
  }

  feedForward(ff: FeedForward, x: Value, name: string): Value {
    const inner = this.dense(x, ff.inner, `${name}/inner`);
    const act = ff.activation === 'gelu' ? gelu(this.g, inner, `${name}/gelu`) : this.g.op('Relu', [inner], {}, `${name}/relu`);
    return this.dense(act, ff.outer, `${name}/outer`);
  }

  /** Pre-LN x + f(LN(x)), or post-LN LN(x + f(x)) (transformer-layers.ts `residual`, no dropout). */
  residual(x: Value, norm: LayerNorm, f: (h: Value) => Value): Value {
    const g = this.g;
    if (this.model.config.postNorm) return this.norm(g.op('Add', [x, f(x)], {}, `${norm.name}/residual`), norm);
    return g.op('Add', [x, f(this.norm(x, norm))], {}, `${norm.name}/residual`);
  }

  /**
   * The position table [maxPositions, D]: the learned parameter, or s2s's sinusoidal table (the same floats
   * s2s adds), and the position ids clamped to it as s2s clamps learned positions.
   */
  positions(learned: Param | null, ids: Value, side: string): Value {
    const g = this.g;
    const limit = this.model.config.maxPositions;
    const table = learned ? this.param(learned) : g.initializer(`${side}/sinusoidal_positions`, sinusoidalPositions(limit, this.D).data, [limit, this.D]);
    const clamped = learned ? g.op('Min', [ids, g.int64([limit - 1], [])], {}, `${side}/clamp_positions`) : ids;
    return g.op('Gather', [table, clamped], { axis: 0 }, `${side}/positions`);
  }

  /** Token embeddings scaled by √D plus positions (ops.embedPositions). */
  embed(table: Param, ids: Value, positions: Value, side: string): Value {
    const g = this.g;
    const tokens = embedding(g, this.param(table), ids, `${side}/embedding`);
    const scaled = g.op('Mul', [tokens, g.float([Math.fround(Math.sqrt(this.D))])], {}, `${side}/embedding_scale`);
    return g.op('Add', [scaled, positions], {}, `${side}/embedded`);
  }
}

/** The documented tensors of both graphs (one place, so the graphs and the README never differ). */
function transformerDocs(model: Transformer): {
  encoderInputs: TensorDoc[]; encoderOutputs: TensorDoc[]; decoderInputs: TensorDoc[]; decoderOutputs: TensorDoc[];
  state: StateLink[]; constants: ConstantLink[];
} {
  const c = model.config;
  const H = c.heads, hd = c.modelDim / c.heads;
  const L = decoderLayerCount(c);
  const dims = (len: string | number): (string | number)[] => ['batch', H, len, hd];
  const blocks = Array.from({ length: L }, (_, l) => l);
  const N = TRANSFORMER_NAMES;
  const encoderInputs: TensorDoc[] = [
    { name: NAMES.srcIds, type: 'int64', dims: ['batch', 'src_len'], meaning: 'Source token ids (vocab.json source side), PAD-padded on the right; no BOS or EOS.' },
    { name: NAMES.srcLengths, type: 'int64', dims: ['batch'], meaning: 'The number of real tokens of each row of src_ids (positions at or past it are padding and never attended).' },
  ];
  const encoderOutputs: TensorDoc[] = [
    { name: N.srcMask, type: 'bool', dims: ['batch', 'src_len'], meaning: 'True at real source positions: the key-padding mask of the cross-attention.' },
    { name: N.memory, type: 'float', dims: ['batch', 'src_len', c.modelDim], meaning: 'The encoder stack\'s output (after its final layer norm when pre-LN). decoder_step does not need it: it reads the keys/values projected from it.' },
    ...blocks.flatMap((l): TensorDoc[] => [
      { name: N.crossKey(l), type: 'float', dims: dims('src_len'), meaning: `Decoder block ${l}'s cross-attention keys of the memory, heads split (head h holds model columns h·${hd} …).` },
      { name: N.crossValue(l), type: 'float', dims: dims('src_len'), meaning: `Decoder block ${l}'s cross-attention values of the memory.` },
    ]),
    ...blocks.flatMap((l): TensorDoc[] => [
      { name: N.selfKey(l), type: 'float', dims: dims(0), meaning: `An empty self-attention key cache for decoder block ${l} (0 positions): the first step's self_key_${l}.` },
      { name: N.selfValue(l), type: 'float', dims: dims(0), meaning: `An empty self-attention value cache for decoder block ${l}.` },
    ]),
  ];
  const decoderInputs: TensorDoc[] = [
    { name: NAMES.tokens, type: 'int64', dims: ['batch'], meaning: 'The previous target token of each row: BOS on the first step, then the token chosen last step.' },
    { name: N.srcMask, type: 'bool', dims: ['batch', 'src_len'], meaning: 'The encoder\'s src_mask (rows as in the cross keys/values).' },
    ...blocks.flatMap((l): TensorDoc[] => [
      { name: N.selfKey(l), type: 'float', dims: dims('past_len'), meaning: `Decoder block ${l}'s self-attention keys of the past_len target positions decoded so far. past_len is the step index (0 on the first step) and the position of this step's token; it must be the same in every block.` },
      { name: N.selfValue(l), type: 'float', dims: dims('past_len'), meaning: `Decoder block ${l}'s self-attention values of the positions so far.` },
    ]),
    ...blocks.flatMap((l): TensorDoc[] => [
      { name: N.crossKey(l), type: 'float', dims: dims('src_len'), meaning: `The encoder's cross_key_${l}.` },
      { name: N.crossValue(l), type: 'float', dims: dims('src_len'), meaning: `The encoder's cross_value_${l}.` },
    ]),
  ];
  const decoderOutputs: TensorDoc[] = [
    { name: NAMES.logits, type: 'float', dims: ['batch', c.tgtVocabSize], meaning: 'Next-token scores (pre-softmax; log-softmax gives s2s\'s log-probabilities).' },
    ...blocks.flatMap((l): TensorDoc[] => [
      { name: NAMES.nextPrefix + N.selfKey(l), type: 'float', dims: dims('past_len_plus_1'), meaning: `self_key_${l} with this step's key appended on axis 2 (past_len + 1 positions).` },
      { name: NAMES.nextPrefix + N.selfValue(l), type: 'float', dims: dims('past_len_plus_1'), meaning: `self_value_${l} with this step's value appended on axis 2.` },
    ]),
    { name: NAMES.attention, type: 'float', dims: ['batch', 'src_len'], meaning: 'The last decoder block\'s cross-attention probabilities averaged over heads (0 at padding), as s2s\'s attention map.' },
  ];
  const state: StateLink[] = blocks.flatMap((l) => [N.selfKey(l), N.selfValue(l)].map((n) => ({ input: n, initial: n, next: NAMES.nextPrefix + n })));
  const constants: ConstantLink[] = [N.srcMask, ...blocks.flatMap((l) => [N.crossKey(l), N.crossValue(l)])].map((n) => ({ input: n, from: n }));
  return { encoderInputs, encoderOutputs, decoderInputs, decoderOutputs, state, constants };
}

function byName(docs: readonly TensorDoc[], name: string): TensorDoc {
  const d = docs.find((x) => x.name === name);
  if (!d) throw new Error(`ONNX Transformer export: no documented tensor ${name}`);
  return d;
}

function encoderGraph(model: Transformer, docs: ReturnType<typeof transformerDocs>): GraphBuilder {
  const e = new Emitter('s2s_transformer_encoder', model);
  const g = e.g;
  const N = TRANSFORMER_NAMES;
  const ids = declareInput(g, byName(docs.encoderInputs, NAMES.srcIds));
  const lengths = declareInput(g, byName(docs.encoderInputs, NAMES.srcLengths));
  const srcLen = squeeze(g, dim(g, ids, 1, 'src_len'), [0], 'src_len_scalar');
  const range = g.op('Range', [g.int64([0], []), srcLen, g.int64([1], [])], {}, 'source_positions');
  const mask = g.op('Less', [unsqueeze(g, range, [0]), unsqueeze(g, lengths, [1])], {}, 'src_mask');
  // [B, 1, 1, S]: every head and query of a row sees the same keys.
  const keyMask = unsqueeze(g, mask, [1, 2], 'key_mask');

  let h = e.embed(model.srcEmbedding, ids, e.positions(model.srcPositions, range, 'encoder'), 'encoder');
  for (const block of model.encoder) {
    const name = block.name;
    h = e.residual(h, block.norm1, (x) => {
      const [q, k, v] = e.projectQKV(block.selfAttention, x, `${name}/self_attention`);
      return e.attend(block.selfAttention, q, k, v, keyMask, `${name}/self_attention`).out;
    });
    h = e.residual(h, block.norm2, (x) => e.feedForward(block.feedForward, x, `${name}/feed_forward`));
  }
  const memory = model.encoderNorm ? e.norm(h, model.encoderNorm) : h;

  declareOutput(g, mask, byName(docs.encoderOutputs, N.srcMask));
  declareOutput(g, memory, byName(docs.encoderOutputs, N.memory));
  const empties: Value[] = [];
  model.decoder.forEach((block, l) => {
    const [k, v] = e.projectKV(block.crossAttention, memory, `${block.name}/cross_attention`);
    declareOutput(g, k, byName(docs.encoderOutputs, N.crossKey(l)));
    declareOutput(g, v, byName(docs.encoderOutputs, N.crossValue(l)));
    if (l === 0) empties.push(k);
  });
  // The empty caches: [B, H, 0, hd] slices of a tensor with the batch's rows (ONNX has no "zeros of a shape" without one).
  if (empties.length > 0) {
    const empty = g.op('Slice', [empties[0], g.int64([0]), g.int64([0]), g.int64([2])], {}, 'empty_cache');
    model.decoder.forEach((_, l) => {
      declareOutput(g, g.op('Identity', [empty], {}, `empty_key_${l}`), byName(docs.encoderOutputs, N.selfKey(l)));
      declareOutput(g, g.op('Identity', [empty], {}, `empty_value_${l}`), byName(docs.encoderOutputs, N.selfValue(l)));
    });
  }
  return g;
}

function decoderGraph(model: Transformer, docs: ReturnType<typeof transformerDocs>): GraphBuilder {
  const e = new Emitter('s2s_transformer_decoder_step', model);
  const g = e.g;
  const N = TRANSFORMER_NAMES;
  const L = model.decoder.length;
  const tokens = declareInput(g, byName(docs.decoderInputs, NAMES.tokens));
  const mask = declareInput(g, byName(docs.decoderInputs, N.srcMask));
  const selfK: Value[] = [], selfV: Value[] = [], crossK: Value[] = [], crossV: Value[] = [];
  for (let l = 0; l < L; l++) {
    selfK.push(declareInput(g, byName(docs.decoderInputs, N.selfKey(l))));
    selfV.push(declareInput(g, byName(docs.decoderInputs, N.selfValue(l))));
  }
  for (let l = 0; l < L; l++) {
    crossK.push(declareInput(g, byName(docs.decoderInputs, N.crossKey(l))));
    crossV.push(declareInput(g, byName(docs.decoderInputs, N.crossValue(l))));
  }
  const keyMask = unsqueeze(g, mask, [1, 2], 'key_mask');
  // This step's position: the number of cached positions, [1].
  const step = dim(g, selfK[0], 2, 'past_len');
  const y = e.embed(model.tgtEmbedding, tokens, e.positions(model.tgtPositions, step, 'decoder'), 'decoder');
  let h = unsqueeze(g, y, [1], 'decoder/one_position'); // [B, 1, D]
  const last: { probs: Value | null } = { probs: null };
  model.decoder.forEach((block, l) => {
    const name = block.name;
    h = e.residual(h, block.norm1, (x) => {
      const [q, k, v] = e.projectQKV(block.selfAttention, x, `${name}/self_attention`);
      const keys = concat(g, [selfK[l], k], 2, `${name}/self_attention/append_key`);
      const values = concat(g, [selfV[l], v], 2, `${name}/self_attention/append_value`);
      declareOutput(g, keys, byName(docs.decoderOutputs, NAMES.nextPrefix + N.selfKey(l)));
      declareOutput(g, values, byName(docs.decoderOutputs, NAMES.nextPrefix + N.selfValue(l)));
      // Every cached position is real and earlier than this one: no mask.
      return e.attend(block.selfAttention, q, keys, values, null, `${name}/self_attention`).out;
    });
    h = e.residual(h, block.norm2, (x) => {
      const att = block.crossAttention;
      const q = e.splitHeads(e.dense(x, att.query as Dense, `${name}/cross_attention/query`), `${name}/cross_attention/q`);
      const r = e.attend(att, q, crossK[l], crossV[l], keyMask, `${name}/cross_attention`);
      if (l === L - 1) last.probs = r.probs;
      return r.out;
    });
    h = e.residual(h, block.norm3, (x) => e.feedForward(block.feedForward, x, `${name}/feed_forward`));
  });
  if (model.decoderNorm) h = e.norm(h, model.decoderNorm);
  const out = squeeze(g, h, [1], 'decoder/output_state'); // [B, D]
  const logits = model.outputKernel
    ? e.dense(out, { kernel: model.outputKernel, bias: model.outputBias as Dense['bias'] }, 'output')
    : g.op('Gemm', [out, e.param(model.tgtEmbedding)], { transB: 1 }, 'output/tied'); // h·Eᵀ, sharing the embedding's initializer
  declareOutput(g, logits, byName(docs.decoderOutputs, NAMES.logits));
  // [B, H, 1, S] → mean over heads → [B, S].
  const mean = g.op('ReduceMean', [last.probs as Value], { axes: [1, 2], keepdims: 0 }, 'attention/mean_heads');
  declareOutput(g, mean, byName(docs.decoderOutputs, NAMES.attention));
  return g;
}

/** encoder.onnx and decoder_step.onnx of a Transformer, and their part of the contract. */
export function exportTransformerGraphs(model: Transformer, options: GraphExportOptions): ExportedGraphs {
  const docs = transformerDocs(model);
  const modelOptions = { producerVersion: options.producerVersion, metadata: options.metadata };
  const encoder = encoderGraph(model, docs).encode({ ...modelOptions, doc: 's2s Transformer encoder: source ids → mask, memory, cross-attention keys/values, empty caches' });
  const decoder = decoderGraph(model, docs).encode({ ...modelOptions, doc: 's2s Transformer decoder step: previous tokens + caches → logits, grown caches, attention' });
  return {
    encoder, decoder,
    contract: {
      encoder: { file: NAMES.encoderFile, inputs: docs.encoderInputs, outputs: docs.encoderOutputs },
      decoder: {
        file: NAMES.decoderFile, inputs: docs.decoderInputs, outputs: docs.decoderOutputs,
        tokens: NAMES.tokens, logits: NAMES.logits, attention: NAMES.attention,
        state: docs.state, constants: docs.constants,
      },
    },
  };
}

/** The README section on the Transformer's state: the caches, how they grow, and how to reorder them in beam search. */
export function transformerReadme(config: { modelDim: number; heads: number; maxPositions: number; positions: string; encoderLayers: number; decoderLayers: number; layers: number }): string {
  const L = config.decoderLayers > 0 ? config.decoderLayers : config.layers;
  const hd = config.modelDim / config.heads;
  const last = L - 1;
  const N = TRANSFORMER_NAMES;
  return `## The Transformer's state

- **Self-attention cache.** For each of the ${L} decoder blocks (l = 0 … ${last}), \`${N.selfKey('l')}\` and \`${N.selfValue('l')}\`
  (float32 \`[batch, ${config.heads}, past_len, ${hd}]\`, heads split: head h holds model columns h·${hd} … h·${hd} + ${hd - 1}) hold the keys and
  values of the past_len target positions decoded so far (BOS is position 0). The encoder gives them empty (past_len = 0).
  Each step appends this step's key/value on axis 2: \`next_self_key_l\` has past_len + 1 positions and is fed back as
  \`self_key_l\` (the layout of fairseq's incremental state and Hugging Face's \`past_key_values\`).
- **Position.** The token fed at a step sits at position past_len, which decoder_step reads from axis 2 of \`${N.selfKey(0)}\`:
  every row of a batch is at the same step, and every block's cache must have the same length (as s2s decodes).
  ${config.positions === 'learned'
    ? `Positions are learned (${config.maxPositions} of them); a source or output position past the last reuses the last, as s2s does.`
    : `Positions are sinusoidal, from a table of ${config.maxPositions} rows (the model's maxPositions): a source longer than that, or a step past it, is an index error in the graph.`}
- **Cross-attention keys/values.** \`${N.crossKey('l')}\`, \`${N.crossValue('l')}\` (\`[batch, ${config.heads}, src_len, ${hd}]\`) are the memory
  projected once per sentence by the encoder, and \`${N.srcMask}\` (bool \`[batch, src_len]\`) marks its real positions. They are inputs of
  every step and never change.
- **Beam search.** After a step, let \`index\` be the rows (of this step's batch) that continue, in their new order, rows
  repeating where one hypothesis has several kept continuations. Gather axis 0 of every \`next_self_*\` by \`index\` to get the
  next step's \`self_*\`. Gather \`cross_*\` and \`${N.srcMask}\` by \`index\` too whenever the rows' sentences change: when a sentence's
  single BOS row becomes its K hypotheses, or when finished sentences leave the batch. (s2s does exactly this: it starts each
  sentence with one live hypothesis, keeps \`K − finished\` of them, and drops sentences as they end.) A decoder that instead
  tiles every encoder output K times up front and keeps \`batch·K\` rows throughout only reorders the self-attention caches.
- **Attention output.** \`attention\` is the last block's cross-attention probabilities averaged over the ${config.heads} heads (what s2s
  draws as the attention map); padded source positions get 0.
- **Memory.** \`memory\` (the encoder stack's output) is for callers who want it; decoder_step reads only the projected
  \`cross_*\` tensors.
`;
}
