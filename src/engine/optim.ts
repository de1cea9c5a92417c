/**
 * Optimizers over named parameters, with Keras's defaults, and gradient
 * clipping by global norm. Optimizer state can be exported and restored so
 * checkpoints resume exactly.
 */
import { kernels } from './kernels/index.js';
import { longLivedFloat32 } from './buffers.js';
import type { Tensor } from './tensor.js';
import { ConfigError } from '../errors.js';
import { WeightsError } from './io.js';

export interface RmspropOptions {
  /** Learning rate (Keras default 0.001). */
  learningRate?: number;
  /** Decay of the squared-gradient average (Keras default 0.9). */
  rho?: number;
  /** Keras default 1e-7. */
  epsilon?: number;
}

export interface AdamOptions {
  /** Learning rate (Keras default 0.001). */
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export interface OptimizerState {
  kind: string;
  step: number;
  learningRate: number;
  /** Slot arrays by parameter name, e.g. { "enc/kernel": { ms: [...] } }. */
  slots: Record<string, Record<string, Float32Array>>;
}

export abstract class Optimizer {
  step = 0;
  abstract learningRate: number;
  protected slots = new Map<Tensor, Record<string, Float32Array>>();

  constructor(readonly params: Tensor[]) {
    const names = new Set<string>();
    for (const p of params) {
      if (!p.name) throw new Error('Optimizer: every parameter needs a name (used by checkpoints)');
      if (names.has(p.name)) throw new Error(`Optimizer: duplicate parameter name "${p.name}"`);
      names.add(p.name);
    }
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  /** Applies one update from the accumulated gradients. */
  update(): void {
    this.step++;
    for (const p of this.params) {
      if (!p.grad) continue;
      let s = this.slots.get(p);
      if (!s) {
        s = this.newSlots(p.size);
        this.slots.set(p, s);
      }
      this.apply(p.data, p.grad, s);
    }
  }

  protected abstract newSlots(size: number): Record<string, Float32Array>;
  protected abstract apply(p: Float32Array, g: Float32Array, slots: Record<string, Float32Array>): void;
  abstract get kind(): string;

  getState(): OptimizerState {
    const slots: OptimizerState['slots'] = {};
    for (const p of this.params) {
      const s = this.slots.get(p);
      // Copies, so a snapshot is not changed by later updates.
      if (s) slots[p.name as string] = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.slice()]));
    }
    return { kind: this.kind, step: this.step, learningRate: this.learningRate, slots };
  }

  setState(state: OptimizerState): void {
    if (state.kind !== this.kind) throw new WeightsError(`optimizer state is for ${state.kind}, this optimizer is ${this.kind}`);
    this.step = state.step;
    this.learningRate = state.learningRate;
    this.slots.clear();
    for (const p of this.params) {
      const s = state.slots[p.name as string];
      if (!s) continue;
      for (const [k, v] of Object.entries(s)) {
        if (v.length !== p.size) throw new WeightsError(`optimizer slot ${p.name}/${k} has ${v.length} values, parameter has ${p.size}`);
      }
      // Copies, so two optimizers restored from one state do not share buffers.
      this.slots.set(p, Object.fromEntries(Object.entries(s).map(([k, v]) => {
        const copy = longLivedFloat32(v.length);
        copy.set(v);
        return [k, copy];
      })));
    }
  }
}

export class RMSprop extends Optimizer {
  learningRate: number;
  readonly rho: number;
  readonly epsilon: number;
  constructor(params: Tensor[], options: RmspropOptions = {}) {
    super(params);
    this.learningRate = options.learningRate ?? 0.001;
    this.rho = options.rho ?? 0.9;
    this.epsilon = options.epsilon ?? 1e-7;
  }
  get kind(): string {
    return 'rmsprop';
  }
  protected newSlots(size: number): Record<string, Float32Array> {
    return { ms: longLivedFloat32(size) };
  }
  protected apply(p: Float32Array, g: Float32Array, s: Record<string, Float32Array>): void {
    kernels().rmspropUpdate(p, g, s.ms, this.learningRate, this.rho, this.epsilon);
  }
}

export class Adam extends Optimizer {
  learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  constructor(params: Tensor[], options: AdamOptions = {}) {
    super(params);
    this.learningRate = options.learningRate ?? 0.001;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-7;
  }
  get kind(): string {
    return 'adam';
  }
  protected newSlots(size: number): Record<string, Float32Array> {
    return { m: longLivedFloat32(size), v: longLivedFloat32(size) };
  }
  protected apply(p: Float32Array, g: Float32Array, s: Record<string, Float32Array>): void {
    const t = this.step;
    const lrT = (this.learningRate * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
    kernels().adamUpdate(p, g, s.m, s.v, lrT, this.beta1, this.beta2, this.epsilon);
  }
}

export type OptimizerName = 'rmsprop' | 'adam';

export function createOptimizer(name: OptimizerName, params: Tensor[], learningRate?: number): Optimizer {
  if (name === 'rmsprop') return new RMSprop(params, { learningRate });
  if (name === 'adam') return new Adam(params, { learningRate });
  throw new ConfigError(`unknown optimizer "${name as string}" (expected rmsprop or adam)`);
}

/**
 * Scales all gradients so their global L2 norm is at most maxNorm.
 * Returns the norm before clipping (useful for logging and NaN detection).
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  const K = kernels();
  let sq = 0;
  for (const p of params) if (p.grad) sq += K.sumSquares(p.grad);
  const norm = Math.sqrt(sq);
  if (Number.isFinite(maxNorm) && maxNorm > 0 && norm > maxNorm) {
    const s = maxNorm / (norm + 1e-6);
    for (const p of params) if (p.grad) K.scale(p.grad, s);
  }
  return norm;
}
