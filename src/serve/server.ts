/**
 * `s2s serve`: a small HTTP JSON API around a model bundle, on node:http.
 * This file owns the server itself: its options and limits, the batcher
 * shared by all requests, connection bookkeeping, errors that escape a
 * route, listening and graceful close. The routes are routes.ts, HTTP
 * helpers http.ts, static files static.ts, the /translate body
 * translate-request.ts, and the `s2s serve` process (signals) run.ts.
 *
 * Concurrent requests share translate calls through the Batcher; its queue is
 * bounded and a full queue answers 503 with Retry-After. Bodies are read with
 * a size cap and a deadline before they reach the queue, so a slow or huge
 * upload never holds the translation worker. close() stops accepting
 * connections, answers every request already received (queued translations
 * included) and then closes the remaining connections.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { basename, resolve } from 'node:path';
import type { LoadedBundle } from '../bundle/bundle.js';
import type { TranslateOptions, Translation } from '../decode/translator.js';
import { Batcher, type BatchKey } from './batcher.js';
import { HttpError, isLoopbackHost, sendError, setWriteTimeout } from './http.js';
import { createRoutes } from './routes.js';
import { MAX_BEAM } from './translate-request.js';
import { SERVE_DEFAULTS } from './options.js';

// Moved to their own modules; re-exported for existing imports.
export { HttpError, isLoopbackHost } from './http.js';
export { MAX_BEAM, parseTranslateRequest } from './translate-request.js';

/** Options of `createServer` and `runServer` (those of `s2s serve`). */
export interface ServeOptions {
  /** The loaded model bundle. */
  bundle: LoadedBundle;
  /** Name reported as "model" in responses. Default: the bundle directory's name. */
  modelName?: string;
  /** Default `SERVE_DEFAULTS.host` (loopback only). */
  host?: string;
  /** Default `SERVE_DEFAULTS.port`; 0 picks a free port. */
  port?: number;
  /** Folder served at / (static files); none by default. */
  webDir?: string | null;
  /** Batching window in ms after the first queued sentence. Default `SERVE_DEFAULTS.batchWindowMs`; 0 translates on the next event-loop turn. */
  batchWindowMs?: number;
  /** Sentences per translate call. Default `SERVE_DEFAULTS.maxBatch`. */
  maxBatch?: number;
  /** Sentences that may wait for translation; beyond that requests get 503. Default `SERVE_DEFAULTS.maxQueue`. */
  maxQueue?: number;
  /** Sentences in one request (413 beyond). Default `SERVE_DEFAULTS.maxTexts`. */
  maxTexts?: number;
  /** Request body limit in bytes (413 beyond). Default `SERVE_DEFAULTS.maxBody`. */
  maxBody?: number;
  /** Time to receive the request headers, ms. Default `SERVE_DEFAULTS.headersTimeoutMs`. */
  headersTimeoutMs?: number;
  /** Time to receive the request body once the headers are in, ms. Default `SERVE_DEFAULTS.bodyTimeoutMs`. */
  bodyTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this, ms. Default `SERVE_DEFAULTS.keepAliveTimeoutMs`. */
  keepAliveTimeoutMs?: number;
  /** How often Node checks header/request deadlines, ms. Default `SERVE_DEFAULTS.timeoutCheckIntervalMs`. */
  timeoutCheckIntervalMs?: number;
  /** On close(), connections still open after this are cut, ms. Default `SERVE_DEFAULTS.shutdownTimeoutMs`. */
  shutdownTimeoutMs?: number;
  /** Retry-After seconds sent with 503. Default `SERVE_DEFAULTS.retryAfterSeconds`. */
  retryAfterSeconds?: number;
  /** Output tokens per sentence at most, whatever the bundle's maxTargetLength. Default `SERVE_DEFAULTS.maxOutputTokens`. */
  maxOutputTokens?: number;
  /** Largest /translate reply in bytes; requests that could exceed it get 413 before translation. Default `SERVE_DEFAULTS.maxResponseBytes`. */
  maxResponseBytes?: number;
  /** Bytes of replies being written at once, all clients together (503 beyond). Default `SERVE_DEFAULTS.maxPendingResponseBytes`. */
  maxPendingResponseBytes?: number;
  /** A reply that makes no progress this long (its client does not read) is dropped, ms. Default `SERVE_DEFAULTS.writeTimeoutMs`. */
  writeTimeoutMs?: number;
  /** Open connections at most. Default `SERVE_DEFAULTS.maxConnections`. */
  maxConnections?: number;
  /** Host names accepted in the Host header besides loopback names, IP literals and `host`. Default none. */
  allowHosts?: readonly string[];
  /** Origins of pages elsewhere allowed to call the API (CORS), as scheme://host[:port]. Default none. */
  allowOrigins?: readonly string[];
  /** Log lines (startup, warnings, server errors). Default: stderr. */
  log?: (line: string) => void;
}

/** The request limits a server enforces, as resolved from its options. */
export interface ServeLimits {
  maxSourceLength: number;
  maxTexts: number;
  maxBody: number;
  maxQueue: number;
  maxBatch: number;
  batchWindowMs: number;
  maxBeam: number;
  /** Output tokens per sentence: the bundle's maxTargetLength, capped by the server's maxOutputTokens. */
  maxOutputTokens: number;
  maxResponseBytes: number;
  maxConnections: number;
}

/** A translation server created by `createServer`: listen, close, queue statistics. */
export interface S2SServer {
  server: http.Server;
  limits: ServeLimits;
  /** Queue statistics. */
  batcher: Batcher<Translation>;
  /** Starts listening; resolves with the bound address. */
  listen(): Promise<AddressInfo>;
  /** Graceful: stop accepting, answer what was received, close connections. */
  close(): Promise<void>;
  /** Base URL once listening. */
  url(): string;
}

/** An HTTP translation server for a loaded bundle (POST /translate, GET /health, GET /ready, GET /model, the web folder at /); `listen()` starts it. */
export function createServer(options: ServeOptions): S2SServer {
  const bundle = options.bundle;
  const log = options.log ?? ((line: string) => void process.stderr.write(line + '\n'));
  const host = options.host ?? SERVE_DEFAULTS.host;
  const port = options.port ?? SERVE_DEFAULTS.port;
  const modelName = options.modelName ?? basename(resolve(bundle.dir));
  const headersTimeoutMs = options.headersTimeoutMs ?? SERVE_DEFAULTS.headersTimeoutMs;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? SERVE_DEFAULTS.bodyTimeoutMs;
  const retryAfter = String(options.retryAfterSeconds ?? SERVE_DEFAULTS.retryAfterSeconds);
  const limits: ServeLimits = {
    maxSourceLength: bundle.config.data.maxSourceLength,
    maxTexts: options.maxTexts ?? SERVE_DEFAULTS.maxTexts,
    maxBody: options.maxBody ?? SERVE_DEFAULTS.maxBody,
    maxQueue: options.maxQueue ?? SERVE_DEFAULTS.maxQueue,
    maxBatch: options.maxBatch ?? SERVE_DEFAULTS.maxBatch,
    batchWindowMs: options.batchWindowMs ?? SERVE_DEFAULTS.batchWindowMs,
    maxBeam: MAX_BEAM,
    maxOutputTokens: Math.min(bundle.config.data.maxTargetLength, options.maxOutputTokens ?? SERVE_DEFAULTS.maxOutputTokens),
    maxResponseBytes: options.maxResponseBytes ?? SERVE_DEFAULTS.maxResponseBytes,
    maxConnections: options.maxConnections ?? SERVE_DEFAULTS.maxConnections,
  };
  const writeTimeoutMs = options.writeTimeoutMs ?? SERVE_DEFAULTS.writeTimeoutMs;
  const maxPendingResponseBytes = options.maxPendingResponseBytes ?? SERVE_DEFAULTS.maxPendingResponseBytes;
  // A request larger than the whole queue could never be admitted: it is "too many texts" instead.
  limits.maxTexts = Math.min(limits.maxTexts, limits.maxQueue);
  for (const [k, v] of Object.entries({
    maxTexts: limits.maxTexts, maxBody: limits.maxBody, headersTimeoutMs, bodyTimeoutMs, maxOutputTokens: limits.maxOutputTokens,
    maxResponseBytes: limits.maxResponseBytes, maxConnections: limits.maxConnections, writeTimeoutMs, maxPendingResponseBytes,
  })) {
    if (!(Number.isInteger(v) && v >= 1)) throw new RangeError(`${k} must be an integer ≥ 1, got ${v}`);
  }
  const webRoot = options.webDir ? resolve(options.webDir) : null;

  // libuv (Node ≥ 20) accepts one connection per event-loop turn, and a translate call holds the loop. With one turn
  // after a batch, new connections waited in the kernel's listen backlog, where the queue limit does not see them:
  // under load they got 200s after seconds instead of a quick 503. So after each batch the loop is turned until a
  // turn accepts no connection, for at most as long as the batch took (translation keeps at least half the time).
  let connections = 0;
  const afterBatch = (goOn: () => void, batchMs: number): void => {
    const deadline = performance.now() + Math.max(1, batchMs);
    let seen = -1;
    const turn = (): void => {
      if (connections === seen || performance.now() >= deadline) return goOn();
      seen = connections;
      setImmediate(turn);
    };
    setImmediate(turn);
  };
  const batcher = new Batcher<Translation>(
    (texts: string[], key: BatchKey, batchSize: number) => {
      const opts: TranslateOptions & { attention?: boolean } = { batchSize, beam: key.beam, maxLength: limits.maxOutputTokens };
      if (key.attention) opts.attention = true;
      return bundle.translator.translate(texts, opts);
    },
    { windowMs: limits.batchWindowMs, maxBatch: limits.maxBatch, maxQueue: limits.maxQueue, afterBatch },
  );

  const server = http.createServer({
    headersTimeout: headersTimeoutMs,
    requestTimeout: headersTimeoutMs + bodyTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? SERVE_DEFAULTS.keepAliveTimeoutMs,
    connectionsCheckingInterval: options.timeoutCheckIntervalMs ?? SERVE_DEFAULTS.timeoutCheckIntervalMs,
    maxHeaderSize: 16 * 1024,
  });
  server.maxHeadersCount = 64;
  server.maxConnections = limits.maxConnections;
  server.on('connection', () => void connections++);

  let closing = false;
  let inflight = 0;
  let inflightZero: (() => void) | null = null;
  const route = createRoutes({
    bundle, modelName, batcher, limits, bodyTimeoutMs, retryAfter, webRoot, log, maxPendingResponseBytes,
    originPolicy: { host, port: () => address?.port ?? port, allowHosts: options.allowHosts ?? SERVE_DEFAULTS.allowHosts, allowOrigins: options.allowOrigins ?? SERVE_DEFAULTS.allowOrigins },
    closing: () => closing,
  });

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const t0 = performance.now();
    setWriteTimeout(res, writeTimeoutMs);
    inflight++;
    res.on('close', () => {
      inflight--;
      if (inflight === 0 && inflightZero) inflightZero();
    });
    route(req, res, t0).catch((err: unknown) => {
      if (err instanceof HttpError) {
        if (err.status === 499) {
          res.destroy();
          return;
        }
        sendError(req, res, err, closing);
        return;
      }
      log(`s2s serve: ${req.method} ${req.url}: ${(err as Error)?.stack ?? err}`);
      if (res.headersSent) res.destroy();
      else sendError(req, res, new HttpError(500, `internal error: ${(err as Error)?.message ?? err}`), closing);
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // Node's defaults, but never write to a socket that is gone.
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const reason = http.STATUS_CODES[status];
    const body = JSON.stringify({ error: reason });
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`, () => socket.destroy());
  });

  // Errors after listening (e.g. out of file descriptors on accept) are logged, never fatal.
  server.on('error', (err: Error) => {
    if (address) log(`s2s serve: server error: ${err.message}`);
  });

  let address: AddressInfo | null = null;
  let closePromise: Promise<void> | null = null;

  return {
    server,
    limits,
    batcher,
    listen(): Promise<AddressInfo> {
      return new Promise((resolveListen, rejectListen) => {
        const onError = (err: Error): void => rejectListen(err);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          address = server.address() as AddressInfo;
          if (!isLoopbackHost(host)) {
            log(`s2s serve: WARNING: listening on ${host}, which is reachable from other machines; the API has no authentication`);
          }
          resolveListen(address);
        });
      });
    },
    url(): string {
      if (!address) throw new Error('not listening');
      const h = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${h}:${address.port}`;
    },
    close(): Promise<void> {
      if (closePromise) return closePromise;
      closing = true;
      closePromise = new Promise<void>((resolveClose) => {
        const forced = setTimeout(() => server.closeAllConnections(), options.shutdownTimeoutMs ?? SERVE_DEFAULTS.shutdownTimeoutMs);
        forced.unref();
        server.close(() => {
          clearTimeout(forced);
          resolveClose();
        });
        // Keep-alive connections with no request in progress go now; the rest once answered.
        server.closeIdleConnections();
        const whenIdle = (): void => {
          inflightZero = null;
          // Every received request is answered; connections left are idle or mid-headers.
          server.closeAllConnections();
        };
        if (inflight === 0) whenIdle();
        else inflightZero = whenIdle;
      });
      return closePromise;
    },
  };
}
