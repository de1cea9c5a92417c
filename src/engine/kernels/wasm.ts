/**
 * The WebAssembly kernel set: native/kernels.c (the C the native addon runs)
 * and a 128-bit SIMD GEMM, compiled by scripts/build-wasm.mjs into
 * dist/wasm/s2s-kernels.wasm (plain memory) and s2s-kernels-mt.wasm
 * (shared memory). Browser-safe: no static Node imports; instantiate from a
 * compiled module (`createWasmKernels`), bytes or a URL (`loadWasmKernels`).
 *
 * Memory design. Kernels take Float32Array views; the wasm code can only see
 * its own linear memory. Copying a weight matrix in on every GEMM would cost
 * as much as the GEMV it feeds at batch 1, so long-lived buffers live in the
 * wasm memory itself: `allocFloat32(n)` returns a view into it, and the
 * engine uses it for parameters, their gradients and optimizer slots
 * (buffers.ts `longLivedFloat32`). A view whose buffer is this memory's is
 * passed by its byte offset (zero copy); any other array is staged through a
 * per-call scratch area: copied in (inputs), and out after the call
 * (outputs). Arguments that share one JS buffer and overlap are staged as
 * one block, so aliasing (in-place elementwise ops, overlapping copyBlock)
 * behaves as it does on the other kernel sets.
 *
 * Growth. Growing a non-shared WebAssembly.Memory detaches every view of it,
 * so a plain memory grows only while no long-lived view exists; after that a
 * call whose operands do not fit the scratch runs on the js kernels (correct,
 * slower), and allocFloat32 returns null (the caller falls back to an
 * ordinary array). `reserve(bytes)` grows it up front (the page reserves the
 * weights' size before building the model). A shared memory (always in Node;
 * in browsers when crossOriginIsolated) never detaches: old views stay valid,
 * so it grows on demand up to its maximum.
 *
 * Allocations are never freed: they are meant for a model's lifetime (a
 * bump allocator; a process that builds many models pays their sum).
 *
 * Threads. The C side has no mutable static data and gets its packing
 * buffers from here, so worker threads run further instances of the module
 * over a shared memory, each with a stack of its own (__stack_pointer).
 * startThreads() starts them; a call with enough work is split — GEMM by
 * column blocks (few rows: the direct path) or row blocks (the packed path),
 * the int8 GEMM by channels, attention by (batch, head) pairs — at
 * boundaries that keep every element's arithmetic as on one thread, so
 * results are bit-identical whatever the thread count. Arguments go through
 * a control block in the memory; workers sleep in Atomics.wait, the caller
 * runs its own part and then waits (or, on a browser's main thread, where
 * waiting is not allowed, spins) until the others are done.
 */
import type { Kernels, UnaryOp, Activation } from './types.js';
import { jsKernels, checkAttentionStep } from './js.js';
import { S2SError } from '../../errors.js';

/** The wasm kernel set: a Kernels plus the memory that long-lived buffers are allocated in. */
export interface WasmKernels extends Kernels {
  readonly name: 'wasm';
  readonly memory: WebAssembly.Memory;
  /** Whether the memory is a shared one (grows without detaching views). */
  readonly shared: boolean;
  /** A zeroed view of n floats inside the wasm memory, or null when it cannot grow (see the file comment). */
  allocFloat32(n: number): Float32Array | null;
  /** The same for int8 weights (quantized bundles). */
  allocInt8(n: number): Int8Array | null;
  /** Grows the memory so that `bytes` more can be allocated without growing again. */
  reserve(bytes: number): void;
  /** Bytes of wasm memory in use: long-lived allocations, scratch, the module's own. */
  memoryBytes(): number;
  /** Whether the view lies in the wasm memory (so calls pass it without a copy). */
  contains(view: ArrayBufferView): boolean;
  /**
   * Starts `threads − 1` workers over the shared memory (startWasmThreads);
   * large GEMMs, int8 GEMMs and attention calls are then split across them.
   * Results do not depend on the thread count (bit for bit).
   */
  startThreads(threads: number, spawn: SpawnWorker): Promise<void>;
  /** Stops the workers (back to one thread). */
  stopThreads(): void;
  /** Threads that compute (1 without workers). */
  readonly threads: number;
  /** Running totals since the set was made: bytes staged into the memory (copied in for a call) and calls split across threads. */
  readonly counters: { stagedBytes: number; splitCalls: number };
}

/** What a worker needs to look like: a browser Worker or a node:worker_threads Worker. */
export interface WorkerLike {
  postMessage(message: unknown): void;
  terminate(): unknown;
}
/** Makes a worker running `code` (a classic script that works in both): its messages go to onMessage. */
export type SpawnWorker = (code: string, onMessage: (data: unknown) => void, onError: (err: unknown) => void) => WorkerLike;

/** Options of createWasmKernels; defaults in WASM_DEFAULTS. */
export interface WasmKernelOptions {
  /** The module's memory is shared (the -mt build); must match the module. Default false. */
  shared?: boolean;
  /** Maximum memory in 64 KiB pages (shared memories need one). Default 32768 (2 GiB). */
  maximumPages?: number;
  /** Scratch for staged operands, in bytes, reserved at start (it grows as needed). Default 4 MiB. */
  scratchBytes?: number;
}

export const WASM_DEFAULTS = { shared: false, maximumPages: 32768, scratchBytes: 4 << 20 } as const;

/** The file names scripts/build-wasm.mjs writes (plain and shared memory). */
export const WASM_FILES = { plain: 's2s-kernels.wasm', shared: 's2s-kernels-mt.wasm' } as const;

/** A wasm kernel module that cannot be loaded or instantiated. */
export class WasmKernelsError extends S2SError {}

type View = Float32Array | Int32Array | Uint8Array | Uint32Array | Int8Array;
type Fn = (...args: number[]) => number;

interface Exports {
  __heap_base: WebAssembly.Global;
  s2s_gemm_workspace: Fn;
  s2s_gemm: Fn;
  s2s_gemm_packed: Fn;
  s2s_lstm_forward: Fn; s2s_lstm_backward: Fn; s2s_gru_forward: Fn; s2s_gru_backward: Fn;
  s2s_softmax_xent: Fn; s2s_softmax_rows: Fn; s2s_unary: Fn; s2s_unary_backward: Fn;
  s2s_add_row_vector: Fn; s2s_sum_rows: Fn; s2s_gather_rows: Fn; s2s_scatter_add_rows: Fn;
  s2s_sum_squares: Fn; s2s_scale: Fn; s2s_rmsprop: Fn; s2s_adam: Fn;
  s2s_attention_scratch: Fn; s2s_attention_forward: Fn; s2s_attention_backward: Fn;
  s2s_layer_norm_forward: Fn; s2s_layer_norm_backward: Fn; s2s_bias_activation: Fn; s2s_activation_backward: Fn;
  s2s_embed_positions: Fn; s2s_embed_positions_backward: Fn; s2s_keep_mask: Fn; s2s_argmax_rows: Fn;
  s2s_dropout_apply: Fn; s2s_copy_block: Fn; s2s_attention_step: Fn; s2s_add_layer_norm: Fn;
  s2s_quantize_rows_int8: Fn; s2s_gemm_int8: Fn; s2s_gather_rows_int8: Fn;
}

const PAGE = 65536;
const IN = 1, OUT = 2, INOUT = 3;
const UNARY: Record<string, number> = { sigmoid: 0, tanh: 1, relu: 2 };
const ACT: Record<string, number> = { none: 0, relu: 1, gelu: 2 };

const align16 = (n: number): number => (n + 15) & ~15;

function rangeError(msg: string): never {
  throw new RangeError(msg);
}
/** The array must hold at least `need` elements (the addon's message). */
function need(fn: string, name: string, have: number, needed: number, what: string): void {
  if (have < needed) rangeError(`${fn}: ${name} has ${have} elements but ${what} needs ${needed}`);
}
function dim(fn: string, name: string, v: number): void {
  if (!(v >= 0 && v <= 2147483647 && Math.floor(v) === v)) rangeError(`${fn}: ${name} must be a non-negative integer below 2^31, got ${v}`);
}
const extent = (rows: number, cols: number, ld: number): number => (rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols);
function indicesBelow(fn: string, index: Int32Array, rows: number, what: string): void {
  for (let i = 0; i < index.length; i++) {
    const v = index[i];
    if (v >= rows) rangeError(`${fn}: index ${v} at position ${i} is out of range for ${what} of ${rows} rows`);
  }
}

// ---------------------------------------------------------------- threads

/**
 * Work (multiply-adds) from which a call is split across threads: below it, waking workers costs more than it
 * saves. 2^21 keeps every batch-1 decoder GEMV (a 256×4848 output layer is 1.2 M) on one thread: at 2^18 they
 * were split, and batch-1 decoding with threads was up to 2× slower than without in Chromium on 2 shared cores,
 * where the main thread spins (it may not Atomics.wait) while a worker waits for a core.
 */
const PARALLEL_MACS = 1 << 21;
/** Rows of C up to which native/wasm.c's GEMM takes its direct (unpacked) path: DIRECT_ROWS there. */
const DIRECT_ROWS = 8;
const WORKER_STACK = 256 << 10;
/** Control block: [generation, pending] then CTL_SLOTS words of arguments per thread (the last word: the op, 0 = none). */
const CTL_HEAD = 2, CTL_SLOTS = 24;
const OP_GEMM = 1, OP_GEMM_PACKED = 2, OP_GEMM_INT8 = 3, OP_ATTN_FWD = 4, OP_ATTN_BWD = 5;
/** Export and argument kinds (i = int32 word, f = float32) of each op a worker runs. */
const WORKER_OPS: Record<number, [string, string]> = {
  [OP_GEMM]: ['s2s_gemm', 'iiiiifiiiifiii'],
  [OP_GEMM_PACKED]: ['s2s_gemm_packed', 'iiiiifiiiifiii'],
  [OP_GEMM_INT8]: ['s2s_gemm_int8', 'iiiiiiiiiiii'],
  [OP_ATTN_FWD]: ['s2s_attention_forward', 'iiiiiiiiiiifiiiii'],
  [OP_ATTN_BWD]: ['s2s_attention_backward', 'iiiiiiiiiifiiiiiii'],
};
/** Whether this thread may block in Atomics.wait (not a browser's main thread). */
const canWait = typeof (globalThis as { document?: unknown }).document === 'undefined';

/**
 * A worker: instantiates the module over the shared memory with a stack of
 * its own, then waits for generations of the control block and runs its
 * part. Plain script text, so it runs as a browser Worker and as a
 * node:worker_threads eval worker alike.
 */
const WORKER_CODE = `
const isNode = typeof self === 'undefined' || typeof require === 'function';
const port = isNode ? require('node:worker_threads').parentPort : self;
const start = (d) => {
  try {
    const x = new WebAssembly.Instance(d.module, { env: { memory: d.memory, log: Math.log } }).exports;
    x.__stack_pointer.value = d.stack;
    const n = ${CTL_HEAD} + 16 * ${CTL_SLOTS};
    const c = new Int32Array(d.memory.buffer, d.ctl, n), f = new Float32Array(d.memory.buffer, d.ctl, n);
    const base = ${CTL_HEAD} + d.id * ${CTL_SLOTS};
    port.postMessage('ready');
    let gen = Atomics.load(c, 0);
    for (;;) {
      Atomics.wait(c, 0, gen);
      gen = Atomics.load(c, 0);
      if (gen < 0) return;
      const op = c[base + ${CTL_SLOTS} - 1];
      if (op) {
        const [name, sig] = d.ops[op];
        const a = [];
        for (let i = 0; i < sig.length; i++) a.push(sig[i] === 'f' ? f[base + i] : c[base + i]);
        x[name](...a);
      }
      if (Atomics.sub(c, 1, 1) === 1) Atomics.notify(c, 1);
    }
  } catch (err) {
    port.postMessage(String(err && err.message || err));
  }
};
if (isNode) port.once('message', start); else self.onmessage = (e) => { self.onmessage = null; start(e.data); };
`;

/**
 * The kernel set over one instance. Every wrapper checks its lengths (an
 * out-of-range write inside the memory would corrupt a neighbouring weight,
 * not fault), stages its operands and calls the export.
 */
class WasmKernelSet implements WasmKernels {
  readonly name = 'wasm' as const;
  readonly description: string;
  readonly shared: boolean;
  readonly counters = { stagedBytes: 0, splitCalls: 0 };
  private readonly x: Exports;
  private buf: ArrayBufferLike;
  private readonly known = new Set<ArrayBufferLike>();
  private u8!: Uint8Array;
  private f32!: Float32Array;
  private top: number;
  private longLived = 0;
  private scratch = 0;
  private scratchCap = 0;
  private readonly workspace: number;
  // Staging of one call (reused, so calls allocate nothing but subarray views).
  private sv: (View | null)[] = [];
  private sm: number[] = [];
  private sp: number[] = [];
  private sg: number[] = [];
  private gs: number[] = [];
  private ge: number[] = [];
  private n = 0;

  constructor(readonly memory: WebAssembly.Memory, instance: WebAssembly.Instance, shared: boolean, scratchBytes: number) {
    this.x = instance.exports as unknown as Exports;
    this.shared = shared;
    this.buf = memory.buffer;
    this.refresh();
    this.top = align16(Number(this.x.__heap_base.value));
    this.workspace = this.bump(this.x.s2s_gemm_workspace() * 4);
    this.scratch = this.bump(scratchBytes);
    this.scratchCap = scratchBytes;
    this.description = `wasm kernels (WebAssembly 128-bit SIMD, ${shared ? 'shared' : 'plain'} memory, 1 thread)`;
  }

  private refresh(): void {
    this.buf = this.memory.buffer;
    this.known.add(this.buf);
    this.u8 = new Uint8Array(this.buf);
    this.f32 = new Float32Array(this.buf);
  }

  /** Grows the memory to hold `end` bytes; false when a plain memory would detach live views. */
  private ensure(end: number): boolean {
    if (end <= this.buf.byteLength) return true;
    if (!this.shared && this.longLived > 0) return false;
    try {
      this.memory.grow(Math.ceil((end - this.buf.byteLength) / PAGE));
    } catch {
      return false;
    }
    this.refresh();
    return true;
  }

  private bump(bytes: number): number {
    const p = this.top;
    if (!this.ensure(p + bytes)) return -1;
    this.top = align16(p + bytes);
    return p;
  }

  allocFloat32(n: number): Float32Array | null {
    const p = this.bump(n * 4);
    if (p < 0) return null;
    this.longLived++;
    const view = new Float32Array(this.buf, p, n);
    view.fill(0);
    return view;
  }

  allocInt8(n: number): Int8Array | null {
    const p = this.bump(n);
    if (p < 0) return null;
    this.longLived++;
    const view = new Int8Array(this.buf, p, n);
    view.fill(0);
    return view;
  }

  reserve(bytes: number): void {
    this.ensure(this.top + bytes);
  }

  memoryBytes(): number {
    return this.top;
  }

  // ---------------------------------------------------------------- threads

  private workers: WorkerLike[] = [];
  private ctl = 0;
  private ctlI32: Int32Array | null = null;
  private ctlF32: Float32Array | null = null;
  /** Per worker thread t ≥ 1: its GEMM packing workspace and the top of its stack (made once, kept for restarts). */
  private workerWs: number[] = [];
  private workerStack: number[] = [];
  private module: WebAssembly.Module | null = null;

  get threads(): number {
    return this.workers.length + 1;
  }

  /** The module the instance came from (needed to instantiate it again in workers). */
  setModule(module: WebAssembly.Module): void {
    this.module = module;
  }

  async startThreads(threads: number, spawn: SpawnWorker): Promise<void> {
    if (!this.shared) throw new WasmKernelsError('wasm threads need the shared-memory build (s2s-kernels-mt.wasm over a shared memory)');
    if (!this.module) throw new WasmKernelsError('wasm threads: the kernel set was made without its module');
    this.stopThreads();
    const n = Math.max(0, Math.min(15, Math.floor(threads) - 1));
    if (n === 0) return;
    // Control block: [generation, pending], then one argument block per thread.
    if (!this.ctl) this.ctl = this.bump(4 * (CTL_HEAD + 16 * CTL_SLOTS));
    if (this.ctl < 0) throw new WasmKernelsError('wasm threads: no memory for the control block');
    this.ctlI32 = new Int32Array(this.buf, this.ctl, CTL_HEAD + 16 * CTL_SLOTS);
    this.ctlF32 = new Float32Array(this.buf, this.ctl, CTL_HEAD + 16 * CTL_SLOTS);
    Atomics.store(this.ctlI32, 0, 0);
    const ready: Promise<void>[] = [];
    const workers: WorkerLike[] = [];
    for (let t = 1; t <= n; t++) {
      if (this.workerWs[t] === undefined) {
        const stack = this.bump(WORKER_STACK);
        const ws = this.bump(this.x.s2s_gemm_workspace() * 4);
        if (stack < 0 || ws < 0) throw new WasmKernelsError('wasm threads: no memory for the workers\' stacks');
        this.workerWs[t] = ws;
        this.workerStack[t] = stack + WORKER_STACK; // the stack grows down from its top
      }
      ready.push(new Promise<void>((resolve, reject) => {
        const w = spawn(WORKER_CODE, (data) => (data === 'ready' ? resolve() : reject(new WasmKernelsError(`wasm worker: ${String(data)}`))), reject);
        workers.push(w);
        w.postMessage({ module: this.module, memory: this.memory, stack: this.workerStack[t], ctl: this.ctl, id: t, ops: WORKER_OPS });
      }));
    }
    try {
      await Promise.all(ready);
    } catch (err) {
      for (const w of workers) w.terminate();
      throw err;
    }
    this.workers = workers;
    (this as { description: string }).description = this.description.replace(/\d+ threads?\)$/, `${this.threads} threads)`);
  }

  stopThreads(): void {
    if (!this.workers.length) return;
    const c = this.ctlI32 as Int32Array;
    Atomics.store(c, 0, -1);
    Atomics.notify(c, 0);
    for (const w of this.workers) w.terminate();
    this.workers = [];
    (this as { description: string }).description = this.description.replace(/\d+ threads?\)$/, '1 thread)');
  }

  /**
   * Runs `parts` (one argument list per thread, for export `op`): parts[0] here, the others on the
   * workers; returns when all are done. Workers wait with Atomics.wait; this thread waits too where
   * it may (Node, workers) and spins where it may not (a browser's main thread).
   */
  private parallel(op: number, parts: number[][]): void {
    const c = this.ctlI32 as Int32Array, f = this.ctlF32 as Float32Array;
    const sig = WORKER_OPS[op][1];
    this.counters.splitCalls++;
    for (let t = 1; t < parts.length; t++) {
      const base = CTL_HEAD + t * CTL_SLOTS, a = parts[t];
      for (let i = 0; i < a.length; i++) {
        if (sig[i] === 'f') f[base + i] = a[i];
        else c[base + i] = a[i];
      }
    }
    // Threads without a part this time are told so by an empty argument count.
    for (let t = parts.length; t <= this.workers.length; t++) c[CTL_HEAD + t * CTL_SLOTS + CTL_SLOTS - 1] = 0;
    for (let t = 1; t < parts.length; t++) c[CTL_HEAD + t * CTL_SLOTS + CTL_SLOTS - 1] = op;
    Atomics.store(c, 1, this.workers.length);
    Atomics.add(c, 0, 1);
    Atomics.notify(c, 0);
    (this.x as unknown as Record<string, Fn>)[WORKER_OPS[op][0]](...parts[0]);
    for (;;) {
      const left = Atomics.load(c, 1);
      if (left === 0) break;
      if (canWait) Atomics.wait(c, 1, left, 50);
    }
  }

  /** Splits [0, n) into up to `threads` parts at multiples of `grain`. */
  private split(n: number, grain: number, minPart: number): [number, number][] {
    const t = Math.min(this.threads, Math.max(1, Math.floor(n / minPart)));
    const step = Math.ceil(n / t / grain) * grain;
    const out: [number, number][] = [];
    for (let s = 0; s < n; s += step) out.push([s, Math.min(n, s + step)]);
    return out;
  }

  contains(view: ArrayBufferView): boolean {
    return this.inMemory(view.buffer);
  }

  private inMemory(b: ArrayBufferLike): boolean {
    return b === this.buf || (this.shared && this.known.has(b));
  }

  // ---------------------------------------------------------------- staging

  private begin(): void {
    this.n = 0;
  }
  private arg(v: View | null, mode: number): void {
    const i = this.n++;
    this.sv[i] = v;
    this.sm[i] = mode;
  }
  /** Scratch of `bytes` for the C code (its pointer is ptr(index)). */
  private temp(bytes: number): void {
    const i = this.n++;
    this.sv[i] = null;
    this.sm[i] = -bytes;
  }
  private ptr(i: number): number {
    return this.sp[i];
  }

  /** Places every argument; false when the scratch cannot hold the staged ones (the call then runs on js). */
  private stage(): boolean {
    const n = this.n;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const v = this.sv[i];
      this.sg[i] = -1;
      if (v === null) {
        this.sp[i] = 0;
        if (this.sm[i] < 0) bytes += align16(-this.sm[i]);
        continue;
      }
      if (this.inMemory(v.buffer)) {
        this.sp[i] = v.byteOffset;
        continue;
      }
      // Group with an earlier staged argument over the same buffer when their bytes overlap.
      const s = v.byteOffset, e = s + v.byteLength;
      let g = i;
      for (let j = 0; j < i; j++) {
        const w = this.sv[j];
        if (w !== null && this.sg[j] >= 0 && w.buffer === v.buffer) {
          const gj = this.sg[j];
          if (s < this.ge[gj] && this.gs[gj] < e) {
            g = gj;
            break;
          }
        }
      }
      this.sg[i] = g;
      if (g === i) {
        this.gs[i] = s;
        this.ge[i] = e;
      } else {
        if (s < this.gs[g]) this.gs[g] = s;
        if (e > this.ge[g]) this.ge[g] = e;
        this.sm[g] |= INOUT; // a merged block is copied in whole, so bytes no member writes survive
      }
    }
    for (let i = 0; i < n; i++) if (this.sg[i] === i) bytes += align16(this.ge[i] - this.gs[i]);
    if (bytes > this.scratchCap) {
      const cap = Math.max(bytes, 2 * this.scratchCap);
      const p = this.bump(cap);
      if (p < 0) return false;
      this.scratch = p;
      this.scratchCap = cap;
    }
    let p = this.scratch;
    for (let i = 0; i < n; i++) {
      const v = this.sv[i];
      if (v === null) {
        if (this.sm[i] < 0) {
          this.sp[i] = p;
          p += align16(-this.sm[i]);
        }
        continue;
      }
      if (this.sg[i] !== i) continue;
      this.sp[i] = p;
      if (this.sm[i] & IN) {
        this.counters.stagedBytes += this.ge[i] - this.gs[i];
        if (this.ge[i] - this.gs[i] === v.byteLength) this.u8.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), p);
        else this.u8.set(new Uint8Array(v.buffer, this.gs[i], this.ge[i] - this.gs[i]), p);
      }
      p += align16(this.ge[i] - this.gs[i]);
    }
    for (let i = 0; i < n; i++) {
      const g = this.sg[i];
      if (g >= 0 && g !== i) this.sp[i] = this.sp[g] + ((this.sv[i] as View).byteOffset - this.gs[g]);
    }
    return true;
  }

  /** Copies staged outputs back (in argument order, so the last writer of aliased outputs wins as in C). */
  private finish(): void {
    for (let i = 0; i < this.n; i++) {
      const v = this.sv[i];
      if (v === null || this.sg[i] !== i || !(this.sm[i] & OUT)) continue;
      const len = this.ge[i] - this.gs[i];
      new Uint8Array(v.buffer, this.gs[i], len).set(this.u8.subarray(this.sp[i], this.sp[i] + len));
    }
    this.n = 0;
  }

  // ---------------------------------------------------------------- kernels

  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: Float32Array, lda: number,
    b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number): void {
    const fn = 'gemm';
    dim(fn, 'm', m); dim(fn, 'n', n); dim(fn, 'k', k); dim(fn, 'lda', lda); dim(fn, 'ldb', ldb); dim(fn, 'ldc', ldc);
    const aRows = transA ? k : m, aCols = transA ? m : k, bRows = transB ? n : k, bCols = transB ? k : n;
    if (lda < aCols) rangeError(`gemm: lda ${lda} is smaller than the ${aCols} columns of a`);
    if (ldb < bCols) rangeError(`gemm: ldb ${ldb} is smaller than the ${bCols} columns of b`);
    if (ldc < n) rangeError(`gemm: ldc ${ldc} is smaller than the ${n} columns of c`);
    need(fn, 'a', a.length, extent(aRows, aCols, lda), `a ${transA ? 'transposed ' : ''}${aRows}×${aCols} matrix with lda ${lda}`);
    need(fn, 'b', b.length, extent(bRows, bCols, ldb), `a ${transB ? 'transposed ' : ''}${bRows}×${bCols} matrix with ldb ${ldb}`);
    need(fn, 'c', c.length, extent(m, n, ldc), `a ${m}×${n} matrix with ldc ${ldc}`);
    if (m === 0 || n === 0) return;
    // Only the elements the matrices cover are staged (views can be longer than their matrices).
    const av = a.length > extent(aRows, aCols, lda) ? a.subarray(0, extent(aRows, aCols, lda)) : a;
    const bv = b.length > extent(bRows, bCols, ldb) ? b.subarray(0, extent(bRows, bCols, ldb)) : b;
    const cv = c.length > extent(m, n, ldc) ? c.subarray(0, extent(m, n, ldc)) : c;
    this.begin();
    this.arg(av, IN); this.arg(bv, IN); this.arg(cv, beta === 0 && ldc === n ? OUT : INOUT);
    if (!this.stage()) return jsKernels.gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    const pa = this.ptr(0), pb = this.ptr(1), pc = this.ptr(2);
    if (this.workers.length && m * n * k >= PARALLEL_MACS) {
      if (m <= DIRECT_ROWS && !(transA && transB)) {
        // The direct path (few rows): columns split at multiples of its widest block, so each column sees the same arithmetic.
        const parts = this.split(n, 32, 64).map(([j0, j1], t) => [+transA, +transB, m, j1 - j0, k, alpha, pa, lda,
          pb + 4 * (transB ? j0 * ldb : j0), ldb, beta, pc + 4 * j0, ldc, t === 0 ? this.workspace : this.workerWs[t]]);
        if (parts.length > 1) {
          this.parallel(OP_GEMM, parts);
          this.finish();
          return;
        }
      } else {
        // The packed path: row blocks, each packed on its own thread (s2s_gemm_packed keeps few-row blocks on this path).
        const parts = this.split(m, 4, 16).map(([i0, i1], t) => [+transA, +transB, i1 - i0, n, k, alpha,
          pa + 4 * (transA ? i0 : i0 * lda), lda, pb, ldb, beta, pc + 4 * i0 * ldc, ldc, t === 0 ? this.workspace : this.workerWs[t]]);
        if (parts.length > 1) {
          this.parallel(OP_GEMM_PACKED, parts);
          this.finish();
          return;
        }
      }
    }
    this.x.s2s_gemm(+transA, +transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, this.workspace);
    this.finish();
  }

  lstmCellForward(rows: number, hidden: number, gates: Float32Array, cPrev: Float32Array, c: Float32Array, h: Float32Array): void {
    const fn = 'lstmCellForward', s = rows * hidden;
    dim(fn, 'rows', rows); dim(fn, 'hidden', hidden);
    need(fn, 'gates', gates.length, 4 * s, 'rows×4·hidden'); need(fn, 'cPrev', cPrev.length, s, 'rows×hidden');
    need(fn, 'c', c.length, s, 'rows×hidden'); need(fn, 'h', h.length, s, 'rows×hidden');
    if (s === 0) return;
    this.begin();
    this.arg(gates.subarray(0, 4 * s), INOUT); this.arg(cPrev.subarray(0, s), IN); this.arg(c.subarray(0, s), OUT); this.arg(h.subarray(0, s), OUT);
    if (!this.stage()) return jsKernels.lstmCellForward(rows, hidden, gates, cPrev, c, h);
    this.x.s2s_lstm_forward(rows, hidden, this.ptr(0), this.ptr(1), this.ptr(2), this.ptr(3));
    this.finish();
  }

  lstmCellBackward(rows: number, hidden: number, gates: Float32Array, cPrev: Float32Array, c: Float32Array,
    dh: Float32Array, dc: Float32Array, dGates: Float32Array): void {
    const fn = 'lstmCellBackward', s = rows * hidden;
    dim(fn, 'rows', rows); dim(fn, 'hidden', hidden);
    need(fn, 'gates', gates.length, 4 * s, 'rows×4·hidden'); need(fn, 'cPrev', cPrev.length, s, 'rows×hidden');
    need(fn, 'c', c.length, s, 'rows×hidden'); need(fn, 'dh', dh.length, s, 'rows×hidden');
    need(fn, 'dc', dc.length, s, 'rows×hidden'); need(fn, 'dGates', dGates.length, 4 * s, 'rows×4·hidden');
    if (s === 0) return;
    this.begin();
    this.arg(gates.subarray(0, 4 * s), IN); this.arg(cPrev.subarray(0, s), IN); this.arg(c.subarray(0, s), IN);
    this.arg(dh.subarray(0, s), IN); this.arg(dc.subarray(0, s), INOUT); this.arg(dGates.subarray(0, 4 * s), OUT);
    if (!this.stage()) return jsKernels.lstmCellBackward(rows, hidden, gates, cPrev, c, dh, dc, dGates);
    this.x.s2s_lstm_backward(rows, hidden, this.ptr(0), this.ptr(1), this.ptr(2), this.ptr(3), this.ptr(4), this.ptr(5));
    this.finish();
  }

  gruCellForward(rows: number, hidden: number, xGates: Float32Array, hGates: Float32Array, hPrev: Float32Array, h: Float32Array): void {
    const fn = 'gruCellForward', s = rows * hidden;
    dim(fn, 'rows', rows); dim(fn, 'hidden', hidden);
    need(fn, 'xGates', xGates.length, 3 * s, 'rows×3·hidden'); need(fn, 'hGates', hGates.length, 3 * s, 'rows×3·hidden');
    need(fn, 'hPrev', hPrev.length, s, 'rows×hidden'); need(fn, 'h', h.length, s, 'rows×hidden');
    if (s === 0) return;
    this.begin();
    this.arg(xGates.subarray(0, 3 * s), INOUT); this.arg(hGates.subarray(0, 3 * s), IN); this.arg(hPrev.subarray(0, s), IN); this.arg(h.subarray(0, s), OUT);
    if (!this.stage()) return jsKernels.gruCellForward(rows, hidden, xGates, hGates, hPrev, h);
    this.x.s2s_gru_forward(rows, hidden, this.ptr(0), this.ptr(1), this.ptr(2), this.ptr(3));
    this.finish();
  }

  gruCellBackward(rows: number, hidden: number, gates: Float32Array, hGates: Float32Array, hPrev: Float32Array,
    dh: Float32Array, dxGates: Float32Array, dhGates: Float32Array): void {
    const fn = 'gruCellBackward', s = rows * hidden;
    dim(fn, 'rows', rows); dim(fn, 'hidden', hidden);
    need(fn, 'gates', gates.length, 3 * s, 'rows×3·hidden'); need(fn, 'hGates', hGates.length, 3 * s, 'rows×3·hidden');
    need(fn, 'hPrev', hPrev.length, s, 'rows×hidden'); need(fn, 'dh', dh.length, s, 'rows×hidden');
    need(fn, 'dxGates', dxGates.length, 3 * s, 'rows×3·hidden'); need(fn, 'dhGates', dhGates.length, 3 * s, 'rows×3·hidden');
    if (s === 0) return;
    this.begin();
    this.arg(gates.subarray(0, 3 * s), IN); this.arg(hGates.subarray(0, 3 * s), IN); this.arg(hPrev.subarray(0, s), IN);
    this.arg(dh.subarray(0, s), INOUT); this.arg(dxGates.subarray(0, 3 * s), OUT); this.arg(dhGates.subarray(0, 3 * s), OUT);
    if (!this.stage()) return jsKernels.gruCellBackward(rows, hidden, gates, hGates, hPrev, dh, dxGates, dhGates);
    this.x.s2s_gru_backward(rows, hidden, this.ptr(0), this.ptr(1), this.ptr(2), this.ptr(3), this.ptr(4), this.ptr(5));
    this.finish();
  }

  softmaxCrossEntropy(rows: number, cols: number, logits: Float32Array, targets: Int32Array, dLogits: Float32Array | null,
    scale: number, labelSmoothing: number): number {
    const fn = 'softmaxCrossEntropy', s = rows * cols;
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) rangeError(`${fn}: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
    need(fn, 'logits', logits.length, s, 'rows×cols'); need(fn, 'targets', targets.length, rows, 'one target per row');
    if (dLogits) need(fn, 'dLogits', dLogits.length, s, 'rows×cols');
    for (let r = 0; r < rows; r++) if (targets[r] >= cols) rangeError(`${fn}: target ${targets[r]} at row ${r} is out of range for ${cols} classes`);
    if (rows === 0) return 0;
    this.begin();
    this.arg(logits.subarray(0, s), IN); this.arg(targets.subarray(0, rows), IN); this.arg(dLogits ? dLogits.subarray(0, s) : null, OUT);
    if (!this.stage()) return jsKernels.softmaxCrossEntropy(rows, cols, logits, targets, dLogits, scale, labelSmoothing);
    const loss = this.x.s2s_softmax_xent(rows, cols, this.ptr(0), this.ptr(1), this.ptr(2), scale, labelSmoothing);
    this.finish();
    return loss;
  }

  softmaxRows(rows: number, cols: number, x: Float32Array, out: Float32Array, log: boolean): void {
    const fn = 'softmaxRows', s = rows * cols;
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    need(fn, 'x', x.length, s, 'rows×cols'); need(fn, 'out', out.length, s, 'rows×cols');
    if (s === 0) return;
    this.begin();
    this.arg(x.subarray(0, s), IN); this.arg(out.subarray(0, s), OUT);
    if (!this.stage()) return jsKernels.softmaxRows(rows, cols, x, out, log);
    this.x.s2s_softmax_rows(rows, cols, this.ptr(0), this.ptr(1), +log);
    this.finish();
  }

  unary(op: UnaryOp, x: Float32Array, out: Float32Array): void {
    const code = UNARY[op];
    if (code === undefined) rangeError(`unary: unknown op "${op}" (expected sigmoid, tanh or relu)`);
    need('unary', 'out', out.length, x.length, 'one element per element of x');
    const n = x.length;
    if (n === 0) return;
    this.begin();
    this.arg(x, IN); this.arg(out.subarray(0, n), OUT);
    if (!this.stage()) return jsKernels.unary(op, x, out);
    this.x.s2s_unary(code, n, this.ptr(0), this.ptr(1));
    this.finish();
  }

  unaryBackward(op: UnaryOp, y: Float32Array, dy: Float32Array, dx: Float32Array): void {
    const code = UNARY[op];
    if (code === undefined) rangeError(`unaryBackward: unknown op "${op}" (expected sigmoid, tanh or relu)`);
    const n = y.length;
    need('unaryBackward', 'dy', dy.length, n, 'one element per element of y');
    need('unaryBackward', 'dx', dx.length, n, 'one element per element of y');
    if (n === 0) return;
    this.begin();
    this.arg(y, IN); this.arg(dy.subarray(0, n), IN); this.arg(dx.subarray(0, n), INOUT);
    if (!this.stage()) return jsKernels.unaryBackward(op, y, dy, dx);
    this.x.s2s_unary_backward(code, n, this.ptr(0), this.ptr(1), this.ptr(2));
    this.finish();
  }

  addRowVector(rows: number, cols: number, x: Float32Array, bias: Float32Array): void {
    const fn = 'addRowVector', s = rows * cols;
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    need(fn, 'x', x.length, s, 'rows×cols'); need(fn, 'bias', bias.length, cols, 'cols');
    if (s === 0) return;
    this.begin();
    this.arg(x.subarray(0, s), INOUT); this.arg(bias.subarray(0, cols), IN);
    if (!this.stage()) return jsKernels.addRowVector(rows, cols, x, bias);
    this.x.s2s_add_row_vector(rows, cols, this.ptr(0), this.ptr(1));
    this.finish();
  }

  sumRows(rows: number, cols: number, x: Float32Array, out: Float32Array): void {
    const fn = 'sumRows', s = rows * cols;
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    need(fn, 'x', x.length, s, 'rows×cols'); need(fn, 'out', out.length, cols, 'cols');
    if (s === 0) return;
    this.begin();
    this.arg(x.subarray(0, s), IN); this.arg(out.subarray(0, cols), INOUT);
    if (!this.stage()) return jsKernels.sumRows(rows, cols, x, out);
    this.x.s2s_sum_rows(rows, cols, this.ptr(0), this.ptr(1));
    this.finish();
  }

  gatherRows(cols: number, src: Float32Array, index: Int32Array, out: Float32Array): void {
    const fn = 'gatherRows';
    dim(fn, 'cols', cols);
    need(fn, 'out', out.length, index.length * cols, 'index.length×cols');
    if (cols > 0) indicesBelow(fn, index, Math.floor(src.length / cols), 'a source');
    if (index.length === 0 || cols === 0) return;
    this.begin();
    this.arg(src, IN); this.arg(index, IN); this.arg(out.subarray(0, index.length * cols), OUT);
    if (!this.stage()) return jsKernels.gatherRows(cols, src, index, out);
    this.x.s2s_gather_rows(cols, this.ptr(0), this.ptr(1), index.length, this.ptr(2));
    this.finish();
  }

  scatterAddRows(cols: number, src: Float32Array, index: Int32Array, dst: Float32Array): void {
    const fn = 'scatterAddRows';
    dim(fn, 'cols', cols);
    need(fn, 'src', src.length, index.length * cols, 'index.length×cols');
    if (cols > 0) indicesBelow(fn, index, Math.floor(dst.length / cols), 'a destination');
    if (index.length === 0 || cols === 0) return;
    this.begin();
    this.arg(src.subarray(0, index.length * cols), IN); this.arg(index, IN); this.arg(dst, INOUT);
    if (!this.stage()) return jsKernels.scatterAddRows(cols, src, index, dst);
    this.x.s2s_scatter_add_rows(cols, this.ptr(0), this.ptr(1), index.length, this.ptr(2));
    this.finish();
  }

  sumSquares(x: Float32Array): number {
    if (x.length === 0) return 0;
    this.begin();
    this.arg(x, IN);
    if (!this.stage()) return jsKernels.sumSquares(x);
    const r = this.x.s2s_sum_squares(x.length, this.ptr(0));
    this.finish();
    return r;
  }

  scale(x: Float32Array, s: number): void {
    if (x.length === 0) return;
    this.begin();
    this.arg(x, INOUT);
    if (!this.stage()) return jsKernels.scale(x, s);
    this.x.s2s_scale(x.length, this.ptr(0), s);
    this.finish();
  }

  rmspropUpdate(p: Float32Array, g: Float32Array, ms: Float32Array, lr: number, rho: number, eps: number): void {
    const n = p.length;
    need('rmspropUpdate', 'g', g.length, n, 'one element per parameter');
    need('rmspropUpdate', 'ms', ms.length, n, 'one element per parameter');
    if (n === 0) return;
    this.begin();
    this.arg(p, INOUT); this.arg(g.subarray(0, n), IN); this.arg(ms.subarray(0, n), INOUT);
    if (!this.stage()) return jsKernels.rmspropUpdate(p, g, ms, lr, rho, eps);
    this.x.s2s_rmsprop(n, this.ptr(0), this.ptr(1), this.ptr(2), lr, rho, eps);
    this.finish();
  }

  adamUpdate(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lrT: number, beta1: number, beta2: number, eps: number): void {
    const n = p.length;
    need('adamUpdate', 'g', g.length, n, 'one element per parameter');
    need('adamUpdate', 'm', m.length, n, 'one element per parameter');
    need('adamUpdate', 'v', v.length, n, 'one element per parameter');
    if (n === 0) return;
    this.begin();
    this.arg(p, INOUT); this.arg(g.subarray(0, n), IN); this.arg(m.subarray(0, n), INOUT); this.arg(v.subarray(0, n), INOUT);
    if (!this.stage()) return jsKernels.adamUpdate(p, g, m, v, lrT, beta1, beta2, eps);
    this.x.s2s_adam(n, this.ptr(0), this.ptr(1), this.ptr(2), this.ptr(3), lrT, beta1, beta2, eps);
    this.finish();
  }

  private attentionShape(fn: string, batch: number, heads: number, tq: number, tk: number, headDim: number,
    q: Float32Array, k: Float32Array, v: Float32Array): void {
    dim(fn, 'batch', batch); dim(fn, 'heads', heads); dim(fn, 'tq', tq); dim(fn, 'tk', tk); dim(fn, 'headDim', headDim);
    const D = heads * headDim;
    if (D > 2147483647 || batch * heads > 2147483647 || tq * tk > 2147483647 || batch * tq > 2147483647 || batch * tk > 2147483647) rangeError(`${fn}: shapes too large`);
    need(fn, 'q', q.length, batch * tq * D, 'batch·tq×heads·headDim');
    need(fn, 'k', k.length, batch * tk * D, 'batch·tk×heads·headDim');
    need(fn, 'v', v.length, batch * tk * D, 'batch·tk×heads·headDim');
  }

  attentionForward(batch: number, heads: number, tq: number, tk: number, headDim: number, q: Float32Array, k: Float32Array,
    v: Float32Array, keyMask: Uint8Array | null, causal: boolean, dropMask: Uint8Array | null, keepScale: number,
    probs: Float32Array, out: Float32Array): void {
    const fn = 'attentionForward';
    this.attentionShape(fn, batch, heads, tq, tk, headDim, q, k, v);
    const np = batch * heads * tq * tk, nq = batch * tq * heads * headDim, nk = batch * tk * heads * headDim;
    if (keyMask) need(fn, 'keyMask', keyMask.length, batch * tk, 'batch·tk');
    if (dropMask) need(fn, 'dropMask', dropMask.length, np, 'batch·heads·tq·tk');
    need(fn, 'probs', probs.length, np, 'batch·heads·tq·tk');
    need(fn, 'out', out.length, nq, 'batch·tq×heads·headDim');
    const pairs = batch * heads;
    if (pairs === 0 || tq === 0) return;
    this.begin();
    this.arg(q.subarray(0, nq), IN); this.arg(k.subarray(0, nk), IN); this.arg(v.subarray(0, nk), IN);
    this.arg(keyMask ? keyMask.subarray(0, batch * tk) : null, IN); this.arg(dropMask ? dropMask.subarray(0, np) : null, IN);
    this.arg(probs.subarray(0, np), OUT); this.arg(out.subarray(0, nq), OUT);
    const scratch = align16(this.x.s2s_attention_scratch(tq, tk, headDim) * 4);
    const parts = this.workers.length && pairs * tq * tk * headDim >= PARALLEL_MACS ? this.split(pairs, 1, 1) : [[0, pairs]];
    this.temp(scratch * parts.length);
    if (!this.stage()) return jsKernels.attentionForward(batch, heads, tq, tk, headDim, q, k, v, keyMask, causal, dropMask, keepScale, probs, out);
    const args = [batch, heads, tq, tk, headDim, this.ptr(0), this.ptr(1), this.ptr(2), this.ptr(3), +causal, this.ptr(4), keepScale, this.ptr(5), this.ptr(6)];
    if (parts.length > 1) this.parallel(OP_ATTN_FWD, parts.map(([p0, p1], t) => [...args, p0, p1, this.ptr(7) + t * scratch]));
    else this.x.s2s_attention_forward(...args, 0, pairs, this.ptr(7));
    this.finish();
  }

  attentionBackward(batch: number, heads: number, tq: number, tk: number, headDim: number, q: Float32Array, k: Float32Array,
    v: Float32Array, probs: Float32Array, dropMask: Uint8Array | null, keepScale: number, dOut: Float32Array,
    dq: Float32Array | null, dk: Float32Array | null, dv: Float32Array | null): void {
    const fn = 'attentionBackward';
    this.attentionShape(fn, batch, heads, tq, tk, headDim, q, k, v);
    const np = batch * heads * tq * tk, nq = batch * tq * heads * headDim, nk = batch * tk * heads * headDim;
    need(fn, 'probs', probs.length, np, 'batch·heads·tq·tk');
    if (dropMask) need(fn, 'dropMask', dropMask.length, np, 'batch·heads·tq·tk');
    need(fn, 'dOut', dOut.length, nq, 'batch·tq×heads·headDim');
    if (dq) need(fn, 'dq', dq.length, nq, 'batch·tq×heads·headDim');
    if (dk) need(fn, 'dk', dk.length, nk, 'batch·tk×heads·headDim');
    if (dv) need(fn, 'dv', dv.length, nk, 'batch·tk×heads·headDim');
    const pairs = batch * heads;
    if (pairs === 0 || tq === 0) return;
    this.begin();
    this.arg(q.subarray(0, nq), IN); this.arg(k.subarray(0, nk), IN); this.arg(v.subarray(0, nk), IN);
    this.arg(probs.subarray(0, np), IN); this.arg(dropMask ? dropMask.subarray(0, np) : null, IN); this.arg(dOut.subarray(0, nq), IN);
    this.arg(dq ? dq.subarray(0, nq) : null, INOUT); this.arg(dk ? dk.subarray(0, nk) : null, INOUT); this.arg(dv ? dv.subarray(0, nk) : null, INOUT);
    const scratch = align16(this.x.s2s_attention_scratch(tq, tk, headDim) * 4);
    const parts = this.workers.length && pairs * tq * tk * headDim >= PARALLEL_MACS ? this.split(pairs, 1, 1) : [[0, pairs]];
    this.temp(scratch * parts.length);
    if (!this.stage()) return jsKernels.attentionBackward(batch, heads, tq, tk, headDim, q, k, v, probs, dropMask, keepScale, dOut, dq, dk, dv);
    const args = [batch, heads, tq, tk, headDim, this.ptr(0), this.ptr(1), this.ptr(2), this.ptr(3), this.ptr(4), keepScale,
      this.ptr(5), this.ptr(6), this.ptr(7), this.ptr(8)];
    if (parts.length > 1) this.parallel(OP_ATTN_BWD, parts.map(([p0, p1], t) => [...args, p0, p1, this.ptr(9) + t * scratch]));
    else this.x.s2s_attention_backward(...args, 0, pairs, this.ptr(9));
    this.finish();
  }

  layerNormForward(rows: number, cols: number, x: Float32Array, gain: Float32Array, bias: Float32Array, eps: number,
    out: Float32Array, mean: Float32Array, rstd: Float32Array): void {
    const fn = 'layerNormForward', s = rows * cols;
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    need(fn, 'x', x.length, s, 'rows×cols'); need(fn, 'gain', gain.length, cols, 'cols'); need(fn, 'bias', bias.length, cols, 'cols');
    need(fn, 'out', out.length, s, 'rows×cols'); need(fn, 'mean', mean.length, rows, 'rows'); need(fn, 'rstd', rstd.length, rows, 'rows');
    if (cols === 0 || rows === 0) return;
    this.begin();
    this.arg(x.subarray(0, s), IN); this.arg(gain.subarray(0, cols), IN); this.arg(bias.subarray(0, cols), IN);
    this.arg(out.subarray(0, s), OUT); this.arg(mean.subarray(0, rows), OUT); this.arg(rstd.subarray(0, rows), OUT);
    if (!this.stage()) return jsKernels.layerNormForward(rows, cols, x, gain, bias, eps, out, mean, rstd);
    this.x.s2s_layer_norm_forward(rows, cols, this.ptr(0), this.ptr(1), this.ptr(2), eps, this.ptr(3), this.ptr(4), this.ptr(5));
    this.finish();
  }

  layerNormBackward(rows: number, cols: number, x: Float32Array, gain: Float32Array, mean: Float32Array, rstd: Float32Array,
    dy: Float32Array, dx: Float32Array | null, dGain: Float32Array | null, dBias: Float32Array | null): void {
    const fn = 'layerNormBackward', s = rows * cols;
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    need(fn, 'x', x.length, s, 'rows×cols'); need(fn, 'gain', gain.length, cols, 'cols');
    need(fn, 'mean', mean.length, rows, 'rows'); need(fn, 'rstd', rstd.length, rows, 'rows'); need(fn, 'dy', dy.length, s, 'rows×cols');
    if (dx) need(fn, 'dx', dx.length, s, 'rows×cols');
    if (dGain) need(fn, 'dGain', dGain.length, cols, 'cols');
    if (dBias) need(fn, 'dBias', dBias.length, cols, 'cols');
    if (cols === 0 || rows === 0) return;
    this.begin();
    this.arg(x.subarray(0, s), IN); this.arg(gain.subarray(0, cols), IN); this.arg(mean.subarray(0, rows), IN);
    this.arg(rstd.subarray(0, rows), IN); this.arg(dy.subarray(0, s), IN); this.arg(dx ? dx.subarray(0, s) : null, INOUT);
    this.arg(dGain ? dGain.subarray(0, cols) : null, INOUT); this.arg(dBias ? dBias.subarray(0, cols) : null, INOUT);
    if (!this.stage()) return jsKernels.layerNormBackward(rows, cols, x, gain, mean, rstd, dy, dx, dGain, dBias);
    this.x.s2s_layer_norm_backward(0, rows, cols, this.ptr(0), this.ptr(1), this.ptr(2), this.ptr(3), this.ptr(4), this.ptr(5), this.ptr(6), this.ptr(7));
    this.finish();
  }

  biasActivation(rows: number, cols: number, x: Float32Array, bias: Float32Array | null, act: Activation,
    pre: Float32Array | null, out: Float32Array): void {
    const fn = 'biasActivation', s = rows * cols, code = ACT[act];
    if (code === undefined) rangeError(`${fn}: unknown activation "${act}" (expected none, relu or gelu)`);
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    need(fn, 'x', x.length, s, 'rows×cols');
    if (bias) need(fn, 'bias', bias.length, cols, 'cols');
    if (pre) need(fn, 'pre', pre.length, s, 'rows×cols');
    need(fn, 'out', out.length, s, 'rows×cols');
    if (s === 0) return;
    this.begin();
    this.arg(x.subarray(0, s), IN); this.arg(bias ? bias.subarray(0, cols) : null, IN);
    this.arg(pre ? pre.subarray(0, s) : null, OUT); this.arg(out.subarray(0, s), OUT);
    if (!this.stage()) return jsKernels.biasActivation(rows, cols, x, bias, act, pre, out);
    this.x.s2s_bias_activation(rows, cols, this.ptr(0), this.ptr(1), code, this.ptr(2), this.ptr(3));
    this.finish();
  }

  activationBackward(act: Activation, z: Float32Array, dy: Float32Array, dx: Float32Array): void {
    const fn = 'activationBackward', code = ACT[act], n = z.length;
    if (code === undefined) rangeError(`${fn}: unknown activation "${act}" (expected none, relu or gelu)`);
    need(fn, 'dy', dy.length, n, 'one element per element of z');
    need(fn, 'dx', dx.length, n, 'one element per element of z');
    const shares = (a: Float32Array, b: Float32Array): boolean => a.buffer === b.buffer && a.byteOffset === b.byteOffset;
    if (shares(dx, dy) || shares(dx, z)) {
      if (code === 0) return;
      rangeError(`${fn}: dx must not share its buffer with z or dy`);
    }
    if (n === 0) return;
    this.begin();
    this.arg(z, IN); this.arg(dy.subarray(0, n), IN); this.arg(dx.subarray(0, n), OUT);
    if (!this.stage()) return jsKernels.activationBackward(act, z, dy, dx);
    this.x.s2s_activation_backward(code, n, this.ptr(0), this.ptr(1), this.ptr(2));
    this.finish();
  }

  embedPositions(cols: number, table: Float32Array, ids: Int32Array, scale: number, positions: Float32Array,
    positionIds: Int32Array, out: Float32Array): void {
    const fn = 'embedPositions', n = ids.length;
    dim(fn, 'cols', cols);
    need(fn, 'positionIds', positionIds.length, n, 'one position id per id');
    need(fn, 'out', out.length, n * cols, 'ids.length×cols');
    if (cols > 0) {
      indicesBelow(fn, ids, Math.floor(table.length / cols), 'a table');
      indicesBelow(fn, positionIds.subarray(0, n), Math.floor(positions.length / cols), 'a position table');
    }
    if (n === 0 || cols === 0) return;
    this.begin();
    this.arg(table, IN); this.arg(ids, IN); this.arg(positions, IN); this.arg(positionIds.subarray(0, n), IN); this.arg(out.subarray(0, n * cols), OUT);
    if (!this.stage()) return jsKernels.embedPositions(cols, table, ids, scale, positions, positionIds, out);
    this.x.s2s_embed_positions(cols, this.ptr(0), this.ptr(1), n, scale, this.ptr(2), this.ptr(3), this.ptr(4));
    this.finish();
  }

  embedPositionsBackward(cols: number, dy: Float32Array, ids: Int32Array, scale: number, positionIds: Int32Array,
    dTable: Float32Array | null, dPositions: Float32Array | null): void {
    const fn = 'embedPositionsBackward', n = ids.length;
    dim(fn, 'cols', cols);
    need(fn, 'positionIds', positionIds.length, n, 'one position id per id');
    need(fn, 'dy', dy.length, n * cols, 'ids.length×cols');
    if (cols > 0 && dTable) indicesBelow(fn, ids, Math.floor(dTable.length / cols), 'a table');
    if (cols > 0 && dPositions) indicesBelow(fn, positionIds.subarray(0, n), Math.floor(dPositions.length / cols), 'a position table');
    if (n === 0 || cols === 0 || (!dTable && !dPositions)) return;
    this.begin();
    this.arg(dy.subarray(0, n * cols), IN); this.arg(ids, IN); this.arg(positionIds.subarray(0, n), IN);
    this.arg(dTable, INOUT); this.arg(dPositions, INOUT);
    if (!this.stage()) return jsKernels.embedPositionsBackward(cols, dy, ids, scale, positionIds, dTable, dPositions);
    this.x.s2s_embed_positions_backward(cols, this.ptr(0), this.ptr(1), n, scale, this.ptr(2), this.ptr(3), this.ptr(4));
    this.finish();
  }

  keepMask(state: Uint32Array, p: number, mask: Uint8Array): void {
    if (state.length < 4) rangeError(`keepMask: state has ${state.length} words but needs 4`);
    if (mask.length === 0) return;
    this.begin();
    this.arg(state.subarray(0, 4), INOUT); this.arg(mask, OUT);
    if (!this.stage()) return jsKernels.keepMask(state, p, mask);
    this.x.s2s_keep_mask(this.ptr(0), p * 4294967296, mask.length, this.ptr(1));
    this.finish();
  }

  dropoutApply(mask: Uint8Array, scale: number, x: Float32Array, out: Float32Array, accumulate: boolean): void {
    const n = mask.length;
    need('dropoutApply', 'x', x.length, n, 'one element per mask entry');
    need('dropoutApply', 'out', out.length, n, 'one element per mask entry');
    if (n === 0) return;
    this.begin();
    this.arg(mask, IN); this.arg(x.subarray(0, n), IN); this.arg(out.subarray(0, n), accumulate ? INOUT : OUT);
    if (!this.stage()) return jsKernels.dropoutApply(mask, scale, x, out, accumulate);
    this.x.s2s_dropout_apply(n, this.ptr(0), scale, this.ptr(1), this.ptr(2), +accumulate);
    this.finish();
  }

  copyBlock(rows: number, cols: number, src: Float32Array, srcStride: number, dst: Float32Array, dstStride: number, accumulate: boolean): void {
    const fn = 'copyBlock';
    dim(fn, 'rows', rows); dim(fn, 'cols', cols); dim(fn, 'srcStride', srcStride); dim(fn, 'dstStride', dstStride);
    if (rows > 1 && (srcStride < cols || dstStride < cols)) rangeError(`${fn}: strides ${srcStride} and ${dstStride} must be at least the ${cols} columns`);
    const se = extent(rows, cols, srcStride), de = extent(rows, cols, dstStride);
    need(fn, 'src', src.length, se, 'rows×cols with srcStride');
    need(fn, 'dst', dst.length, de, 'rows×cols with dstStride');
    if (rows === 0 || cols === 0) return;
    this.begin();
    // Strided dst: rows of it between the copied columns must survive, so it is copied in too.
    this.arg(src.subarray(0, se), IN); this.arg(dst.subarray(0, de), accumulate || (rows > 1 && dstStride !== cols) ? INOUT : OUT);
    if (!this.stage()) return jsKernels.copyBlock(rows, cols, src, srcStride, dst, dstStride, accumulate);
    this.x.s2s_copy_block(rows, cols, this.ptr(0), srcStride, this.ptr(1), dstStride, +accumulate);
    this.finish();
  }

  // ---------------------------------------------------------------- int8 (bit-exact with js: see types.ts)

  quantizeRowsInt8(rows: number, cols: number, x: Float32Array, q: Int8Array, scales: Float32Array): void {
    const fn = 'quantizeRowsInt8', s = rows * cols;
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    need(fn, 'x', x.length, s, 'rows×cols'); need(fn, 'q', q.length, s, 'rows×cols'); need(fn, 'scales', scales.length, rows, 'rows');
    if (rows === 0) return;
    this.begin();
    this.arg(x.subarray(0, s), IN); this.arg(q.subarray(0, s), OUT); this.arg(scales.subarray(0, rows), OUT);
    if (!this.stage()) return jsKernels.quantizeRowsInt8(rows, cols, x, q, scales);
    this.x.s2s_quantize_rows_int8(rows, cols, this.ptr(0), this.ptr(1), this.ptr(2));
    this.finish();
  }

  gemmInt8(m: number, n: number, k: number, a: Int8Array, aScales: Float32Array, b: Int8Array, bScales: Float32Array,
    bias: Float32Array | null, accumulate: boolean, out: Float32Array): void {
    const fn = 'gemmInt8';
    dim(fn, 'm', m); dim(fn, 'n', n); dim(fn, 'k', k);
    if (k > 131072) rangeError(`${fn}: k ${k} is above 131072 (int32 sums could overflow)`);
    need(fn, 'a', a.length, m * k, 'm×k'); need(fn, 'aScales', aScales.length, m, 'm');
    need(fn, 'b', b.length, n * k, 'n×k'); need(fn, 'bScales', bScales.length, n, 'n');
    if (bias) need(fn, 'bias', bias.length, n, 'n');
    need(fn, 'out', out.length, m * n, 'm×n');
    if (m === 0 || n === 0) return;
    this.begin();
    this.arg(a.subarray(0, m * k), IN); this.arg(aScales.subarray(0, m), IN); this.arg(b.subarray(0, n * k), IN);
    this.arg(bScales.subarray(0, n), IN); this.arg(bias ? bias.subarray(0, n) : null, IN); this.arg(out.subarray(0, m * n), accumulate ? INOUT : OUT);
    if (!this.stage()) return jsKernels.gemmInt8(m, n, k, a, aScales, b, bScales, bias, accumulate, out);
    const args = [m, n, k, this.ptr(0), this.ptr(1), this.ptr(2), this.ptr(3), this.ptr(4), +accumulate, this.ptr(5)];
    const parts = this.workers.length && m * n * k >= PARALLEL_MACS ? this.split(n, 4, 16) : [[0, n]];
    if (parts.length > 1) this.parallel(OP_GEMM_INT8, parts.map(([j0, j1]) => [...args, j0, j1]));
    else this.x.s2s_gemm_int8(...args, 0, n);
    this.finish();
  }

  gatherRowsInt8(cols: number, table: Int8Array, scales: Float32Array, index: Int32Array, out: Float32Array): void {
    const fn = 'gatherRowsInt8';
    dim(fn, 'cols', cols);
    need(fn, 'out', out.length, index.length * cols, 'index.length×cols');
    if (cols > 0) indicesBelow(fn, index, Math.min(Math.floor(table.length / cols), scales.length), 'a table');
    if (index.length === 0 || cols === 0) return;
    this.begin();
    this.arg(table, IN); this.arg(scales, IN); this.arg(index, IN); this.arg(out.subarray(0, index.length * cols), OUT);
    if (!this.stage()) return jsKernels.gatherRowsInt8(cols, table, scales, index, out);
    this.x.s2s_gather_rows_int8(cols, this.ptr(0), this.ptr(1), this.ptr(2), index.length, this.ptr(3));
    this.finish();
  }

  attentionStep(rows: number, heads: number, headDim: number, keys: number, q: Float32Array, qStride: number,
    kNew: Float32Array | null, vNew: Float32Array | null, newStride: number, k: Float32Array, v: Float32Array,
    blockStride: number, headStride: number, posStride: number, block: Int32Array | null, keyMask: Uint8Array | null,
    out: Float32Array, probs: Float32Array | null): void {
    checkAttentionStep(rows, heads, headDim, keys, q, qStride, kNew, vNew, newStride, k, v, blockStride, headStride, posStride, block, keyMask, out, probs);
    if (rows === 0 || heads === 0) return;
    const D = heads * headDim;
    let blocks = rows;
    if (block) { blocks = 0; for (let r = 0; r < rows; r++) blocks = Math.max(blocks, block[r] + 1); }
    const ext = blocks === 0 || keys === 0 || headDim === 0 ? 0 : (blocks - 1) * blockStride + (heads - 1) * headStride + (keys - 1) * posStride + headDim;
    const mode = kNew ? INOUT : IN;
    this.begin();
    this.arg(q.subarray(0, (rows - 1) * qStride + D), IN);
    this.arg(kNew ? kNew.subarray(0, (rows - 1) * newStride + D) : null, IN);
    this.arg(vNew ? vNew.subarray(0, (rows - 1) * newStride + D) : null, IN);
    this.arg(k.subarray(0, ext), mode); this.arg(v.subarray(0, ext), mode);
    this.arg(block ? block.subarray(0, rows) : null, IN); this.arg(keyMask ? keyMask.subarray(0, blocks * keys) : null, IN);
    this.arg(out.subarray(0, rows * D), OUT); this.arg(probs ? probs.subarray(0, rows * heads * keys) : null, OUT);
    this.temp(4 * keys + 16);
    if (!this.stage()) return jsKernels.attentionStep(rows, heads, headDim, keys, q, qStride, kNew, vNew, newStride, k, v, blockStride, headStride, posStride, block, keyMask, out, probs);
    this.x.s2s_attention_step(rows, heads, headDim, keys, this.ptr(0), qStride, this.ptr(1), this.ptr(2), newStride, this.ptr(3), this.ptr(4),
      blockStride, headStride, posStride, this.ptr(5), this.ptr(6), this.ptr(7), this.ptr(8), this.ptr(9));
    this.finish();
  }

  addLayerNorm(rows: number, cols: number, x: Float32Array, delta: Float32Array | null, bias: Float32Array | null,
    gain: Float32Array, lnBias: Float32Array, eps: number, out: Float32Array): void {
    const fn = 'addLayerNorm', s = rows * cols;
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    need(fn, 'x', x.length, s, 'rows×cols');
    if (delta) need(fn, 'delta', delta.length, s, 'rows×cols');
    if (bias) need(fn, 'bias', bias.length, cols, 'cols');
    need(fn, 'gain', gain.length, cols, 'cols'); need(fn, 'lnBias', lnBias.length, cols, 'cols');
    need(fn, 'out', out.length, s, 'rows×cols');
    if (s === 0) return;
    this.begin();
    this.arg(x.subarray(0, s), INOUT); this.arg(delta ? delta.subarray(0, s) : null, IN); this.arg(bias ? bias.subarray(0, cols) : null, IN);
    this.arg(gain.subarray(0, cols), IN); this.arg(lnBias.subarray(0, cols), IN); this.arg(out.subarray(0, s), OUT);
    if (!this.stage()) return jsKernels.addLayerNorm(rows, cols, x, delta, bias, gain, lnBias, eps, out);
    this.x.s2s_add_layer_norm(rows, cols, this.ptr(0), this.ptr(1), this.ptr(2), this.ptr(3), this.ptr(4), eps, this.ptr(5));
    this.finish();
  }

  argmaxRows(rows: number, cols: number, x: Float32Array, out: Int32Array): void {
    const fn = 'argmaxRows';
    dim(fn, 'rows', rows); dim(fn, 'cols', cols);
    need(fn, 'x', x.length, rows * cols, 'rows×cols');
    need(fn, 'out', out.length, rows, 'one index per row');
    if (rows === 0) return;
    if (cols === 0) {
      out.fill(0, 0, rows);
      return;
    }
    this.begin();
    this.arg(x.subarray(0, rows * cols), IN); this.arg(out.subarray(0, rows), OUT);
    if (!this.stage()) return jsKernels.argmaxRows(rows, cols, x, out);
    this.x.s2s_argmax_rows(rows, cols, this.ptr(0), this.ptr(1));
    this.finish();
  }
}

/**
 * The kernel set over a compiled module (s2s-kernels.wasm, or with
 * `shared: true` s2s-kernels-mt.wasm). Synchronous: in browsers compile the
 * module with WebAssembly.compile first (or use loadWasmKernels).
 */
export function createWasmKernels(module: WebAssembly.Module, options: WasmKernelOptions = {}): WasmKernels {
  const shared = options.shared ?? WASM_DEFAULTS.shared;
  const maximum = options.maximumPages ?? WASM_DEFAULTS.maximumPages;
  const scratchBytes = options.scratchBytes ?? WASM_DEFAULTS.scratchBytes;
  // The module's own data and stack sit below __heap_base (a few hundred KiB); start with room for the GEMM workspace and scratch.
  const initial = Math.ceil(((1 << 20) + (4 << 20) + scratchBytes) / PAGE);
  let memory: WebAssembly.Memory;
  try {
    memory = new WebAssembly.Memory({ initial, maximum, shared } as WebAssembly.MemoryDescriptor);
  } catch (err) {
    throw new WasmKernelsError(`cannot create a ${shared ? 'shared ' : ''}WebAssembly memory: ${(err as Error).message}`);
  }
  let instance: WebAssembly.Instance;
  try {
    instance = new WebAssembly.Instance(module, { env: { memory, log: Math.log } });
  } catch (err) {
    throw new WasmKernelsError(`cannot instantiate the wasm kernels (${shared ? WASM_FILES.shared : WASM_FILES.plain}): ${(err as Error).message}`);
  }
  const set = new WasmKernelSet(memory, instance, shared, scratchBytes);
  set.setModule(module);
  return set;
}

/** Starts worker threads for a shared-memory kernel set in Node (node:worker_threads). */
export async function startNodeThreads(k: WasmKernels, threads: number): Promise<void> {
  const getBuiltin = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  if (!getBuiltin) throw new WasmKernelsError('node:worker_threads is not available here');
  const { Worker } = getBuiltin('node:worker_threads') as typeof import('node:worker_threads');
  await k.startThreads(threads, (code, onMessage, onError) => {
    const w = new Worker(code, { eval: true });
    w.on('message', (data: unknown) => {
      if (data === 'ready') w.unref(); // once started, idle workers must not keep the process alive
      onMessage(data);
    });
    w.on('error', onError);
    return w;
  });
}

/** Starts Web Workers for a shared-memory kernel set in a cross-origin isolated page (the worker script comes from a Blob). */
export async function startBrowserThreads(k: WasmKernels, threads: number): Promise<void> {
  const g = globalThis as unknown as { Worker?: new (url: string) => WorkerLike & { onmessage: unknown; onerror: unknown }; URL: typeof URL; Blob?: typeof Blob };
  if (!g.Worker || !g.Blob) throw new WasmKernelsError('Web Workers are not available here');
  const url = g.URL.createObjectURL(new g.Blob([WORKER_CODE], { type: 'text/javascript' }));
  try {
    await k.startThreads(threads, (code, onMessage, onError) => {
      const w = new (g.Worker as NonNullable<typeof g.Worker>)(url);
      w.onmessage = (e: { data: unknown }) => onMessage(e.data);
      w.onerror = (e: unknown) => onError(e);
      return w;
    });
  } finally {
    g.URL.revokeObjectURL(url);
  }
}

/** Whether this runtime can run the wasm kernels: WebAssembly with 128-bit SIMD. */
export function wasmSimdSupported(): boolean {
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.validate !== 'function') return false;
  // (module (func (result v128) (v128.const i32x4 0 0 0 0)))
  const probe = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11]);
  return WebAssembly.validate(probe);
}

/** Whether shared WebAssembly memories can be made here (Node; browsers only when crossOriginIsolated). */
export function sharedMemorySupported(): boolean {
  const g = globalThis as { crossOriginIsolated?: boolean; SharedArrayBuffer?: unknown };
  if (typeof g.SharedArrayBuffer !== 'function') return false;
  if (g.crossOriginIsolated === false) return false;
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor);
    return true;
  } catch {
    return false;
  }
}
