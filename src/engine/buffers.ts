/** Float32Arrays for results that are overwritten entirely (allocation without the zero-fill), and long-lived ones. */
import { kernels } from './kernels/index.js';

type AllocUnsafe = (size: number) => Uint8Array;
const nodeBuffer = (globalThis as { Buffer?: { allocUnsafe?: AllocUnsafe } }).Buffer;
const allocUnsafe: AllocUnsafe | undefined = nodeBuffer?.allocUnsafe?.bind(nodeBuffer);

/**
 * A Float32Array of n elements with unspecified contents, for results that
 * are overwritten entirely. Under Node large ones skip the zero-fill
 * (Buffer.allocUnsafe), which is a sizeable share of a training step; in
 * browsers it is an ordinary zeroed array.
 */
export function uninitializedFloat32(n: number): Float32Array {
  if (allocUnsafe && n >= 4096) {
    const b = allocUnsafe(n * 4);
    if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, n);
  }
  return new Float32Array(n);
}

/** A copy of x, without zero-filling it first. */
export function copyFloat32(x: Float32Array): Float32Array {
  const out = uninitializedFloat32(x.length);
  out.set(x);
  return out;
}

/**
 * A zeroed Float32Array meant to live as long as a model (parameters, their
 * gradients, optimizer slots): inside the active kernel set's memory when it
 * has one (the wasm kernels then read it without copying), else an ordinary array.
 */
export function longLivedFloat32(n: number): Float32Array {
  return kernels().allocFloat32?.(n) ?? new Float32Array(n);
}

/** `data` moved into long-lived storage (a copy when the kernel set has a memory of its own; else `data` itself). */
export function adoptLongLived(data: Float32Array): Float32Array {
  const home = kernels().allocFloat32?.(data.length);
  if (!home) return data;
  home.set(data);
  return home;
}

/** Int8 weights moved into long-lived storage, as adoptLongLived does for floats. */
export function adoptLongLivedInt8(data: Int8Array): Int8Array {
  const home = kernels().allocInt8?.(data.length);
  if (!home) return data;
  home.set(data);
  return home;
}
