/**
 * Float32 tensors (row-major) and the tape for reverse-mode autodiff.
 *
 * While gradients are enabled, every operation whose inputs need gradients
 * appends a closure to the tape; `backward()` runs them in reverse order.
 * Under `noGrad` nothing is recorded and intermediate tensors carry no
 * gradient buffers, so inference allocates only its outputs.
 */
import { longLivedFloat32, zeroedFloat32 } from './buffers.js';
import { S2SError } from '../errors.js';

export type Shape = readonly number[];

/** Tensors whose shapes do not fit the operation. */
export class ShapeError extends S2SError {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`invalid dimension ${d} in shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

export function shapeString(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/**
 * A weight matrix's int8 payload (quantized bundles, inference only):
 * symmetric, one float32 scale per output channel. `axis` says which axis
 * of the tensor's [rows, cols] shape the channels run along: 0 for tables
 * read by row and used as x·Wᵀ (embeddings, tied output layers), 1 for
 * kernels used as x·W. `values` is channel-major [channels, depth] (the
 * tensor itself for axis 0, its transpose for axis 1): the layout the int8
 * GEMM reads. A tensor carrying one keeps no float32 copy (`data` is
 * empty); ops/int8.ts routes the ops that read weights to the int8 kernels.
 */
export interface Int8Weight {
  readonly axis: 0 | 1;
  readonly channels: number;
  readonly depth: number;
  readonly values: Int8Array;
  readonly scales: Float32Array;
}

export class Tensor {
  readonly shape: Shape;
  readonly data: Float32Array;
  /** Number of elements (of the shape: an int8 tensor's `data` is empty). */
  readonly size: number;
  /** The int8 payload of a quantized weight, or null (see Int8Weight). */
  int8: Int8Weight | null = null;
  private ownGrad: Float32Array | null = null;
  requiresGrad: boolean;
  /** Parameter name, for weights I/O and error messages. */
  name: string | undefined;
  /**
   * For views: the tensor whose storage this one shares, and the element
   * offset. A view's gradient is the matching slice of its base's gradient,
   * so reshapes and row prefixes cost no copies in either direction.
   */
  readonly base: Tensor | null = null;
  readonly baseOffset: number = 0;

  constructor(data: Float32Array, shape: Shape, requiresGrad = false, name?: string) {
    const size = shapeSize(shape);
    if (data.length !== size) {
      throw new ShapeError(`data of length ${data.length} does not fit shape ${shapeString(shape)} (size ${size})`);
    }
    this.data = data;
    this.size = size;
    this.shape = Object.freeze([...shape]);
    this.requiresGrad = requiresGrad;
    this.name = name;
  }

  /** A view of `size(shape)` elements of x starting at `offset`, sharing data and gradient. */
  static view(x: Tensor, offset: number, shape: Shape): Tensor {
    const size = shapeSize(shape);
    if (offset < 0 || offset + size > x.size) throw new ShapeError(`view of ${size} elements at ${offset} does not fit ${x}`);
    const root = x.base ?? x;
    const t = new Tensor(x.data.subarray(offset, offset + size), shape, x.requiresGrad);
    (t as { base: Tensor | null }).base = root;
    (t as { baseOffset: number }).baseOffset = x.baseOffset + offset;
    return t;
  }

  /** Gradient, allocated on first accumulation (null until then). */
  get grad(): Float32Array | null {
    if (this.base) {
      const g = this.base.grad;
      return g ? g.subarray(this.baseOffset, this.baseOffset + this.data.length) : null;
    }
    return this.ownGrad;
  }

  /** Adopting a buffer as the gradient; on a view it is copied into the base's gradient. */
  set grad(g: Float32Array | null) {
    if (!this.base) {
      this.ownGrad = g;
      return;
    }
    const dst = this.base.gradBuffer().subarray(this.baseOffset, this.baseOffset + this.data.length);
    if (g) dst.set(g);
    else dst.fill(0);
  }

  /** A tensor of `shape` whose values are an int8 payload (no float32 data; see Int8Weight). */
  static quantized(shape: Shape, w: Int8Weight, name?: string): Tensor {
    const t = new Tensor(new Float32Array(0), [0], false, name);
    (t as { shape: Shape }).shape = Object.freeze([...shape]);
    (t as { size: number }).size = shapeSize(shape);
    t.int8 = w;
    return t;
  }

  static zeros(shape: Shape, requiresGrad = false): Tensor {
    return new Tensor(zeroedFloat32(shapeSize(shape)), shape, requiresGrad);
  }

  static from(values: ArrayLike<number>, shape?: Shape, requiresGrad = false): Tensor {
    return new Tensor(Float32Array.from(values), shape ?? [values.length], requiresGrad);
  }

  static scalar(value: number): Tensor {
    return new Tensor(Float32Array.of(value), []);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Size of the last axis (1 for scalars). */
  get cols(): number {
    return this.shape.length === 0 ? 1 : this.shape[this.shape.length - 1];
  }

  /** Product of all axes but the last. */
  get rows(): number {
    return this.cols === 0 ? 0 : this.size / this.cols;
  }

  item(): number {
    if (this.size !== 1) throw new ShapeError(`item() needs a single-element tensor, got shape ${shapeString(this.shape)}`);
    return this.data[0];
  }

  /** The gradient buffer, allocated (zeroed) if absent. */
  gradBuffer(): Float32Array {
    if (this.base) return this.base.gradBuffer().subarray(this.baseOffset, this.baseOffset + this.data.length);
    // A parameter's gradient lives as long as it does: beside it in the kernels' memory when they have one.
    if (!this.ownGrad) this.ownGrad = this.name !== undefined && this.requiresGrad ? longLivedFloat32(this.size) : new Float32Array(this.size);
    return this.ownGrad;
  }

  zeroGrad(): void {
    this.grad?.fill(0);
  }

  /** Same data, detached from the tape. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape);
  }

  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  toArray(): number[] {
    return Array.from(this.data);
  }

  /** Runs reverse-mode autodiff from this scalar (or from a given seed gradient). */
  backward(seed?: Float32Array): void {
    backward(this, seed);
  }

  toString(): string {
    return `Tensor${shapeString(this.shape)}${this.name ? ` "${this.name}"` : ''}`;
  }
}

// ---------------------------------------------------------------- the tape

type BackwardFn = () => void;

let gradEnabled = true;
let tape: BackwardFn[] = [];

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording anything on the tape. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** True when an op on these inputs must be recorded. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/**
 * Records an op: marks `output` as requiring grad and appends `fn`, which
 * reads output.grad and accumulates into its inputs' gradBuffer()s.
 */
export function record(output: Tensor, fn: BackwardFn): void {
  output.requiresGrad = true;
  tape.push(fn);
}

/** Drops everything recorded so far (e.g. after an evaluation pass). */
export function clearTape(): void {
  tape = [];
}

export function tapeLength(): number {
  return tape.length;
}

function backward(root: Tensor, seed?: Float32Array): void {
  if (!root.requiresGrad) throw new Error('backward(): the tensor does not depend on anything that requires grad');
  if (!seed && root.size !== 1) {
    throw new ShapeError(`backward() without a seed needs a scalar, got shape ${shapeString(root.shape)}`);
  }
  if (seed && seed.length !== root.size) throw new ShapeError(`backward seed of length ${seed.length} for ${root}`);
  if (seed && !root.grad) root.grad = seed.slice(); // a native copy, rather than zero-fill plus a JS add loop
  else {
    const g = root.gradBuffer();
    if (seed) for (let i = 0; i < g.length; i++) g[i] += seed[i];
    else g[0] += 1;
  }
  const fns = tape;
  tape = [];
  const prev = gradEnabled;
  gradEnabled = false; // backward closures must not record
  try {
    for (let i = fns.length - 1; i >= 0; i--) fns[i]();
  } finally {
    gradEnabled = prev;
  }
}
