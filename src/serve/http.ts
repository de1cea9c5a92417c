/**
 * HTTP plumbing for `s2s serve`, independent of the routes: errors that
 * carry a status, JSON answers, reading a request body with a size cap and a
 * deadline, Content-Type checks, loopback detection.
 */
import type http from 'node:http';
import { isIP } from 'node:net';
import { S2SError } from '../errors.js';
import { SECURITY_HEADERS } from './options.js';

/** An error answered with its status and message as {"error": message}. Status 499 means the client went away. */
export class HttpError extends S2SError {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
  }
}

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

/** Requests whose body was read to the end (others are not drained: their connection closes). */
const bodyRead = new WeakSet<http.IncomingMessage>();

/**
 * True when the connection must close after this answer: the server is
 * closing, or the request has a body we did not read (it is not drained).
 */
export function mustCloseConnection(req: http.IncomingMessage, closing: boolean): boolean {
  return closing || (hasBody(req) && !bodyRead.has(req));
}

/** Attention weights are printed with 4 decimals: a weight takes at most 7 bytes ("0.1234,") instead of ~20. */
export const WEIGHT_DECIMALS = 4;
const WEIGHT_SCALE = 10 ** WEIGHT_DECIMALS;

/** Attention weights as plain arrays of numbers rounded to WEIGHT_DECIMALS. */
export function roundedWeights(v: unknown): unknown {
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>, (x) => Math.round(x * WEIGHT_SCALE) / WEIGHT_SCALE);
  if (Array.isArray(v)) return v.map(roundedWeights);
  if (typeof v === 'number') return Math.round(v * WEIGHT_SCALE) / WEIGHT_SCALE;
  return v;
}

/** How long a reply may make no progress before its connection is dropped, per response (set by the server). */
const writeTimeouts = new WeakMap<http.ServerResponse, number>();

/** Sets the write timeout of one response (see startWriting). */
export function setWriteTimeout(res: http.ServerResponse, ms: number): void {
  writeTimeouts.set(res, ms);
}

/**
 * Arms the write timeout once a reply starts: a socket that moves no byte for that long (a client that
 * stopped reading) is destroyed, which frees what is buffered for it. Not armed while a request waits
 * for its translation, which may legitimately take long. After the reply, Node's keep-alive timer takes over.
 */
export function startWriting(res: http.ServerResponse): void {
  const ms = writeTimeouts.get(res);
  if (ms === undefined) return;
  res.setTimeout(ms, () => res.destroy());
}

/** The headers every reply carries (security headers; CORS ones are set by the origin check). */
export function setSecurityHeaders(res: http.ServerResponse): void {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
}

/** Answers with a JSON body (never cached); does nothing once an answer was sent or the socket is gone. `text` is the body already serialised, when the caller measured it. */
export function sendJson(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, closing = false, text = JSON.stringify(body)): void {
  if (res.headersSent || res.destroyed) return;
  res.statusCode = status;
  setSecurityHeaders(res);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.setHeader('Cache-Control', 'no-store');
  if (mustCloseConnection(req, closing)) res.setHeader('Connection', 'close');
  startWriting(res);
  res.end(text);
}

/** Answers an HttpError as {"error": message} with its status and headers. */
export function sendError(req: http.IncomingMessage, res: http.ServerResponse, err: HttpError, closing = false): void {
  sendJson(req, res, err.status, { error: err.message }, err.headers, closing);
}

/** Reads at most maxBody bytes within timeoutMs; over the limit, reading stops and 413 is thrown. */
export function readBody(req: http.IncomingMessage, maxBody: number, timeoutMs: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBody) {
    return Promise.reject(new HttpError(413, `request body too large: ${declared} bytes (limit ${maxBody})`));
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
      if (size > maxBody) finish(new HttpError(413, `request body too large (limit ${maxBody} bytes)`));
      else chunks.push(chunk);
    };
    const onEnd = (): void => finish(null, Buffer.concat(chunks, size));
    const onAbort = (): void => finish(new HttpError(499, 'client closed the connection'));
    const timer = setTimeout(() => finish(new HttpError(408, `request body not received within ${timeoutMs} ms`)), timeoutMs);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('close', onAbort);
  });
}

/**
 * Accepts application/json (and +json types) in UTF-8. A missing one is 415 too: a page elsewhere can POST
 * text/plain or no type without a CORS preflight, but not application/json.
 */
export function checkContentType(header: string | undefined): void {
  if (header === undefined || header.trim() === '') throw new HttpError(415, 'missing Content-Type; send application/json');
  const [type, ...params] = header.split(';').map((s) => s.trim().toLowerCase());
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
    throw new HttpError(415, `unsupported content type "${type}"; send application/json`);
  }
  for (const p of params) {
    const m = /^charset\s*=\s*"?([^"]*)"?$/.exec(p);
    if (m && m[1] !== 'utf-8' && m[1] !== 'utf8') throw new HttpError(415, `unsupported charset "${m[1]}"; send UTF-8`);
  }
}
