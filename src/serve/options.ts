/**
 * Server defaults and limits, declared once: `createServer`, `s2s serve`'s
 * flags and its help read them from here.
 */

export const SERVE_DEFAULTS = {
  /** Loopback only: the API has no authentication. */
  host: '127.0.0.1',
  port: 8080,
  /** Wait this long (ms) after the first queued sentence for others to batch with it. */
  batchWindowMs: 5,
  /** Sentences per translate call. */
  maxBatch: 32,
  /** Sentences that may wait; beyond that requests get 503 + Retry-After. */
  maxQueue: 256,
  /** Sentences in one request (413 beyond). */
  maxTexts: 64,
  /** Request body limit in bytes (413 beyond). */
  maxBody: 64 * 1024,
  /** Time to receive the request headers, and again the body, ms. */
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 10_000,
  /** Idle keep-alive connections are closed after this, ms. */
  keepAliveTimeoutMs: 5_000,
  /** How often Node checks header/request deadlines, ms. */
  timeoutCheckIntervalMs: 1_000,
  /** On close(), connections still open after this are cut, ms. */
  shutdownTimeoutMs: 30_000,
  /** Retry-After seconds sent with 503. */
  retryAfterSeconds: 1,
  /** Largest beam a request may ask for. */
  maxBeam: 16,
} as const;
