/**
 * A recurrent layer (LSTM or GRU) over packed sequences, holding its weights
 * in Keras's layout: kernel [input, G·H], recurrent kernel [H, G·H], bias.
 * Its input is either token ids — the one-hot-equivalent case, where x·W is
 * a row gather of the kernel — or packed vectors from the layer below.
 */
import { Tensor, ops, lstm, gru, glorotUniform, orthogonal, lstmBias, parameter, type PackedLayout, type Rng } from '../engine/index.js';
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

  constructor(readonly name: string, readonly cell: CellType, readonly inputSize: number, readonly hidden: number, rng: Rng) {
    this.gates = cell === 'lstm' ? 4 : 3;
    const G = this.gates * hidden;
    this.kernel = parameter(`${name}/kernel`, [inputSize, G], glorotUniform([inputSize, G], rng));
    this.recurrentKernel = parameter(`${name}/recurrent_kernel`, [hidden, G], orthogonal([hidden, G], rng));
    this.bias = parameter(`${name}/bias`, [G], cell === 'lstm' ? lstmBias(hidden) : new Float32Array(G));
    this.recurrentBias = cell === 'gru' ? parameter(`${name}/recurrent_bias`, [G], new Float32Array(G)) : null;
  }

  parameters(): Tensor[] {
    const p = [this.kernel, this.recurrentKernel, this.bias];
    if (this.recurrentBias) p.push(this.recurrentBias);
    return p;
  }

  /** A zero state for a batch. */
  zeroState(batch: number): LayerState {
    const h = Tensor.zeros([batch, this.hidden]);
    return this.cell === 'lstm' ? { h, c: Tensor.zeros([batch, this.hidden]) } : { h };
  }

  /** Runs the layer over packed input; `initial` rows follow the layout's order. */
  run(input: LayerInput, layout: PackedLayout, initial: LayerState): { output: Tensor; state: LayerState } {
    const projected = 'ids' in input ? ops.gatherRows(this.kernel, input.ids) : ops.matmul(input.x, this.kernel);
    const xProj = ops.add(projected, this.bias);
    if (this.cell === 'lstm') {
      const r = lstm(xProj, this.recurrentKernel, initial.h, initial.c ?? Tensor.zeros(initial.h.shape), layout);
      return { output: r.output, state: { h: r.h, c: r.c } };
    }
    const r = gru(xProj, this.recurrentKernel, this.recurrentBias as Tensor, initial.h, layout);
    return { output: r.output, state: { h: r.h } };
  }
}

/** Rows of a state picked by `index` (differentiable), e.g. to reorder a batch. */
export function gatherState(state: LayerState, index: Int32Array): LayerState {
  const h = ops.gatherRows(state.h, index);
  return state.c ? { h, c: ops.gatherRows(state.c, index) } : { h };
}
