/**
 * A recurrent layer (LSTM or GRU) over packed sequences, holding its weights
 * in Keras's layout: kernel [input, G·H], recurrent kernel [H, G·H], bias.
 * Its input is either token ids — the one-hot-equivalent case, where x·W is
 * a row gather of the kernel — or packed vectors from the layer below.
 */
import { Tensor, ops, lstm, gru, glorotUniform, orthogonal, lstmBias, parameter, uniform, type PackedLayout, type Rng } from '../engine/index.js';
import type { CellType } from './config.js';

/** Recurrent state of one layer: h, plus c for LSTMs. */
export interface LayerState {
  h: Tensor;
  c?: Tensor;
}

export type LayerInput = { ids: Int32Array } | { x: Tensor };

export class RecurrentLayer {
  readonly gates: number;
  readonly kernel: Tensor;
  readonly recurrentKernel: Tensor;
  readonly bias: Tensor;
  /** GRU only (reset-after keeps a separate recurrent bias). */
  readonly recurrentBias: Tensor | null;
  /** Input-feeding attention: the kernel rows for the previous attentional vector. */
  readonly feedKernel: Tensor | null;

  constructor(readonly name: string, readonly cell: CellType, readonly inputSize: number, readonly hidden: number, rng: Rng | null, readonly feedSize = 0) {
    this.gates = cell === 'lstm' ? 4 : 3;
    const G = this.gates * hidden;
    // Glorot limits use the full input width, as one kernel over [input; feed] would.
    const limit = Math.sqrt(6 / (inputSize + feedSize + G));
    this.kernel = parameter(`${name}/kernel`, [inputSize, G], feedSize > 0 ? uniform([inputSize, G], rng, limit) : glorotUniform([inputSize, G], rng));
    this.feedKernel = feedSize > 0 ? parameter(`${name}/feed_kernel`, [feedSize, G], uniform([feedSize, G], rng, limit)) : null;
    this.recurrentKernel = parameter(`${name}/recurrent_kernel`, [hidden, G], orthogonal([hidden, G], rng));
    this.bias = parameter(`${name}/bias`, [G], cell === 'lstm' ? lstmBias(hidden) : new Float32Array(G));
    this.recurrentBias = cell === 'gru' ? parameter(`${name}/recurrent_bias`, [G], new Float32Array(G)) : null;
  }

  parameters(): Tensor[] {
    const p = [this.kernel, this.recurrentKernel, this.bias];
    if (this.recurrentBias) p.push(this.recurrentBias);
    if (this.feedKernel) p.push(this.feedKernel);
    return p;
  }

  /** A zero state for a batch. */
  zeroState(batch: number): LayerState {
    const h = Tensor.zeros([batch, this.hidden]);
    return this.cell === 'lstm' ? { h, c: Tensor.zeros([batch, this.hidden]) } : { h };
  }

  /**
   * Runs the layer over packed input; `initial` rows follow the layout's
   * order. `feed` (packed rows × feedSize) joins the input when the layer
   * was built for input feeding.
   */
  run(input: LayerInput, layout: PackedLayout, initial: LayerState, feed?: Tensor): { output: Tensor; state: LayerState } {
    let projected = 'ids' in input ? ops.gatherRows(this.kernel, input.ids) : ops.matmul(input.x, this.kernel);
    if (this.feedKernel) {
      if (!feed) throw new Error(`${this.name}: this layer expects an input-feeding vector`);
      projected = ops.add(projected, ops.matmul(feed, this.feedKernel));
    }
    // xProj is made for this call alone, so the recurrence may compute its gates in place.
    const xProj = ops.add(projected, this.bias);
    if (this.cell === 'lstm') {
      const r = lstm(xProj, this.recurrentKernel, initial.h, initial.c ?? Tensor.zeros(initial.h.shape), layout, { reuseInput: true });
      return { output: r.output, state: { h: r.h, c: r.c } };
    }
    const r = gru(xProj, this.recurrentKernel, this.recurrentBias as Tensor, initial.h, layout, { reuseInput: true });
    return { output: r.output, state: { h: r.h } };
  }
}

/** Rows of a state picked by `index` (differentiable), e.g. to reorder a batch. */
export function gatherState(state: LayerState, index: Int32Array): LayerState {
  const h = ops.gatherRows(state.h, index);
  return state.c ? { h, c: ops.gatherRows(state.c, index) } : { h };
}
