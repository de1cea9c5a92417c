/**
 * `s2s serve`: a small HTTP JSON API around a model bundle, on node:http.
 *
 *   POST /translate  {"text": "..."} | {"texts": [...]}, optional "beam" (1..16), "attention" (boolean)
 *   GET  /health     {"status": "ok"}
 *   GET  /model      what the bundle is (architecture, data options, vocabularies, parameters, history)
 *   GET  /...        static files from --web DIR (index.html for directories), when given
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
import { isIP } from 'node:net';
import { createReadStream } from 'node:fs';
import { stat, realpath } from 'node:fs/promises';
import { basename, extname, join, resolve, sep } from 'node:path';
import { BUNDLE_VERSION, loadBundle, type LoadedBundle } from '../bundle/bundle.js';
import type { TranslateOptions, Translation } from '../decode/translator.js';
import { codePointLength } from '../data/corpus.js';
import { Batcher, QueueFullError, BatcherClosedError, type BatchKey } from './batcher.js';
import { defaultWebFolder } from '../web/export.js';

export const MAX_BEAM = 16;

export interface ServeOptions {
  /** The loaded model bundle. */
  bundle: LoadedBundle;
  /** Name reported as "model" in responses. Default: the bundle directory's name. */
  modelName?: string;
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Folder served at / (static files); none by default. */
  webDir?: string | null;
  /** Batching window in ms after the first queued sentence. Default 5; 0 translates on the next event-loop turn. */
  batchWindowMs?: number;
  /** Sentences per translate call. Default 32. */
  maxBatch?: number;
  /** Sentences that may wait for translation; beyond that requests get 503. Default 256. */
  maxQueue?: number;
  /** Sentences in one request (413 beyond). Default 64. */
  maxTexts?: number;
  /** Request body limit in bytes (413 beyond). Default 65536. */
  maxBody?: number;
  /** Time to receive the request headers, ms. Default 10000. */
  headersTimeoutMs?: number;
  /** Time to receive the request body once the headers are in, ms. Default 10000. */
  bodyTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this, ms. Default 5000. */
  keepAliveTimeoutMs?: number;
  /** How often Node checks header/request deadlines, ms. Default 1000. */
  timeoutCheckIntervalMs?: number;
  /** On close(), connections still open after this are cut, ms. Default 30000. */
  shutdownTimeoutMs?: number;
  /** Retry-After seconds sent with 503. Default 1. */
  retryAfterSeconds?: number;
  /** Log lines (startup, warnings, server errors). Default: stderr. */
  log?: (line: string) => void;
}

export interface ServeLimits {
  maxSourceLength: number;
  maxTexts: number;
  maxBody: number;
  maxQueue: number;
  maxBatch: number;
  batchWindowMs: number;
  maxBeam: number;
}

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

export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.tsv': 'text/tab-separated-values; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.bin': 'application/octet-stream',
};

/** Loopback hosts do not trigger the exposure warning. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^(0*:)*:?0*1$/.test(h) || /^::ffff:127\./.test(h);
  return false;
}

function hasBody(req: http.IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Typed arrays (e.g. attention weights) become plain arrays in JSON. */
function jsonable(v: unknown): unknown {
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
  if (Array.isArray(v)) return v.map(jsonable);
  return v;
}

interface TranslateRequest {
  texts: string[];
  single: boolean;
  beam: number;
  attention: boolean;
}

const ALLOWED_FIELDS = new Set(['text', 'texts', 'beam', 'attention']);

/** Checks a parsed /translate body; throws HttpError naming the problem. */
export function parseTranslateRequest(body: unknown, limits: Pick<ServeLimits, 'maxSourceLength' | 'maxTexts'>): TranslateRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'the body must be a JSON object such as {"text": "..."} or {"texts": ["...", "..."]}');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!ALLOWED_FIELDS.has(k)) throw new HttpError(400, `unknown field "${k}" (allowed: text, texts, beam, attention)`);
  }
  const hasText = b.text !== undefined, hasTexts = b.texts !== undefined;
  if (hasText && hasTexts) throw new HttpError(400, 'give either "text" or "texts", not both');
  if (!hasText && !hasTexts) throw new HttpError(400, 'missing "text" (a string) or "texts" (an array of strings)');
  let texts: string[];
  if (hasText) {
    if (typeof b.text !== 'string') throw new HttpError(400, '"text" must be a string');
    texts = [b.text];
  } else {
    if (!Array.isArray(b.texts)) throw new HttpError(400, '"texts" must be an array of strings');
    if (b.texts.length === 0) throw new HttpError(400, '"texts" must not be empty');
    if (b.texts.length > limits.maxTexts) throw new HttpError(413, `too many texts: ${b.texts.length} (at most ${limits.maxTexts} per request)`);
    b.texts.forEach((t, i) => {
      if (typeof t !== 'string') throw new HttpError(400, `"texts" must be an array of strings; texts[${i}] is ${t === null ? 'null' : typeof t}`);
    });
    texts = b.texts as string[];
  }
  texts.forEach((t, i) => {
    const where = hasText ? '"text"' : `texts[${i}]`;
    if (t.trim() === '') throw new HttpError(400, `${where} is empty`);
    const n = codePointLength(t.normalize('NFC'));
    if (n > limits.maxSourceLength) {
      throw new HttpError(400, `${where} is ${n} characters long; this model accepts at most ${limits.maxSourceLength} (its maxSourceLength)`);
    }
  });
  let beam = 1;
  if (b.beam !== undefined) {
    if (typeof b.beam !== 'number' || !Number.isInteger(b.beam) || b.beam < 1 || b.beam > MAX_BEAM) {
      throw new HttpError(400, `"beam" must be an integer from 1 to ${MAX_BEAM}, got ${JSON.stringify(b.beam)}`);
    }
    beam = b.beam;
  }
  if (b.attention !== undefined && typeof b.attention !== 'boolean') throw new HttpError(400, `"attention" must be true or false, got ${JSON.stringify(b.attention)}`);
  return { texts, single: hasText, beam, attention: b.attention === true };
}

/** Accepts application/json (and +json types) in UTF-8; a missing Content-Type is read as JSON. */
function checkContentType(header: string | undefined): void {
  if (header === undefined || header.trim() === '') return;
  const [type, ...params] = header.split(';').map((s) => s.trim().toLowerCase());
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
    throw new HttpError(415, `unsupported content type "${type}"; send application/json`);
  }
  for (const p of params) {
    const m = /^charset\s*=\s*"?([^"]*)"?$/.exec(p);
    if (m && m[1] !== 'utf-8' && m[1] !== 'utf8') throw new HttpError(415, `unsupported charset "${m[1]}"; send UTF-8`);
  }
}

export function createServer(options: ServeOptions): S2SServer {
  const bundle = options.bundle;
  const log = options.log ?? ((line: string) => void process.stderr.write(line + '\n'));
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  const modelName = options.modelName ?? basename(resolve(bundle.dir));
  const headersTimeoutMs = options.headersTimeoutMs ?? 10_000;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? 10_000;
  const retryAfter = String(options.retryAfterSeconds ?? 1);
  const limits: ServeLimits = {
    maxSourceLength: bundle.config.data.maxSourceLength,
    maxTexts: options.maxTexts ?? 64,
    maxBody: options.maxBody ?? 64 * 1024,
    maxQueue: options.maxQueue ?? 256,
    maxBatch: options.maxBatch ?? 32,
    batchWindowMs: options.batchWindowMs ?? 5,
    maxBeam: MAX_BEAM,
  };
  // A request larger than the whole queue could never be admitted: it is "too many texts" instead.
  limits.maxTexts = Math.min(limits.maxTexts, limits.maxQueue);
  for (const [k, v] of Object.entries({ maxTexts: limits.maxTexts, maxBody: limits.maxBody, headersTimeoutMs, bodyTimeoutMs })) {
    if (!(Number.isInteger(v) && v >= 1)) throw new RangeError(`${k} must be an integer ≥ 1, got ${v}`);
  }
  const webRoot = options.webDir ? resolve(options.webDir) : null;
  const modelHasAttention = bundle.config.model.attention !== 'none';

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
      const opts: TranslateOptions & { attention?: boolean } = { batchSize, beam: key.beam };
      if (key.attention) opts.attention = true;
      return bundle.translator.translate(texts, opts);
    },
    { windowMs: limits.batchWindowMs, maxBatch: limits.maxBatch, maxQueue: limits.maxQueue, afterBatch },
  );

  const modelInfo = (): unknown => {
    const { corpus, ...data } = bundle.config.data;
    const h = bundle.history;
    return {
      name: modelName,
      format: bundle.config.format,
      version: bundle.config.version,
      readerVersion: BUNDLE_VERSION,
      createdBy: bundle.config.createdBy,
      model: bundle.config.model,
      tokenizers: bundle.config.tokenizers,
      data: { ...data, corpus: corpus === '<built-in>' ? corpus : basename(String(corpus)) },
      vocab: { source: bundle.vocabs.source.size, target: bundle.vocabs.target.size },
      parameters: bundle.model.parameterCount(),
      history: { epochs: h.length, last: h.length ? h[h.length - 1] : null },
      limits,
    };
  };

  const server = http.createServer({
    headersTimeout: headersTimeoutMs,
    requestTimeout: headersTimeoutMs + bodyTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 5000,
    connectionsCheckingInterval: options.timeoutCheckIntervalMs ?? 1000,
    maxHeaderSize: 16 * 1024,
  });
  server.maxHeadersCount = 64;
  server.on('connection', () => void connections++);

  let closing = false;
  let inflight = 0;
  /** Requests whose body was read to the end (others are not drained: their connection closes). */
  const bodyRead = new WeakSet<http.IncomingMessage>();
  let inflightZero: (() => void) | null = null;

  const send = (req: http.IncomingMessage, res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body);
    res.statusCode = status;
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // A body we did not read is not drained: the connection is closed after the answer.
    if (closing || (hasBody(req) && !bodyRead.has(req))) res.setHeader('Connection', 'close');
    res.end(text);
  };
  const sendError = (req: http.IncomingMessage, res: http.ServerResponse, err: HttpError): void => send(req, res, err.status, { error: err.message }, err.headers);

  /** Reads at most maxBody bytes within bodyTimeoutMs; over the limit, reading stops and 413 is thrown. */
  const readBody = (req: http.IncomingMessage): Promise<Buffer> => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limits.maxBody) {
      return Promise.reject(new HttpError(413, `request body too large: ${declared} bytes (limit ${limits.maxBody})`));
    }
    return new Promise<Buffer>((resolvePromise, rejectPromise) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const finish = (err: HttpError | null, body?: Buffer): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        req.off('data', onData);
        req.off('end', onEnd);
        req.off('error', onAbort);
        req.off('close', onAbort);
        if (err) {
          // Stop reading: nothing more is taken from the socket, and the connection closes after the answer.
          req.pause();
          chunks.length = 0;
          rejectPromise(err);
        } else {
          bodyRead.add(req);
          resolvePromise(body as Buffer);
        }
      };
      const onData = (chunk: Buffer): void => {
        size += chunk.length;
        if (size > limits.maxBody) finish(new HttpError(413, `request body too large (limit ${limits.maxBody} bytes)`));
        else chunks.push(chunk);
      };
      const onEnd = (): void => finish(null, Buffer.concat(chunks, size));
      const onAbort = (): void => finish(new HttpError(499, 'client closed the connection'));
      const timer = setTimeout(() => finish(new HttpError(408, `request body not received within ${bodyTimeoutMs} ms`)), bodyTimeoutMs);
      req.on('data', onData);
      req.on('end', onEnd);
      req.on('error', onAbort);
      req.on('close', onAbort);
    });
  };

  const decoder = new TextDecoder('utf-8', { fatal: true });

  const handleTranslate = async (req: http.IncomingMessage, res: http.ServerResponse, t0: number): Promise<void> => {
    checkContentType(req.headers['content-type']);
    const raw = await readBody(req);
    let text: string;
    try {
      text = decoder.decode(raw);
    } catch {
      throw new HttpError(400, 'the body is not valid UTF-8');
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new HttpError(400, `invalid JSON: ${(err as Error).message}`);
    }
    const request = parseTranslateRequest(body, limits);
    const key: BatchKey = { beam: request.beam, attention: request.attention && modelHasAttention };
    let results: Translation[];
    try {
      results = await batcher.submit(request.texts, key);
    } catch (err) {
      if (err instanceof QueueFullError) throw new HttpError(503, err.message, { 'Retry-After': retryAfter });
      if (err instanceof BatcherClosedError) throw new HttpError(503, err.message, { 'Retry-After': retryAfter });
      throw err;
    }
    const translations = results.map((t) => {
      const out: Record<string, unknown> = { text: t.text, unknown: t.unknown, finished: t.finished };
      if (key.attention && 'attention' in t) out.attention = jsonable((t as unknown as { attention: unknown }).attention);
      return out;
    });
    const response: Record<string, unknown> = { translations };
    if (request.single) response.translation = results[0].text;
    response.model = modelName;
    response.ms = round2(performance.now() - t0);
    send(req, res, 200, response);
  };

  const serveStatic = async (req: http.IncomingMessage, res: http.ServerResponse, rawPath: string): Promise<void> => {
    if (!webRoot) throw new HttpError(404, `no such route: ${rawPath}`);
    if (rawPath.includes('\0') || /%00/i.test(rawPath)) throw new HttpError(400, 'bad path');
    let decoded: string;
    try {
      decoded = decodeURIComponent(rawPath);
    } catch {
      throw new HttpError(400, 'bad path encoding');
    }
    if (decoded.includes('\0') || decoded.includes('\\')) throw new HttpError(400, 'bad path');
    const segments = decoded.split('/').filter((s) => s !== '' && s !== '.');
    if (segments.includes('..')) throw new HttpError(400, 'bad path');
    // Hidden files (.git, .env …) are not served.
    if (segments.some((s) => s.startsWith('.'))) throw new HttpError(404, 'not found');
    let full = resolve(webRoot, ...segments);
    if (full !== webRoot && !full.startsWith(webRoot + sep)) throw new HttpError(400, 'bad path');
    let info;
    try {
      info = await stat(full);
      if (info.isDirectory()) {
        full = join(full, 'index.html');
        info = await stat(full);
      }
    } catch {
      throw new HttpError(404, 'not found');
    }
    if (!info.isFile()) throw new HttpError(404, 'not found');
    // Symbolic links must not lead outside the folder either.
    const [realRoot, realFull] = await Promise.all([realpath(webRoot), realpath(full)]);
    if (!realFull.startsWith(realRoot + sep)) throw new HttpError(404, 'not found');
    res.statusCode = 200;
    res.setHeader('Content-Type', CONTENT_TYPES[extname(realFull).toLowerCase()] ?? 'application/octet-stream');
    res.setHeader('Content-Length', info.size);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (closing) res.setHeader('Connection', 'close');
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    await new Promise<void>((done) => {
      const stream = createReadStream(realFull);
      stream.on('error', (err) => {
        log(`s2s serve: reading ${realFull}: ${err.message}`);
        res.destroy();
        done();
      });
      res.on('close', () => {
        stream.destroy();
        done();
      });
      stream.pipe(res);
    });
  };

  const route = async (req: http.IncomingMessage, res: http.ServerResponse, t0: number): Promise<void> => {
    const url = req.url ?? '';
    if (!url.startsWith('/')) throw new HttpError(400, 'bad request target');
    const q = url.search(/[?#]/);
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? '';
    const allow = (methods: string[]): void => {
      if (!methods.includes(method)) throw new HttpError(405, `method ${method} not allowed on ${path}`, { Allow: methods.join(', ') });
    };
    if (closing) throw new HttpError(503, 'the server is shutting down', { 'Retry-After': retryAfter });
    switch (path) {
      case '/translate':
        allow(['POST']);
        return handleTranslate(req, res, t0);
      case '/health':
        allow(['GET', 'HEAD']);
        return send(req, res, 200, { status: 'ok' });
      case '/model':
        allow(['GET', 'HEAD']);
        return send(req, res, 200, modelInfo());
      default:
        if (webRoot) allow(['GET', 'HEAD']);
        return serveStatic(req, res, path);
    }
  };

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const t0 = performance.now();
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
        sendError(req, res, err);
        return;
      }
      log(`s2s serve: ${req.method} ${req.url}: ${(err as Error)?.stack ?? err}`);
      if (res.headersSent) res.destroy();
      else sendError(req, res, new HttpError(500, `internal error: ${(err as Error)?.message ?? err}`));
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
        const forced = setTimeout(() => server.closeAllConnections(), options.shutdownTimeoutMs ?? 30_000);
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

/**
 * The `s2s serve` command: load the bundle, listen, and shut down gracefully
 * on SIGTERM/SIGINT (a second signal exits at once).
 */
export async function runServer(options: Omit<ServeOptions, 'bundle'> & { model: string }): Promise<void> {
  const log = options.log ?? ((line: string) => void process.stderr.write(line + '\n'));
  const { model, ...rest } = options;
  const bundle = loadBundle(model);
  // Without --web, / is the translation page for this model (s2s export-web into a cache folder).
  const webDir = rest.webDir ?? defaultWebFolder(model, log);
  const s = createServer({ ...rest, bundle, log, webDir });
  await s.listen();
  const l = s.limits;
  log(
    `s2s serve: model ${model} (${bundle.config.model.cell} ${bundle.config.model.layers}×${bundle.config.model.latentDim}, ` +
      `${bundle.model.parameterCount().toLocaleString('en')} parameters) on ${s.url()}` +
      ` | batch window ${l.batchWindowMs} ms, max batch ${l.maxBatch}, max queue ${l.maxQueue}` +
      (webDir ? ` | web ${resolve(webDir)}` : ''),
  );
  let stopping = false;
  const onSignal = (sig: string): void => {
    if (stopping) {
      log(`s2s serve: ${sig} again, exiting now`);
      process.exit(130);
    }
    stopping = true;
    log(`s2s serve: ${sig}: finishing requests in progress, then exiting`);
    s.close().then(
      () => {
        log('s2s serve: stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log(`s2s serve: ${(err as Error)?.message ?? err}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
