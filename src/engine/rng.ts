/**
 * Seeded pseudo-random generator (xoshiro128**), so every run with the same
 * seed draws the same numbers on every platform. The state is four uint32
 * words and can be saved and restored, which checkpoints rely on.
 */
import { kernels } from './kernels/index.js';

export class Rng {
  private s: Uint32Array;

  constructor(seed: number = 0) {
    this.s = new Uint32Array(4);
    // splitmix32 expands the seed into a full, non-zero state.
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  /** Uniform uint32. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /**
   * A dropout keep-mask: 1 where next() ≥ p, one draw per element (compared
   * as the integer draw ≥ p·2³², the same test without the division).
   */
  keepMask(n: number, p: number): Uint8Array {
    const mask = new Uint8Array(n);
    kernels().keepMask(this.s, p, mask);
    return mask;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[] | Int32Array | Uint32Array): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp as never;
    }
  }

  /** A derived generator, independent of this one's future draws. */
  fork(): Rng {
    return new Rng(this.nextUint32());
  }

  getState(): number[] {
    return Array.from(this.s);
  }

  setState(state: readonly number[]): void {
    if (state.length !== 4) throw new Error(`Rng state must have 4 words, got ${state.length}`);
    for (let i = 0; i < 4; i++) this.s[i] = state[i] >>> 0;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
