/** Float32Arrays for results that are overwritten entirely (allocation without the zero-fill), and long-lived ones. */
import { kernels } from './kernels/index.js';

type AllocUnsafe = (size: number) => Uint8Array;
const nodeBuffer = (globalThis as { Buffer?: { allocUnsafe?: AllocUnsafe } }).Buffer;
const allocUnsafe: AllocUnsafe | undefined = nodeBuffer?.allocUnsafe?.bind(nodeBuffer);

/** Results up to this many bytes are carved out of shared slabs (SLAB_BYTES each) instead of getting a buffer of their own. */
const SLAB_MAX = 64 << 10;
const SLAB_BYTES = 1 << 20;
let slab: ArrayBuffer | null = null;
let slabUsed = 0;

/**
 * A Float32Array of n elements with unspecified contents, for results that
 * are overwritten entirely. Small and medium ones are views carved from a
 * 1 MiB slab (each region handed out once, so still zeroed): a typed array
 * with a buffer of its own costs a backing-store allocation, which was an
 * eighth of a batch-1 translation step in Chromium. A slab lives while any
 * view of it does. Under Node large ones skip the zero-fill
 * (Buffer.allocUnsafe), which is a sizeable share of a training step.
 */
export function uninitializedFloat32(n: number): Float32Array {
  const bytes = n * 4;
  if (bytes <= SLAB_MAX && (bytes < 16384 || !allocUnsafe)) {
    if (n === 0) return new Float32Array(0);
    if (!slab || slabUsed + bytes > SLAB_BYTES) {
      slab = new ArrayBuffer(SLAB_BYTES);
      slabUsed = 0;
    }
    const view = new Float32Array(slab, slabUsed, n);
    slabUsed += (bytes + 15) & ~15;
    return view;
  }
  if (allocUnsafe && n >= 4096) {
    const b = allocUnsafe(n * 4);
    if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, n);
  }
  return new Float32Array(n);
}

/** A zeroed Float32Array of n elements (from a slab when small, as uninitializedFloat32). */
export function zeroedFloat32(n: number): Float32Array {
  return n * 4 < 16384 ? uninitializedFloat32(n) : new Float32Array(n);
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
  const k = kernels() as ReturnType<typeof kernels> & { contains?(v: ArrayBufferView): boolean };
  if (k.contains?.(data)) return data; // already there (longLivedFloat32)
  const home = k.allocFloat32?.(data.length);
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
