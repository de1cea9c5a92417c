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
  /** Output tokens per sentence, whatever the bundle's maxTargetLength says (a hostile bundle may declare 1e6). */
  maxOutputTokens: 256,
  /**
   * Largest /translate reply, bytes. A request whose worst case (attention: source tokens × (output tokens + 1)
   * weights of at most 7 bytes each, per text) exceeds it is refused with 413 before it is translated.
   */
  maxResponseBytes: 4 * 1024 * 1024,
  /** Bytes of /translate replies being written at once, all clients together; beyond it 503 + Retry-After. */
  maxPendingResponseBytes: 64 * 1024 * 1024,
  /** A reply that makes no progress for this long (a client that does not read) is dropped with its connection, ms. */
  writeTimeoutMs: 10_000,
  /** Open connections; Node closes those beyond it at once. */
  maxConnections: 512,
  /** Host names accepted besides loopback names, IP literals and --host (DNS rebinding defence). */
  allowHosts: [] as readonly string[],
  /** Origins (scheme://host[:port]) of pages elsewhere allowed to call the API (CORS). */
  allowOrigins: [] as readonly string[],
} as const;

/**
 * Headers on every reply (API and static files). The page needs only its own files: script, style,
 * fetches and the model; images may be data: URLs (the favicon). Frames are refused (clickjacking).
 * 'wasm-unsafe-eval' lets the page compile its WebAssembly kernels (and nothing else: no eval);
 * worker-src blob: lets it start their worker threads (the worker script is made in the page).
 * Cross-Origin-Opener-Policy / -Embedder-Policy make the page cross-origin isolated, so it may use
 * SharedArrayBuffer: the wasm kernels' shared memory (web/export.ts ISOLATION_HEADERS).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};
