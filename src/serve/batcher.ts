/**
 * Micro-batching for the translation server. Requests put sentences in a
 * bounded FIFO queue; after a short window (so concurrent requests can join)
 * the oldest sentences that share decoding options are translated together in
 * one call. Translation is synchronous, so the batcher yields to the event
 * loop (setImmediate) between batches: requests that arrived meanwhile get
 * parsed and queued before the next batch is taken.
 */
import { S2SError } from '../errors.js';

/** Decoding options that must be equal for sentences to share a translate call. */
export interface BatchKey {
  beam: number;
  attention: boolean;
}

/** What the batcher needs from a translator: one synchronous call per batch. */
export type TranslateBatch<R> = (texts: string[], key: BatchKey, batchSize: number) => R[];

export interface BatcherOptions {
  /** Milliseconds to wait after the first queued sentence before translating (0: next event-loop turn). */
  windowMs: number;
  /** Sentences per translate call. */
  maxBatch: number;
  /** Sentences that may wait in the queue; a job that does not fit is refused. */
  maxQueue: number;
  /**
   * Called after every batch with how long it took (ms) and a function to call
   * when the batcher may go on; no batch starts in between. Without it, the
   * next batch of a backlog runs after one event-loop turn (setImmediate).
   */
  afterBatch?: (goOn: () => void, batchMs: number) => void;
}

/** The server's translation queue is full (HTTP 503 with Retry-After). */
export class QueueFullError extends S2SError {
  constructor(readonly queued: number, readonly capacity: number) {
    super(`the translation queue is full (${queued} of ${capacity} sentences waiting); retry shortly`);
    this.name = 'QueueFullError';
  }
}

/** The job's client went away before all its sentences were translated; the rest left the queue. */
export class JobAbortedError extends S2SError {
  constructor() {
    super('the client went away');
    this.name = 'JobAbortedError';
  }
}

/** The server is shutting down and takes no more sentences. */
export class BatcherClosedError extends S2SError {
  constructor() {
    super('the server is shutting down');
    this.name = 'BatcherClosedError';
  }
}

interface Job<R> {
  key: BatchKey;
  results: R[];
  remaining: number;
  failed: boolean;
  resolve: (r: R[]) => void;
  reject: (e: unknown) => void;
}

interface Item<R> {
  job: Job<R>;
  index: number;
  text: string;
}

const sameKey = (a: BatchKey, b: BatchKey): boolean => a.beam === b.beam && a.attention === b.attention;

export interface BatcherStats {
  /** Sentences waiting. */
  queued: number;
  /** Translate calls made so far. */
  batches: number;
  /** Sentences translated so far. */
  sentences: number;
  /** Largest batch so far. */
  largestBatch: number;
  /** Sentences taken out of the queue untranslated because their client went away. */
  dropped: number;
}

export class Batcher<R> {
  private queue: Item<R>[] = [];
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private running = false;
  /** Waiting for afterBatch to let it go on. */
  private yielding = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private readonly stats_: BatcherStats = { queued: 0, batches: 0, sentences: 0, largestBatch: 0, dropped: 0 };

  constructor(private readonly translate: TranslateBatch<R>, readonly options: BatcherOptions) {
    if (!(Number.isFinite(options.windowMs) && options.windowMs >= 0)) throw new RangeError(`windowMs must be ≥ 0, got ${options.windowMs}`);
    if (!(Number.isInteger(options.maxBatch) && options.maxBatch >= 1)) throw new RangeError(`maxBatch must be an integer ≥ 1, got ${options.maxBatch}`);
    if (!(Number.isInteger(options.maxQueue) && options.maxQueue >= 1)) throw new RangeError(`maxQueue must be an integer ≥ 1, got ${options.maxQueue}`);
  }

  get stats(): BatcherStats {
    return { ...this.stats_, queued: this.queue.length };
  }

  /** Sentences waiting to be translated. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * Queues a job's sentences; resolves with their results in order. Throws
   * QueueFullError at once (nothing queued) when they do not all fit. When
   * `signal` aborts (the client went away), the job's sentences still queued
   * leave the queue untranslated and the promise rejects with JobAbortedError.
   */
  submit(texts: readonly string[], key: BatchKey, signal?: AbortSignal): Promise<R[]> {
    if (this.closed) return Promise.reject(new BatcherClosedError());
    if (signal?.aborted) return Promise.reject(new JobAbortedError());
    if (texts.length === 0) return Promise.resolve([]);
    if (this.queue.length + texts.length > this.options.maxQueue) {
      return Promise.reject(new QueueFullError(this.queue.length, this.options.maxQueue));
    }
    return new Promise<R[]>((resolve, reject) => {
      const job: Job<R> = { key, results: new Array(texts.length), remaining: texts.length, failed: false, resolve, reject };
      texts.forEach((text, index) => this.queue.push({ job, index, text }));
      if (signal) {
        const onAbort = (): void => {
          if (job.failed || job.remaining === 0) return;
          job.failed = true;
          const before = this.queue.length;
          this.queue = this.queue.filter((item) => item.job !== job);
          this.stats_.dropped += before - this.queue.length;
          if (this.queue.length === 0 && this.timer) {
            // Nothing left to wait for: a pending window would only keep the process alive.
            clearTimeout(this.timer);
            this.timer = null;
          }
          job.reject(new JobAbortedError());
          this.notifyIdle();
        };
        signal.addEventListener('abort', onAbort, { once: true });
        const settle = (): void => signal.removeEventListener('abort', onAbort);
        job.resolve = (r) => (settle(), resolve(r));
        job.reject = (e) => (settle(), reject(e));
      }
      this.schedule();
    });
  }

  /** Refuses new jobs; the returned promise resolves once every queued sentence is translated. */
  close(): Promise<void> {
    this.closed = true;
    return this.idle();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.queue.length === 0 && !this.running && !this.yielding) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.running || this.immediate || this.yielding) return;
    // A full batch need not wait for the window.
    if (this.options.windowMs === 0 || this.queue.length >= this.options.maxBatch) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      this.immediate = setImmediate(() => {
        this.immediate = null;
        this.runBatch();
      });
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.runBatch();
      }, this.options.windowMs);
    }
  }

  private runBatch(): void {
    if (this.queue.length === 0) {
      this.notifyIdle();
      return;
    }
    // The oldest sentence decides the options; later sentences with the same options join it, in order.
    const key = this.queue[0].job.key;
    const batch: Item<R>[] = [];
    const rest: Item<R>[] = [];
    for (const item of this.queue) {
      if (batch.length < this.options.maxBatch && sameKey(item.job.key, key)) batch.push(item);
      else rest.push(item);
    }
    this.queue = rest;
    this.running = true;
    const t0 = performance.now();
    let results: R[] | null = null;
    let error: unknown = null;
    try {
      results = this.translate(batch.map((b) => b.text), key, this.options.maxBatch);
      if (results.length !== batch.length) throw new Error(`translator returned ${results.length} results for ${batch.length} sentences`);
    } catch (err) {
      error = err;
    }
    this.running = false;
    this.stats_.batches++;
    this.stats_.sentences += batch.length;
    this.stats_.largestBatch = Math.max(this.stats_.largestBatch, batch.length);
    for (let i = 0; i < batch.length; i++) {
      const { job, index } = batch[i];
      if (job.failed) continue;
      if (error !== null) {
        job.failed = true;
        job.reject(error);
        continue;
      }
      job.results[index] = (results as R[])[i];
      if (--job.remaining === 0) job.resolve(job.results);
    }
    if (error !== null) {
      // Sentences of a failed job still queued are dropped.
      this.queue = this.queue.filter((item) => !item.job.failed);
    }
    if (this.options.afterBatch) {
      this.yielding = true;
      this.options.afterBatch(() => {
        this.yielding = false;
        this.runBatch();
      }, performance.now() - t0);
    } else if (this.queue.length > 0) {
      // Yield to the event loop so requests that arrived during this batch are parsed, then go on with the backlog.
      this.immediate = setImmediate(() => {
        this.immediate = null;
        this.runBatch();
      });
    } else {
      this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    if (this.queue.length > 0 || this.running || this.yielding) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
