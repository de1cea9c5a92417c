/**
 * The graphs of a Seq2Seq in the manner of Keras's
 * `plot_model(show_shapes=True)`: the training model, the inference encoder
 * model and the one-step decoder model, as nodes (layers) and edges (tensors,
 * with the shape on every edge: None for batch and time, as Keras writes
 * them). Everything is derived from the ModelConfig — cell, layers, units,
 * embeddings or one-hot inputs, dropout, bidirectional encoder with its
 * bridge, attention type with input feeding — and mirrors what
 * src/model/seq2seq.ts computes; layer names are the parameter names of the
 * weights file. No geometry here: layout is ./graph-layout.ts, drawing
 * ./model-diagram.ts.
 */
import type { ModelConfig } from '../model/config.js';
import { S2SError } from '../errors.js';

export type NodeKind = 'input' | 'embedding' | 'dropout' | 'rnn' | 'bridge' | 'attention' | 'dense' | 'output';

export interface DiagramNode {
  id: string;
  kind: NodeKind;
  /** Layer class with its arguments, as Keras would show it: 'LSTM(256)', 'Dense(93)'. */
  title: string;
  /** Layer name (the weights' name prefix) and a short note. */
  subtitle?: string;
  /** What the layer computes, shown as the box's tooltip. */
  detail?: string;
  /** Horizontal lane (encoder left, decoder right); the layout keeps boxes of a lane in a column. */
  lane: number;
}

export interface DiagramEdge {
  from: string;
  to: string;
  /** The tensor(s) on this edge, Keras style: '(None, None, 71)', '[(None, 256), (None, 256)]'. */
  shape: string;
  /** A recurrent connection to an earlier step (input feeding), drawn as a loop. */
  back?: boolean;
  /** Extra label text for loops. */
  note?: string;
}

/** The three models of a Seq2Seq drawn by `modelDiagrams`: training, inference encoder, one-step decoder. */
export type GraphName = 'training' | 'encoder' | 'decoder';

export interface ModelGraph {
  name: GraphName;
  title: string;
  /** One line naming every architecture option. */
  summary: string;
  nodes: DiagramNode[];
  edges: DiagramEdge[];
}

export type Dim = number | null;

/** A shape as Keras prints it: (None, None, 71); a 1-tuple is (None,). */
export function formatShape(dims: readonly Dim[]): string {
  const parts = dims.map((d) => (d === null ? 'None' : String(d)));
  return parts.length === 1 ? `(${parts[0]},)` : `(${parts.join(', ')})`;
}

/** One shape, or a list of them in brackets: [(None, 256), (None, 256)]. */
export function formatShapes(shapes: readonly (readonly Dim[])[]): string {
  return shapes.length === 1 ? formatShape(shapes[0]) : `[${shapes.map(formatShape).join(', ')}]`;
}

const LANE = { encoder: 0, keys: 0.6, bridge: 1, attention: 1.3, decoder: 2, right: 3 } as const;

class GraphBuilder {
  readonly nodes: DiagramNode[] = [];
  readonly edges: DiagramEdge[] = [];

  node(id: string, kind: NodeKind, lane: number, title: string, subtitle?: string, detail?: string): string {
    if (this.nodes.some((n) => n.id === id)) throw new Error(`model diagram: duplicate node ${id}`);
    this.nodes.push({ id, kind, lane, title, subtitle, detail });
    return id;
  }

  edge(from: string, to: string, shape: string, extra: { back?: boolean; note?: string } = {}): void {
    this.edges.push({ from, to, shape, ...extra });
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** One line naming every architecture option of the config. */
export function describeConfig(c: ModelConfig): string {
  return [
    `${c.cell.toUpperCase()}, ${plural(c.layers, 'layer')} × ${c.latentDim} units`,
    c.embeddingDim > 0 ? `embeddings of ${c.embeddingDim}` : 'one-hot inputs',
    c.bidirectional ? 'bidirectional encoder + bridge' : 'unidirectional encoder',
    c.attention === 'none' ? 'no attention' : `${c.attention} attention, input feeding`,
    c.dropout > 0 ? `dropout ${c.dropout}` : 'no dropout',
    `vocabularies ${c.srcVocabSize} → ${c.tgtVocabSize}`,
  ].join(' · ');
}

const SCORE: Record<Exclude<ModelConfig['attention'], 'none'>, [string, string]> = {
  dot: ['Luong dot', 'score(h, s) = h·s; weights = softmax over the real source positions; context = Σ weights·s'],
  general: ['Luong general', 'score(h, s) = h·(W_a s); weights = softmax over the real source positions; context = Σ weights·s'],
  additive: ['Bahdanau additive', 'score(h, s) = v·tanh(W_q h + W_k s); weights = softmax over the real source positions; context = Σ weights·s'],
};

/**
 * The three graphs of a model: what `forward` (training, teacher forcing),
 * `encode` and `decodeStep` compute, layer by layer, with tensor shapes.
 */
export function modelGraphs(c: ModelConfig): Record<GraphName, ModelGraph> {
  if (c.arch === 'transformer') throw new S2SError('plot model does not support transformer yet (only RNN models are drawn)');
  return { training: buildGraph(c, 'training'), encoder: buildGraph(c, 'encoder'), decoder: buildGraph(c, 'decoder') };
}

function buildGraph(c: ModelConfig, name: GraphName): ModelGraph {
  const b = new GraphBuilder();
  const H = c.latentDim, E = c.embeddingDim, L = c.layers;
  const dirs = c.bidirectional ? 2 : 1;
  const D = dirs * H; // encoder output size (attention memory values)
  const CELL = c.cell.toUpperCase();
  const training = name === 'training';
  const dropout = training && c.dropout > 0 ? c.dropout : 0;
  const attention = c.attention !== 'none' ? c.attention : null;
  const keyed = attention !== null && attention !== 'dot';
  const states = (n: number): string => formatShapes(c.cell === 'lstm' ? [[null, n], [null, n]] : [[null, n]]);
  const seq = (n: number): string => formatShape([null, null, n]);
  const suffix = (l: number): string => (L > 1 ? `_${l}` : '');

  /** Token ids → one-hot or embedding (+ dropout in training); returns the node that feeds layer 0. */
  const embed = (side: 'encoder' | 'decoder', vocab: number, from: string, lane: number, idsShape: string): string => {
    let id: string;
    if (E > 0) {
      id = b.node(`${side}/embedding`, 'embedding', lane, `Embedding(${vocab}, ${E})`, `${side}/embedding`, `learned ${E}-dimensional ${side} token embeddings`);
    } else {
      id = b.node(`${side}_one_hot`, 'embedding', lane, `OneHot(${vocab})`, `${side}_one_hot`,
        `one-hot ${side} tokens (as in the Keras seed); computed as a row gather of the first recurrent kernel`);
    }
    b.edge(from, id, idsShape);
    if (dropout > 0 && E > 0) {
      const d = b.node(`${side}/embedding_dropout`, 'dropout', lane, `Dropout(${dropout})`);
      b.edge(id, d, seq(E));
      id = d;
    }
    return id;
  };

  // ---- encoder (training and encoder models) ----
  let encStates: string[] = [];
  let encTop = '';
  if (name !== 'decoder') {
    b.node('encoder_inputs', 'input', LANE.encoder, 'InputLayer', 'encoder_inputs', 'source token ids, padded; padding is never computed (packed sequences)');
    let prev = embed('encoder', c.srcVocabSize, 'encoder_inputs', LANE.encoder, formatShape([null, null]));
    let inDim = E > 0 ? E : c.srcVocabSize;
    for (let l = 0; l < L; l++) {
      const pname = `encoder/${c.cell}_${l}`;
      const id = b.node(pname, 'rnn', LANE.encoder, c.bidirectional ? `Bidirectional(${CELL}(${H}))` : `${CELL}(${H})`,
        c.bidirectional ? `${pname} + ${pname}_reverse` : pname,
        c.bidirectional ? `forward and backward ${CELL}s; outputs concatenated [→; ←] per time step, final states to the bridge` : `returns the output sequence and its final state${c.cell === 'lstm' ? 's h, c' : ' h'}`);
      b.edge(prev, id, seq(inDim));
      if (c.bidirectional) {
        const bridge = b.node(`bridge_${l}`, 'bridge', LANE.bridge, `Bridge(${H})`, c.cell === 'lstm' ? `bridge/h_${l}, bridge/c_${l}` : `bridge/h_${l}`,
          c.cell === 'lstm' ? 'decoder initial state: h = tanh(W_h [h→; h←] + b_h), c = W_c [c→; c←] + b_c' : 'decoder initial state: h = tanh(W_h [h→; h←] + b_h)');
        b.edge(id, bridge, states(2 * H));
        encStates.push(bridge);
      } else {
        encStates.push(id);
      }
      prev = id;
      if (l + 1 < L && dropout > 0) {
        prev = b.node(`encoder/dropout_${l}`, 'dropout', LANE.encoder, `Dropout(${dropout})`);
        b.edge(id, prev, seq(D));
      }
      inDim = D;
      encTop = id;
    }
  }

  if (name === 'encoder') {
    encStates.forEach((s, l) => {
      const out = b.node(`encoder_states${suffix(l)}`, 'output', LANE.decoder, `encoder_states${suffix(l)}`);
      b.edge(s, out, states(H));
    });
    if (attention) {
      const values = b.node(keyed ? 'memory_values' : 'memory', 'output', LANE.encoder, keyed ? 'memory_values' : 'memory');
      b.edge(encTop, values, seq(D));
      if (keyed) {
        const keys = b.node('attention/keys', 'dense', LANE.keys, `Dense(${H})`, 'attention/key_kernel', `attention keys ${attention === 'general' ? 'W_a' : 'W_k'} s, no bias, computed once per sentence`);
        b.edge(encTop, keys, seq(D));
        const out = b.node('memory_keys', 'output', LANE.keys, 'memory_keys');
        b.edge(keys, out, seq(H));
      }
    }
    return { name, title: 'Inference encoder model', summary: describeConfig(c), nodes: b.nodes, edges: b.edges };
  }

  // ---- decoder (training and one-step decoder models) ----
  const step = name === 'decoder';
  const dseq = (n: number): string => (step ? formatShape([null, n]) : seq(n));
  b.node('decoder_inputs', 'input', LANE.decoder, 'InputLayer', 'decoder_inputs',
    step ? 'the previous output token of each sentence (start-of-sequence first)' : 'target token ids shifted right: start-of-sequence, then the reference (teacher forcing)');
  let prev = embed('decoder', c.tgtVocabSize, 'decoder_inputs', LANE.decoder, step ? formatShape([null]) : formatShape([null, null]));
  let inDim = E > 0 ? E : c.tgtVocabSize;
  let feedInput: string | null = null;
  let memValues = encTop, memKeys: string | null = null;
  if (step && attention) {
    feedInput = b.node('feed_input', 'input', LANE.right, 'InputLayer', 'feed_input', 'the previous step\'s attentional vector (zeros at the first step): input feeding');
    memValues = b.node(keyed ? 'memory_values' : 'memory', 'input', LANE.bridge, 'InputLayer', keyed ? 'memory_values' : 'memory', 'encoder outputs, from the encoder model');
    if (keyed) memKeys = b.node('memory_keys', 'input', LANE.keys, 'InputLayer', 'memory_keys', 'attention keys of the encoder outputs, from the encoder model');
  } else if (attention && keyed) {
    memKeys = b.node('attention/keys', 'dense', LANE.keys, `Dense(${H})`, 'attention/key_kernel', `attention keys ${attention === 'general' ? 'W_a' : 'W_k'} s, no bias, computed once per sentence`);
    b.edge(encTop, memKeys, seq(D));
  }
  const decLayers: string[] = [];
  let top = '';
  for (let l = 0; l < L; l++) {
    const pname = `decoder/${c.cell}_${l}`;
    const notes = [pname];
    if (step) notes.push('one step');
    const id = b.node(pname, 'rnn', LANE.decoder, `${CELL}(${H})`, notes.join(' · '),
      (l === 0 && attention ? 'input: the token and the previous attentional vector (input feeding); ' : '') +
        (step ? 'one time step from the given states' : 'initial state from the encoder'));
    decLayers.push(id);
    b.edge(prev, id, dseq(inDim));
    if (step) {
      const input = b.node(`decoder_states_in${suffix(l)}`, 'input', LANE.bridge, 'InputLayer', `decoder_states_in${suffix(l)}`, 'states from the encoder model, then from the previous step');
      b.edge(input, id, states(H));
    } else {
      b.edge(encStates[l], id, states(H));
    }
    if (l === 0 && feedInput) b.edge(feedInput, id, formatShape([null, H]));
    if (step) {
      const out = b.node(`decoder_states_out${suffix(l)}`, 'output', LANE.right, `decoder_states_out${suffix(l)}`);
      b.edge(id, out, states(H));
    }
    prev = id;
    if (l + 1 < L && dropout > 0) {
      prev = b.node(`decoder/dropout_${l}`, 'dropout', LANE.decoder, `Dropout(${dropout})`);
      b.edge(id, prev, seq(H));
    }
    inDim = H;
    top = id;
  }
  let out = top;
  if (attention) {
    const att = b.node('attention', 'attention', LANE.attention, `Attention(${attention})`, `attention · ${SCORE[attention][0]}`, SCORE[attention][1]);
    b.edge(top, att, dseq(H));
    if (memKeys) b.edge(memKeys, att, seq(H));
    b.edge(memValues, att, seq(D));
    const comb = b.node('attention/combine', 'dense', LANE.decoder, `Dense(${H})`, 'attention/combine · tanh', 'attentional vector ã = tanh(W_c [context; h]), no bias');
    b.edge(att, comb, dseq(D));
    b.edge(top, comb, dseq(H));
    out = comb;
    if (dropout > 0) {
      out = b.node('attention/dropout', 'dropout', LANE.decoder, `Dropout(${dropout})`);
      b.edge(comb, out, seq(H));
    }
    if (step) {
      const w = b.node('attention_weights', 'output', LANE.attention, 'attention_weights');
      b.edge(att, w, formatShape([null, null]));
      const f = b.node('feed_output', 'output', LANE.right, 'feed_output');
      b.edge(out, f, formatShape([null, H]));
    } else {
      b.edge(out, decLayers[0], seq(H), { back: true, note: 'step t − 1 (input feeding)' });
    }
  }
  const dense = b.node('output', 'dense', LANE.decoder, `Dense(${c.tgtVocabSize})`, 'output · softmax', 'next-token probabilities over the target vocabulary');
  b.edge(out, dense, dseq(H));
  const probs = b.node(step ? 'probabilities' : 'decoder_outputs', 'output', LANE.decoder, step ? 'probabilities' : 'decoder_outputs');
  b.edge(dense, probs, dseq(c.tgtVocabSize));
  return {
    name,
    title: step ? 'One-step decoder model' : 'Training model (teacher forcing)',
    summary: describeConfig(c),
    nodes: b.nodes,
    edges: b.edges,
  };
}
