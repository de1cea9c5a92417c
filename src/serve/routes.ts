/**
 * The routes of `s2s serve`:
 *
 *   POST /translate  {"text": "..."} | {"texts": [...]}, optional "beam", "attention" (boolean)
 *   GET  /health     {"status": "ok"}: the process is up and answering (a liveness probe)
 *   GET  /ready      200 {"status": "ready", queued, maxQueue, maxBatch} while the queue can take a sentence,
 *                    503 + Retry-After {"status": "busy", ...} while it is full (a readiness probe / balancer check)
 *   GET  /model      what the bundle is (architecture, data options, vocabularies, parameters, history, limits)
 *   GET  /...        static files from the web folder, when there is one
 *
 * Translations go through the shared Batcher; a full or closed queue is 503
 * with Retry-After, and so is every route (/health and /ready included) once
 * the server is closing. Listening, connections and shutdown are server.ts's.
 */
import type http from 'node:http';
import { basename } from 'node:path';
import { BUNDLE_VERSION, weightsDtype, type LoadedBundle } from '../bundle/bundle.js';
import type { Translation } from '../decode/translator.js';
import { codePointLength } from '../data/corpus.js';
import { QueueFullError, BatcherClosedError, JobAbortedError, type Batcher, type BatchKey } from './batcher.js';
import { HttpError, checkContentType, roundedWeights, readBody, sendJson, setSecurityHeaders } from './http.js';
import { PREFLIGHT_HEADERS, createOriginCheck, type OriginPolicy } from './origin.js';
import { serveStatic } from './static.js';
import { parseTranslateRequest } from './translate-request.js';

export interface RouteContext {
  bundle: LoadedBundle;
  /** Name reported as "model" in responses. */
  modelName: string;
  batcher: Batcher<Translation>;
  /** The server's limits (all of them are reported by GET /model). */
  limits: { maxSourceLength: number; maxTexts: number; maxBody: number; maxOutputTokens: number; maxResponseBytes: number };
  /** Bytes of /translate replies being written at once, all clients together (503 beyond). */
  maxPendingResponseBytes: number;
  /** Host, Origin and Sec-Fetch-Site checks (origin.ts). */
  originPolicy: OriginPolicy;
  bodyTimeoutMs: number;
  /** Retry-After seconds sent with 503. */
  retryAfter: string;
  /** Absolute path of the folder served at /, or null. */
  webRoot: string | null;
  /** True once the server is closing. */
  closing(): boolean;
  log: (line: string) => void;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Bytes one attention weight takes at most in a reply: "0.1234," (weights are rounded to 4 decimals, in [0, 1]). */
const WEIGHT_BYTES = 7;
/** Bytes a reply takes per translation besides attention weights, per output token and per source token (token strings, quoted and escaped, generously). */
const BYTES_PER_TOKEN = 64;

/**
 * The largest reply a /translate request can produce, in bytes, from what is known before translating:
 * per text, at most maxOutputTokens output tokens (+ end of sentence) and (with attention) one weight per
 * source token (≤ code points; a tokenizer never makes more tokens than characters) per output token.
 */
export function worstCaseReplyBytes(texts: readonly string[], attention: boolean, maxOutputTokens: number): number {
  let total = 256;
  for (const t of texts) {
    const sourceTokens = codePointLength(t.normalize('NFC'));
    const outputTokens = maxOutputTokens + 1;
    total += 128 + (outputTokens + (attention ? sourceTokens + outputTokens : 0)) * BYTES_PER_TOKEN;
    if (attention) total += sourceTokens * outputTokens * WEIGHT_BYTES;
  }
  return total;
}

/** A request handler for the routes above; errors it throws are HttpErrors (or bugs, which the server answers with 500). */
export function createRoutes(ctx: RouteContext): (req: http.IncomingMessage, res: http.ServerResponse, t0: number) => Promise<void> {
  const { bundle, modelName, batcher, limits, retryAfter, webRoot } = ctx;
  const checkOrigin = createOriginCheck(ctx.originPolicy);
  let pendingReplyBytes = 0;
  const modelHasAttention = bundle.model.hasAttention;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const send = (req: http.IncomingMessage, res: http.ServerResponse, status: number, body: unknown): void => sendJson(req, res, status, body, {}, ctx.closing());

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
      weights: weightsDtype(bundle.model),
      history: { epochs: h.length, last: h.length ? h[h.length - 1] : null },
      limits,
    };
  };

  const handleTranslate = async (req: http.IncomingMessage, res: http.ServerResponse, t0: number): Promise<void> => {
    checkContentType(req.headers['content-type']);
    const raw = await readBody(req, limits.maxBody, ctx.bodyTimeoutMs);
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
    // Refused before translating: what the reply could weigh is known from the texts and the limits.
    const worst = worstCaseReplyBytes(request.texts, key.attention, limits.maxOutputTokens);
    if (worst > limits.maxResponseBytes) {
      throw new HttpError(413, `this request's reply could reach ${worst} bytes (limit ${limits.maxResponseBytes}, maxResponseBytes); ` +
        (key.attention ? 'send fewer or shorter texts, or ask without "attention"' : 'send fewer or shorter texts'));
    }
    // A client that goes away takes its sentences still queued with it.
    const gone = new AbortController();
    const onClose = (): void => {
      if (!res.writableEnded) gone.abort();
    };
    res.on('close', onClose);
    let results: Translation[];
    try {
      results = await batcher.submit(request.texts, key, gone.signal);
    } catch (err) {
      if (err instanceof QueueFullError) throw new HttpError(503, err.message, { 'Retry-After': retryAfter });
      if (err instanceof BatcherClosedError) throw new HttpError(503, err.message, { 'Retry-After': retryAfter });
      if (err instanceof JobAbortedError) throw new HttpError(499, err.message);
      throw err;
    } finally {
      res.off('close', onClose);
    }
    if (res.destroyed) throw new HttpError(499, 'client closed the connection');
    const translations = results.map((t) => {
      const out: Record<string, unknown> = { text: t.text, unknown: t.unknown, finished: t.finished };
      if (key.attention && t.attention) {
        const a = t.attention;
        out.attention = { sourceTokens: a.sourceTokens, outputTokens: a.outputTokens, weights: roundedWeights(a.weights) };
      }
      return out;
    });
    const response: Record<string, unknown> = { translations };
    if (request.single) response.translation = results[0].text;
    response.model = modelName;
    response.ms = round2(performance.now() - t0);
    const reply = JSON.stringify(response);
    const bytes = Buffer.byteLength(reply);
    // The estimate is a bound; this is the backstop should it ever be wrong.
    if (bytes > limits.maxResponseBytes) throw new HttpError(500, `reply of ${bytes} bytes over maxResponseBytes (${limits.maxResponseBytes}): the size estimate is wrong`);
    if (pendingReplyBytes + bytes > ctx.maxPendingResponseBytes) {
      throw new HttpError(503, `too many replies are waiting to be read (${pendingReplyBytes} bytes); retry shortly`, { 'Retry-After': retryAfter });
    }
    pendingReplyBytes += bytes;
    res.once('close', () => void (pendingReplyBytes -= bytes));
    sendJson(req, res, 200, response, {}, ctx.closing(), reply);
  };

  return async (req, res, t0) => {
    setSecurityHeaders(res);
    const { cors, preflight } = checkOrigin(req);
    for (const [k, v] of Object.entries(cors)) res.setHeader(k, v);
    if (preflight) {
      for (const [k, v] of Object.entries(PREFLIGHT_HEADERS)) res.setHeader(k, v);
      res.statusCode = 204;
      res.end();
      return;
    }
    const url = req.url ?? '';
    if (!url.startsWith('/')) throw new HttpError(400, 'bad request target');
    const q = url.search(/[?#]/);
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? '';
    const allow = (methods: string[]): void => {
      if (!methods.includes(method)) throw new HttpError(405, `method ${method} not allowed on ${path}`, { Allow: methods.join(', ') });
    };
    if (ctx.closing()) throw new HttpError(503, 'the server is shutting down', { 'Retry-After': retryAfter });
    switch (path) {
      case '/translate':
        allow(['POST']);
        return handleTranslate(req, res, t0);
      case '/health':
        allow(['GET', 'HEAD']);
        return send(req, res, 200, { status: 'ok' });
      case '/ready': {
        allow(['GET', 'HEAD']);
        // Ready while at least one more sentence fits; the numbers let a balancer or a person see how close to full.
        const queued = batcher.queued;
        const { maxQueue, maxBatch } = batcher.options;
        const full = queued >= maxQueue;
        const body = { status: full ? 'busy' : 'ready', queued, maxQueue, maxBatch };
        return sendJson(req, res, full ? 503 : 200, body, full ? { 'Retry-After': retryAfter } : {}, ctx.closing());
      }
      case '/model':
        allow(['GET', 'HEAD']);
        return send(req, res, 200, modelInfo());
      default:
        if (!webRoot) throw new HttpError(404, `no such route: ${path}`);
        allow(['GET', 'HEAD']);
        return serveStatic(req, res, path, { webRoot, closing: ctx.closing(), log: ctx.log });
    }
  };
}
