/**
 * The routes of `s2s serve`:
 *
 *   POST /translate  {"text": "..."} | {"texts": [...]}, optional "beam", "attention" (boolean)
 *   GET  /health     {"status": "ok"}
 *   GET  /model      what the bundle is (architecture, data options, vocabularies, parameters, history, limits)
 *   GET  /...        static files from the web folder, when there is one
 *
 * Translations go through the shared Batcher; a full or closed queue is 503
 * with Retry-After. Listening, connections and shutdown are server.ts's.
 */
import type http from 'node:http';
import { basename } from 'node:path';
import { BUNDLE_VERSION, type LoadedBundle } from '../bundle/bundle.js';
import type { Translation } from '../decode/translator.js';
import { QueueFullError, BatcherClosedError, type Batcher, type BatchKey } from './batcher.js';
import { HttpError, checkContentType, jsonable, readBody, sendJson } from './http.js';
import { serveStatic } from './static.js';
import { parseTranslateRequest } from './translate-request.js';

export interface RouteContext {
  bundle: LoadedBundle;
  /** Name reported as "model" in responses. */
  modelName: string;
  batcher: Batcher<Translation>;
  /** The server's limits (all of them are reported by GET /model). */
  limits: { maxSourceLength: number; maxTexts: number; maxBody: number };
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

/** A request handler for the routes above; errors it throws are HttpErrors (or bugs, which the server answers with 500). */
export function createRoutes(ctx: RouteContext): (req: http.IncomingMessage, res: http.ServerResponse, t0: number) => Promise<void> {
  const { bundle, modelName, batcher, limits, retryAfter, webRoot } = ctx;
  const modelHasAttention = bundle.config.model.attention !== 'none';
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

  return async (req, res, t0) => {
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
