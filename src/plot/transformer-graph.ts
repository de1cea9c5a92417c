/**
 * The graphs of a Transformer (`arch: 'transformer'`), in the manner of
 * ./model-graph.ts's RNN graphs: the training model (teacher forcing), the
 * inference encoder model (which also projects the cross-attention keys and
 * values once per sentence) and the one-step decoder model (with its
 * self-attention key/value cache). One encoder layer and one decoder layer
 * are drawn, each inside a frame labelled "× N"; pre-LN (LayerNorm before
 * each sublayer, a final LayerNorm after the stack) and post-LN ("Add &
 * LayerNorm" after each residual add) are drawn as computed. Layer names are
 * the weights' name prefixes, with `layer_0` standing for every layer.
 */
import { encoderLayerCount, decoderLayerCount, type ModelConfig } from '../model/config.js';
import { GraphBuilder, formatShape, formatShapes, plural, type Dim, type GraphName, type ModelGraph } from './graph.js';

function fields(c: ModelConfig): ModelConfig & { enc: number; dec: number } {
  return { ...c, enc: encoderLayerCount(c), dec: decoderLayerCount(c) };
}

/** One line naming every Transformer option of the config. */
export function describeTransformer(c: ModelConfig): string {
  const t = fields(c);
  return [
    `Transformer, ${t.enc} + ${t.dec} layers × ${t.modelDim}`,
    `${plural(t.heads, 'head')}`,
    `feed-forward ${t.ffDim} ${t.activation === 'gelu' ? 'GELU' : 'ReLU'}`,
    t.postNorm ? 'post-LN' : 'pre-LN',
    t.positions === 'learned' ? `learned positions ≤ ${t.maxPositions}` : 'sinusoidal positions',
    t.tieEmbeddings ? 'tied embeddings' : 'separate embeddings',
    c.dropout > 0 || t.attentionDropout > 0 ? `dropout ${c.dropout}${t.attentionDropout > 0 ? `, attention ${t.attentionDropout}` : ''}` : 'no dropout',
    `vocabularies ${c.srcVocabSize} → ${c.tgtVocabSize}`,
  ].join(' · ');
}

const LANE = { encoder: 0, memory: 1, decoder: 2, cache: 3 } as const;

/** The training, encoder or one-step decoder graph of a Transformer config. */
export function transformerGraph(c: ModelConfig, name: GraphName): ModelGraph {
  const t = fields(c);
  const b = new GraphBuilder();
  const D = t.modelDim, H = t.heads, F = t.ffDim;
  const training = name === 'training';
  const step = name === 'decoder';
  const dropout = training ? c.dropout : 0;
  const attDropout = training ? t.attentionDropout : 0;
  const seq = (n: Dim): string => formatShape([null, null, n]);
  const root = Math.sqrt(D);
  const scale = Number.isInteger(root) ? String(root) : `√${D}`;
  const groups: ModelGraph['groups'] = [];

  /** Dropout node (training with dropout only); returns what follows `from`. */
  const drop = (id: string, from: string, lane: number, shape: string): string => {
    if (dropout <= 0) return from;
    b.node(id, 'dropout', lane, `Dropout(${dropout})`);
    b.edge(from, id, shape);
    return id;
  };

  /** Token ids → embedding × √d + positions (+ dropout). */
  const embed = (side: 'encoder' | 'decoder', vocab: number, from: string, lane: number, idsShape: string, x: (n: Dim) => string): string => {
    const table = t.tieEmbeddings ? 'embedding/shared' : `${side}/embedding`;
    const e = b.node(`${side}/embedding`, 'embedding', lane, `Embedding(${vocab}, ${D})`, `${table} · × ${scale}`,
      `learned ${D}-dimensional token embeddings${t.tieEmbeddings ? ', one table for source, target and the output layer' : ''}, scaled by √d_model = ${root.toFixed(2).replace(/\.?0+$/, '')}`);
    b.edge(from, e, idsShape);
    const p = b.node(`${side}/positions`, 'positions', lane,
      t.positions === 'sinusoidal' ? `+ SinusoidalPositions(${D})` : `+ PositionEmbedding(${t.maxPositions}, ${D})`,
      t.positions === 'sinusoidal' ? (step ? 'fixed sin/cos · position t' : 'fixed sin/cos, not learned') : `${side}/positions · learned${step ? ' · position t' : ''}`,
      (step ? 'the position of this step (the number of tokens already in the cache) is added' : 'the position p of each token is added') +
        (t.positions === 'sinusoidal' ? ': pe[p, 2i] = sin(p / 10000^(2i/d)), pe[p, 2i+1] = cos(…)' : `: row p of a learned table (positions past ${t.maxPositions} reuse the last row at inference)`));
    b.edge(e, p, x(D));
    return drop(`${side}/embedding_dropout`, p, lane, x(D));
  };

  const attentionTitle = (masked: boolean): string => `${masked ? 'Masked' : ''}MultiHeadAttention(${H} × ${D / H})`;
  const attDetail = (what: string): string =>
    `${what}; ${H} heads of ${D / H}: softmax(Q·Kᵀ / √${D / H}) · V per head, heads concatenated, then the output projection${attDropout > 0 ? `; dropout ${attDropout} on the probabilities` : ''}`;

  /**
   * One residual sublayer around `body` (which gets the sublayer's input and
   * returns its output node): pre-LN x + f(LN(x)), post-LN LN(x + f(x)).
   */
  const sublayer = (prefix: string, k: number, x: string, lane: number, shape: string, body: (input: string) => string): string => {
    let input = x;
    if (!t.postNorm) {
      input = b.node(`${prefix}/norm_${k}`, 'norm', lane, `LayerNorm(${D})`, `${prefix}/norm_${k}`, 'layer normalisation before the sublayer (pre-LN)');
      b.edge(x, input, shape);
    }
    const out = drop(`${prefix}/dropout_${k}`, body(input), lane, shape);
    const add = t.postNorm
      ? b.node(`${prefix}/add_norm_${k}`, 'add', lane, `Add & LayerNorm(${D})`, `${prefix}/norm_${k}`, 'residual add, then layer normalisation (post-LN)')
      : b.node(`${prefix}/add_${k}`, 'add', lane, 'Add', 'residual', 'residual add: the sublayer input plus its output');
    b.edge(out, add, shape);
    b.edge(x, add, shape);
    return add;
  };

  /** The feed-forward sublayer body: Dense(ff, activation) → Dense(d). */
  const feedForward = (prefix: string, input: string, lane: number, x: (n: Dim) => string): string => {
    const f1 = b.node(`${prefix}/feed_forward/inner`, 'dense', lane, `Dense(${F}, ${t.activation})`, `${prefix}/feed_forward/inner`, `position-wise feed-forward, inner width ${F}, ${t.activation === 'gelu' ? 'exact erf GELU' : 'ReLU'} fused into the GEMM`);
    b.edge(input, f1, x(D));
    const f2 = b.node(`${prefix}/feed_forward/outer`, 'dense', lane, `Dense(${D})`, `${prefix}/feed_forward/outer`, 'back to d_model');
    b.edge(f1, f2, x(F));
    return f2;
  };

  /** LayerNorm after a pre-LN stack (post-LN layers end normalised already). */
  const finalNorm = (side: string, x: string, lane: number, shape: string): string => {
    if (t.postNorm) return x;
    const n = b.node(`${side}/final_norm`, 'norm', lane, `LayerNorm(${D})`, `${side}/final_norm`, 'layer normalisation of the last layer\'s output (pre-LN stacks end with one)');
    b.edge(x, n, shape);
    return n;
  };

  // ---- encoder (training and encoder models) ----
  let memory = '';
  if (!step) {
    b.node('encoder_inputs', 'input', LANE.encoder, 'InputLayer', 'encoder_inputs', 'source token ids, padded; padding keys are masked out of every attention');
    let x = embed('encoder', c.srcVocabSize, 'encoder_inputs', LANE.encoder, formatShape([null, null]), seq);
    const L = 'encoder/layer_0';
    b.group = 'encoder';
    groups.push({ id: 'encoder', label: `× ${plural(t.enc, 'encoder layer')}` });
    x = sublayer(L, 1, x, LANE.encoder, seq(D), (input) => {
      const a = b.node(`${L}/self_attention`, 'attention', LANE.encoder, attentionTitle(false), `${L}/self_attention`, attDetail('self-attention over the source, padding masked'));
      b.edge(input, a, seq(D));
      return a;
    });
    x = sublayer(L, 2, x, LANE.encoder, seq(D), (input) => feedForward(L, input, LANE.encoder, seq));
    b.group = undefined;
    memory = finalNorm('encoder', x, LANE.encoder, seq(D));
  }

  if (name === 'encoder') {
    const kv = b.node('cross_attention/kv', 'dense', LANE.memory, `Dense(2 × ${D}) × ${t.dec}`, 'decoder/layer_*/cross_attention/kv',
      'the keys and values of every decoder layer\'s cross-attention, projected from the encoder output once per sentence');
    b.edge(memory, kv, seq(D));
    const out = b.node('cross_keys_values', 'output', LANE.memory, 'cross_keys_values');
    b.edge(kv, out, `${t.dec} × ${formatShapes([[null, null, D], [null, null, D]])}`);
    return { name, title: 'Inference encoder model', summary: describeTransformer(c), nodes: b.nodes, edges: b.edges, groups, compact: true };
  }

  // ---- decoder (training and one-step decoder models) ----
  const x1 = (n: Dim): string => (step ? formatShape([null, n]) : seq(n));
  b.node('decoder_inputs', 'input', LANE.decoder, 'InputLayer', 'decoder_inputs',
    step ? 'the previous output token of each sentence (start-of-sequence first)' : 'target token ids shifted right: start-of-sequence, then the reference (teacher forcing)');
  let y = embed('decoder', c.tgtVocabSize, 'decoder_inputs', LANE.decoder, step ? formatShape([null]) : formatShape([null, null]), x1);
  const L = 'decoder/layer_0';
  let crossKV = '';
  if (step) crossKV = b.node('cross_keys_values', 'input', LANE.memory, 'InputLayer', 'cross_keys_values', 'cross-attention keys and values of every layer, from the encoder model');
  // The cache boxes stay outside the frame (they would share a rank with what precedes it); their edges are per layer.
  let cacheIn = '';
  if (step) cacheIn = b.node('self_cache_in', 'input', LANE.cache, 'InputLayer', 'self_cache_in', 'keys and values of the earlier steps (empty at the first step), per layer');
  b.group = 'decoder';
  groups.push({ id: 'decoder', label: `× ${plural(t.dec, 'decoder layer')}` });
  y = sublayer(L, 1, y, LANE.decoder, x1(D), (input) => {
    const a = b.node(`${L}/self_attention`, 'attention', LANE.decoder, attentionTitle(true), `${L}/self_attention · causal`,
      attDetail(step ? 'self-attention of this step over the cached steps and itself' : 'self-attention over the target, each position sees only itself and earlier ones'));
    b.edge(input, a, x1(D));
    if (step) {
      b.edge(cacheIn, a, formatShapes([[null, 't', D], [null, 't', D]]));
      b.group = undefined;
      const out = b.node('self_cache_out', 'output', LANE.cache, 'self_cache_out');
      b.group = 'decoder';
      b.edge(a, out, formatShapes([[null, 't + 1', D], [null, 't + 1', D]]));
    }
    return a;
  });
  let cross = '';
  y = sublayer(L, 2, y, LANE.decoder, x1(D), (input) => {
    cross = b.node(`${L}/cross_attention`, 'attention', LANE.decoder, attentionTitle(false), `${L}/cross_attention`,
      attDetail(step ? 'attention of this step over the source, with the keys and values the encoder model projected' : 'attention over the encoder output (keys and values), source padding masked'));
    b.edge(input, cross, x1(D));
    if (step) b.edge(crossKV, cross, formatShapes([[null, null, D], [null, null, D]]));
    else b.edge(memory, cross, seq(D));
    return cross;
  });
  y = sublayer(L, 3, y, LANE.decoder, x1(D), (input) => feedForward(L, input, LANE.decoder, x1));
  b.group = undefined;
  if (step) {
    const w = b.node('attention_weights', 'output', LANE.memory, 'attention_weights', undefined,
      'cross-attention weights of the last layer, averaged over the heads (the attention map)');
    b.edge(cross, w, formatShape([null, null]));
  }
  y = finalNorm('decoder', y, LANE.decoder, x1(D));
  const dense = b.node('output', 'dense', LANE.decoder, `Dense(${c.tgtVocabSize})`,
    t.tieEmbeddings ? 'tied: embedding/sharedᵀ · softmax' : 'output · softmax',
    `next-token probabilities over the target vocabulary${t.tieEmbeddings ? '; the kernel is the transposed shared embedding table' : ''}`);
  b.edge(y, dense, x1(D));
  const probs = b.node(step ? 'probabilities' : 'decoder_outputs', 'output', LANE.decoder, step ? 'probabilities' : 'decoder_outputs');
  b.edge(dense, probs, x1(c.tgtVocabSize));
  return {
    name,
    title: step ? 'One-step decoder model (key/value cache)' : 'Training model (teacher forcing)',
    summary: describeTransformer(c),
    nodes: b.nodes,
    edges: b.edges,
    groups,
    compact: true,
  };
}
