/**
 * Data-parallel training on one machine (`--data-parallel N`), as Marian's
 * --cpu-threads does: each batch is split into N parts with about equal
 * target tokens; the trainer's own thread computes the first part and N − 1
 * worker threads the others, each on a replica of the model whose parameters
 * are views of one shared buffer. The kernels run single-threaded, so every
 * core has a whole forward/backward pass of its own — better use of two
 * cores than splitting each GEMM in two, whose small shapes leave the second
 * thread idle part of the time. The gradients are added, weighted by tokens,
 * before the one optimizer update, so the result is the full batch's
 * gradient up to float summation order (dropout masks differ from a
 * one-thread run: each part draws its own).
 */
import { Worker } from 'node:worker_threads';
import { kernels, setNativeThreads, clearTape, type Rng, type Tensor } from '../engine/index.js';
import type { Batch } from '../data/batching.js';
import type { ModelConfig } from '../model/config.js';
import type { TranslationModel, RunOptions } from '../model/model.js';
import { S2SError, ConfigError } from '../errors.js';

/** What a replica worker starts from (its workerData). */
export interface ReplicaInit {
  kernels: 'js' | 'native' | 'wasm';
  model: ModelConfig;
  /** The trainer's parameters, copied in before every step (float32, in parameters() order). */
  parameters: SharedArrayBuffer;
  /** This replica's gradients, same layout. */
  gradients: SharedArrayBuffer;
  /** Element offset and size of each parameter in both buffers. */
  layout: { offset: number; size: number }[];
}

/** One sub-batch's forward and backward pass. */
export interface ReplicaRequest {
  batch: Batch;
  /** Seeds this part's dropout (drawn from the trainer's dropout RNG, so runs and resumes repeat). */
  dropoutSeed: number;
  /** The seed gradient of the part's mean loss: its share of the group's target tokens. */
  weight: number;
  labelSmoothing: number;
}

export type ReplicaReply = { loss: number } | { error: string };

interface Replica {
  worker: Worker;
  gradients: Float32Array;
  pending: { resolve(loss: number): void; reject(err: Error): void } | null;
  failure: Error | null;
}

export class ReplicaPool {
  private readonly params: Tensor[];
  private readonly shared: Float32Array;
  private readonly layout: { offset: number; size: number }[];
  private readonly replicas: Replica[] = [];
  private readonly previousThreads: number | null;
  private closed = false;

  /** `workers` replicas besides the trainer's model (data-parallel N = N − 1 workers). */
  constructor(model: TranslationModel, workers: number) {
    const k = kernels();
    if (k.name !== 'native' && k.name !== 'js' && k.name !== 'wasm') {
      throw new ConfigError(`--data-parallel needs the native, wasm or js kernels, not "${k.name}"`);
    }
    this.params = model.parameters();
    let total = 0;
    this.layout = this.params.map((p) => {
      if (p.int8) throw new ConfigError(`--data-parallel trains float32 models; parameter ${p.name} is int8`);
      const entry = { offset: total, size: p.size };
      total += p.size;
      return entry;
    });
    this.shared = new Float32Array(new SharedArrayBuffer(4 * total));
    // One thread per replica: the kernels of every thread in the process run single-threaded meanwhile.
    this.previousThreads = setNativeThreads(1);
    for (let r = 0; r < workers; r++) {
      const gradients = new Float32Array(new SharedArrayBuffer(4 * total));
      const init: ReplicaInit = { kernels: k.name, model: model.config, parameters: this.shared.buffer as SharedArrayBuffer, gradients: gradients.buffer as SharedArrayBuffer, layout: this.layout };
      const worker = new Worker(new URL('./replica-worker.js', import.meta.url), { workerData: init });
      const replica: Replica = { worker, gradients, pending: null, failure: null };
      worker.on('message', (m: ReplicaReply) => {
        const p = replica.pending;
        replica.pending = null;
        if (!p) return;
        if ('error' in m) p.reject(new S2SError(`data-parallel replica ${r + 1}: ${m.error}`));
        else p.resolve(m.loss);
      });
      const fail = (err: Error): void => {
        replica.failure = err;
        replica.pending?.reject(new S2SError(`data-parallel replica ${r + 1} stopped: ${err.message}`));
        replica.pending = null;
      };
      worker.on('error', fail);
      worker.on('exit', (code) => { if (!this.closed) fail(new Error(`exit code ${code}`)); });
      this.replicas.push(replica);
    }
  }

  /** Worker replicas (the trainer's own model computes one more part). */
  get workers(): number {
    return this.replicas.length;
  }

  /** Copies the trainer's current parameters to where the replicas read them (after each update). */
  syncParameters(): void {
    const K = kernels();
    this.params.forEach((p, i) => {
      const { offset, size } = this.layout[i];
      K.copyBlock(1, size, p.data, size, this.shared.subarray(offset, offset + size), size, false);
    });
  }

  /** Starts replica `r`'s pass over a part; resolves to the part's mean loss. */
  private run(r: number, request: ReplicaRequest): Promise<number> {
    const replica = this.replicas[r];
    if (replica.failure) return Promise.reject(new S2SError(`data-parallel replica ${r + 1} stopped: ${replica.failure.message}`));
    if (replica.pending) return Promise.reject(new S2SError(`data-parallel replica ${r + 1} is still busy`));
    return new Promise((resolve, reject) => {
      replica.pending = { resolve, reject };
      replica.worker.postMessage(request);
    });
  }

  /**
   * One batch's parts: the first through `model` on this thread, the others
   * on the replicas at the same time, each part's loss seeded with its share
   * of `groupTokens`; the replicas' gradients are then added to the model's.
   * Returns the parts' token-weighted mean loss, or NaN when any is not
   * finite (and then nothing is added). Parameters must be synced first.
   */
  async pass(model: TranslationModel, parts: Batch[], groupTokens: number, runOptions: RunOptions, dropoutRng: Rng): Promise<number> {
    if (parts.length - 1 > this.replicas.length) throw new S2SError(`${parts.length} parts for ${this.replicas.length} replicas and this thread`);
    // Seeds first, then this thread's dropout: the RNG is used the same way on every run and resume.
    const seeds = parts.slice(1).map(() => dropoutRng.nextUint32());
    const pending = parts.slice(1).map((part, r) =>
      this.run(r, { batch: part, dropoutSeed: seeds[r], weight: part.tokens / groupTokens, labelSmoothing: runOptions.labelSmoothing ?? 0 }));
    let own = NaN;
    try {
      const r = model.forward(parts[0], { ...runOptions, rng: dropoutRng });
      own = r.loss.item();
      if (Number.isFinite(own)) r.loss.backward(Float32Array.of(parts[0].tokens / groupTokens));
      else clearTape();
    } finally {
      // Even when this thread failed, wait for the replicas, so none is left busy.
      await Promise.allSettled(pending);
    }
    const losses = [own, ...(await Promise.all(pending))];
    if (!losses.every(Number.isFinite)) return NaN;
    for (let w = 0; w < parts.length - 1; w++) this.addGradients(w);
    const tokens = parts.reduce((n, p) => n + p.tokens, 0);
    return losses.reduce((sum, l, i) => sum + l * parts[i].tokens, 0) / tokens;
  }

  /** Adds replica `r`'s gradients (of its last pass) to the trainer's. */
  private addGradients(r: number): void {
    const K = kernels();
    const g = this.replicas[r].gradients;
    this.params.forEach((p, i) => {
      const { offset, size } = this.layout[i];
      K.copyBlock(1, size, g.subarray(offset, offset + size), size, p.gradBuffer(), size, true);
    });
  }

  /** Runs `fn` (work of this thread alone, such as validation) with the kernels' threads as before the pool. */
  withAllThreads<T>(fn: () => T): T {
    if (this.previousThreads === null || this.previousThreads === 1) return fn();
    setNativeThreads(this.previousThreads);
    try {
      return fn();
    } finally {
      setNativeThreads(1);
    }
  }

  /** Stops the workers and gives the kernels their threads back. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.replicas.map((r) => r.worker.terminate()));
    if (this.previousThreads !== null) setNativeThreads(this.previousThreads);
  }
}
