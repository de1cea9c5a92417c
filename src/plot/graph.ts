/**
 * The graph a model diagram is drawn from: nodes (layers), edges (tensors,
 * with their shapes as Keras writes them), optional groups (a stack of
 * identical layers drawn once inside a frame labelled "× N"), and the
 * builder the architecture graphs (./model-graph.ts for RNNs,
 * ./transformer-graph.ts for Transformers) use. No geometry here.
 */

export type NodeKind =
  | 'input' | 'embedding' | 'dropout' | 'rnn' | 'bridge' | 'attention' | 'dense' | 'output'
  | 'positions' | 'norm' | 'add';

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
  /** The group (repeated layer stack) the node belongs to, if any. */
  group?: string;
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

/** A stack of identical layers drawn once: a frame around its nodes, labelled. */
export interface DiagramGroup {
  id: string;
  /** Frame label, e.g. '× 3 encoder layers'. */
  label: string;
}

/** The three models drawn by `modelDiagrams`: training, inference encoder, one-step decoder. */
export type GraphName = 'training' | 'encoder' | 'decoder';

export interface ModelGraph {
  name: GraphName;
  title: string;
  /** One line naming every architecture option. */
  summary: string;
  nodes: DiagramNode[];
  edges: DiagramEdge[];
  /** Repeated layer stacks (Transformer graphs); none for RNN graphs, which draw every layer. */
  groups?: DiagramGroup[];
  /**
   * Rank nodes as late as their consumers allow (not only inputs), so a
   * side branch that is consumed deep down (the decoder stack beside a deep
   * encoder) runs alongside instead of hanging at the top. Default false.
   */
  compact?: boolean;
}

/** A dimension: a size, None (batch, time) or a symbol such as 't' (the cached steps). */
export type Dim = number | null | string;

/** A shape as Keras prints it: (None, None, 71); a 1-tuple is (None,). */
export function formatShape(dims: readonly Dim[]): string {
  const parts = dims.map((d) => (d === null ? 'None' : String(d)));
  return parts.length === 1 ? `(${parts[0]},)` : `(${parts.join(', ')})`;
}

/** One shape, or a list of them in brackets: [(None, 256), (None, 256)]. */
export function formatShapes(shapes: readonly (readonly Dim[])[]): string {
  return shapes.length === 1 ? formatShape(shapes[0]) : `[${shapes.map(formatShape).join(', ')}]`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export class GraphBuilder {
  readonly nodes: DiagramNode[] = [];
  readonly edges: DiagramEdge[] = [];
  /** Nodes made while set join this group. */
  group: string | undefined;

  node(id: string, kind: NodeKind, lane: number, title: string, subtitle?: string, detail?: string): string {
    if (this.nodes.some((n) => n.id === id)) throw new Error(`model diagram: duplicate node ${id}`);
    const n: DiagramNode = { id, kind, lane, title, subtitle, detail };
    if (this.group !== undefined) n.group = this.group;
    this.nodes.push(n);
    return id;
  }

  edge(from: string, to: string, shape: string, extra: { back?: boolean; note?: string } = {}): void {
    this.edges.push({ from, to, shape, ...extra });
  }
}
