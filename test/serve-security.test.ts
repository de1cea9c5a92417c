/**
 * Attacks on `s2s serve` from a hostile client on loopback (issue 11): replies
 * nobody reads, clients that leave their work queued, DNS rebinding and
 * cross-site requests, a bundle declaring an enormous maxTargetLength, and the
 * headers every reply must carry. Counts, not timings, decide each test:
 * bytes buffered, sentences translated, statuses.
 */
import { httpRequest, type Reply } from './helpers/http.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveBundle, loadBundle, type LoadedBundle } from '../src/bundle/bundle.js';
import { createServer, type S2SServer, type ServeOptions } from '../src/serve/index.js';
import { SERVE_DEFAULTS } from '../src/serve/options.js';
import { tinySetup, bundlePartsFor } from './helpers/tiny.js';

const MAX_SOURCE = 100;
let tmp: string;
let webDir: string;
let bundle: LoadedBundle;
const servers: S2SServer[] = [];

async function start(extra: Partial<ServeOptions> = {}, b = bundle): Promise<S2SServer> {
  const s = createServer({
    bundle: b, port: 0, webDir, batchWindowMs: 1, headersTimeoutMs: 2000, bodyTimeoutMs: 2000, timeoutCheckIntervalMs: 50,
    log: () => {}, ...extra,
  });
  await s.listen();
  servers.push(s);
  return s;
}

function request(s: S2SServer, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
  return httpRequest(s.url(), method, path, body, headers);
}

const JSON_TYPE = { 'content-type': 'application/json' };
const post = (s: S2SServer, body: unknown, headers: Record<string, string> = {}): Promise<Reply> =>
  request(s, 'POST', '/translate', JSON.stringify(body), { ...JSON_TYPE, ...headers });

/** Distinct source sentences of `length` characters the tiny model's vocabulary knows. */
function sources(n: number, length: number): string[] {
  const words = ['I am happy', 'we see the dog', 'where is the cat', 'you are tall', 'they run'];
  return Array.from({ length: n }, (_, i) => {
    let s = `${i} `;
    while (s.length < length) s += words[(i + s.length) % words.length] + ' ';
    return s.slice(0, length);
  });
}

/** Sends a raw request and never reads the answer (the socket is paused at once). */
function neverReads(s: S2SServer, body: string): Promise<net.Socket> {
  const port = Number(new URL(s.url()).port);
  return new Promise((ok, fail) => {
    const sock = net.connect(port, '127.0.0.1', () => {
      sock.pause();
      sock.write(`POST /translate HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      ok(sock);
    });
    sock.on('error', () => {});
    sock.once('error', fail);
  });
}

/** The server's side of every connection it accepts. */
function serverSockets(s: S2SServer): net.Socket[] {
  const list: net.Socket[] = [];
  s.server.on('connection', (sock: net.Socket) => list.push(sock));
  return list;
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 20_000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), `timed out waiting until ${what}`);
}

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 's2s-serve-security-'));
  const dir = join(tmp, 'model');
  // Untrained: it rarely ends a sentence early, so outputs go to the length limit (the worst case of the issue).
  saveBundle(dir, bundlePartsFor(tinySetup(12, { attention: 'dot' }), { maxSourceLength: MAX_SOURCE, maxTargetLength: 200 }));
  bundle = loadBundle(dir);
  webDir = join(tmp, 'web');
  mkdirSync(webDir);
  writeFileSync(join(webDir, 'index.html'), '<!doctype html><title>s2s</title>PAGE');
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(tmp, { recursive: true, force: true });
});

test('attention replies are bounded: weights have 4 decimals, a request whose reply could exceed maxResponseBytes is refused before translation', async () => {
  const s = await start();
  // The attack of the issue: 64 full-length texts with attention, 13 KB in.
  const texts = sources(64, MAX_SOURCE);
  const big = await post(s, { texts, attention: true });
  assert.equal(big.status, 413, big.text.slice(0, 200));
  assert.match(big.json.error, /could reach \d+ bytes \(limit 4194304, maxResponseBytes\)/);
  assert.equal(s.batcher.stats.sentences, 0, 'refused before any translation');
  // What is allowed comes back with weights of at most 4 decimals, within the estimate.
  const ok = await post(s, { texts: texts.slice(0, 4), attention: true });
  assert.equal(ok.status, 200, ok.text.slice(0, 200));
  for (const t of ok.json.translations) {
    for (const w of t.attention.weights.flat()) assert.ok(Math.abs(w * 1e4 - Math.round(w * 1e4)) < 1e-6, `weight ${w} has more than 4 decimals`);
  }
  assert.ok(Buffer.byteLength(ok.text) <= s.limits.maxResponseBytes);
});

test('clients that never read their replies: bytes held for them are bounded, and their connections are dropped after the write timeout', async () => {
  const texts = sources(64, MAX_SOURCE);
  // A server allowing large replies, to show the write timeout and the budget of pending replies.
  const probe = await start({ maxResponseBytes: 1 << 30 });
  const one = await post(probe, { texts, attention: true });
  assert.equal(one.status, 200);
  const replyBytes = Buffer.byteLength(one.text);
  const s = await start({ maxResponseBytes: 1 << 30, maxPendingResponseBytes: Math.floor(2.5 * replyBytes), writeTimeoutMs: 300, keepAliveTimeoutMs: 60_000 });
  const sockets = serverSockets(s);
  const body = JSON.stringify({ texts, attention: true });
  const clients = await Promise.all([0, 1, 2].map(() => neverReads(s, body)));
  await until('every sentence is translated', () => s.batcher.stats.sentences === 3 * texts.length);
  // Two replies fit the budget of pending bytes; the third client got a small 503 instead.
  await until('three connections', () => sockets.length === 3);
  await new Promise((r) => setImmediate(r));
  const held = sockets.reduce((sum, sock) => sum + sock.writableLength, 0);
  const stalled = sockets.filter((sock) => sock.writableLength > 0);
  assert.ok(held > 0 && held <= 2 * (replyBytes + 1024), `${held} bytes buffered for readers that never read (reply ${replyBytes} bytes)`);
  assert.ok(stalled.length >= 1 && stalled.length <= 2, `${stalled.length} stalled replies`);
  // The write timeout closes the stalled connections although keep-alive would wait 60 s and nothing is read.
  // (A second reply may only start being written after the snapshot above: wait for every reply that is held.)
  await until('the stalled connections are closed', () => stalled.every((sock) => sock.destroyed) && sockets.every((sock) => sock.destroyed || sock.writableLength === 0));
  // A destroyed socket drops its buffer, though its writableLength counter may keep the old value.
  assert.equal(sockets.filter((sock) => !sock.destroyed).reduce((sum, sock) => sum + sock.writableLength, 0), 0, 'nothing is held any more');
  console.log(`# unread replies: ${replyBytes} bytes each, ${held} bytes buffered in user space for ${stalled.length} stalled clients, closed after the 300 ms write timeout`);
  for (const c of clients) c.destroy();
  // The budget is free again: a client that reads gets its reply.
  const after = await post(s, { texts, attention: true });
  assert.equal(after.status, 200);
  // About the same size, not the same bytes: batched with other requests or not, the numbers' last digits may differ.
  assert.ok(Math.abs(Buffer.byteLength(after.text) - replyBytes) <= replyBytes / 100, `${Buffer.byteLength(after.text)} vs ${replyBytes} bytes`);
});

test('the reply budget refuses a third unread reply with 503', async () => {
  const texts = sources(64, MAX_SOURCE);
  const probe = await start({ maxResponseBytes: 1 << 30 });
  const replyBytes = Buffer.byteLength((await post(probe, { texts, attention: true })).text);
  const s = await start({ maxResponseBytes: 1 << 30, maxPendingResponseBytes: Math.floor(2.5 * replyBytes), writeTimeoutMs: 60_000 });
  const body = JSON.stringify({ texts, attention: true });
  const readers: net.Socket[] = [];
  for (let i = 0; i < 2; i++) {
    readers.push(await neverReads(s, body));
    await until(`reply ${i + 1} translated`, () => s.batcher.stats.sentences === (i + 1) * texts.length);
  }
  const third = await post(s, { texts, attention: true });
  assert.equal(third.status, 503, third.text.slice(0, 200));
  assert.match(third.json.error, /too many replies are waiting to be read/);
  assert.ok(third.headers['retry-after']);
  for (const r of readers) r.destroy();
});

test('a client that goes away before its batch runs: its queued sentences are not translated', async () => {
  // A window no test waits for: only a full batch (maxBatch sentences) runs.
  const s = await start({ batchWindowMs: 600_000, maxBatch: 4 });
  const closed: Promise<void>[] = [];
  s.server.on('request', (req: http.IncomingMessage) => closed.push(new Promise((r) => req.socket.once('close', () => r()))));
  const leaver = await neverReads(s, JSON.stringify({ texts: sources(3, 20) }));
  await until('3 sentences queued', () => s.batcher.stats.queued === 3);
  leaver.destroy();
  await closed[0];
  await new Promise((r) => setImmediate(r));
  assert.equal(s.batcher.stats.queued, 0, 'the sentences of the client that left are out of the queue');
  assert.equal(s.batcher.stats.dropped, 3);
  const stayer = await post(s, { texts: sources(4, 20) });
  assert.equal(stayer.status, 200);
  assert.equal(s.batcher.stats.sentences, 4, 'only the 4 sentences of the client that stayed were translated');
  assert.equal(s.batcher.stats.queued, 0);
});

test('a bundle declaring maxTargetLength 100000 (the largest the format allows) decodes at most maxOutputTokens per sentence', async () => {
  const dir = join(tmp, 'hostile');
  saveBundle(dir, bundlePartsFor(tinySetup(12, { attention: 'dot' }), { maxSourceLength: MAX_SOURCE, maxTargetLength: 100_000 }));
  const hostile = loadBundle(dir);
  const asked: (number | undefined)[] = [];
  const translate = hostile.translator.translate.bind(hostile.translator);
  hostile.translator.translate = (texts, options = {}) => {
    asked.push(options.maxLength);
    return translate(texts, options);
  };
  const s = await start({}, hostile);
  assert.equal(s.limits.maxOutputTokens, SERVE_DEFAULTS.maxOutputTokens);
  const r = await post(s, { text: 'I am happy', attention: true });
  assert.equal(r.status, 200);
  assert.deepEqual(asked, [SERVE_DEFAULTS.maxOutputTokens]);
  assert.ok(r.json.translations[0].attention.outputTokens.length <= SERVE_DEFAULTS.maxOutputTokens + 1);
  const model = await request(s, 'GET', '/model');
  assert.equal(model.json.limits.maxOutputTokens, SERVE_DEFAULTS.maxOutputTokens);
  // A smaller bundle limit is kept.
  const own = await start();
  assert.equal(own.limits.maxOutputTokens, 200);
});

test('POST without Content-Type: application/json is refused (415): a page elsewhere can send that without a preflight', async () => {
  const s = await start();
  const none = await request(s, 'POST', '/translate', '{"text":"I am happy"}');
  assert.equal(none.status, 415, none.text);
  assert.match(none.json.error, /missing Content-Type/);
  assert.equal(s.batcher.stats.sentences, 0);
  assert.equal((await request(s, 'POST', '/translate', '{"text":"I am happy"}', { 'content-type': 'text/plain' })).status, 415);
  assert.equal((await request(s, 'POST', '/translate', '{"text":"I am happy"}', JSON_TYPE)).status, 200);
});

test('DNS rebinding: a Host that is not this server is refused (421) on every route, static files included', async () => {
  const s = await start({ allowHosts: ['translate.example.com'] });
  const port = new URL(s.url()).port;
  const routes: [string, string, string?][] = [['GET', '/'], ['GET', '/index.html'], ['GET', '/model'], ['GET', '/health'], ['POST', '/translate', '{"text":"I am happy"}']];
  for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${Number(port) + 1}`, `localhost:1`, 'localhost.evil.example']) {
    for (const [method, path, body] of routes) {
      const r = await request(s, method, path, body, { ...JSON_TYPE, host });
      assert.equal(r.status, 421, `${method} ${path} with Host "${host}": ${r.status} ${r.text.slice(0, 80)}`);
      assert.doesNotMatch(r.text, /PAGE|parameters/);
    }
  }
  assert.equal(s.batcher.stats.sentences, 0);
  for (const host of [`127.0.0.1:${port}`, '127.0.0.1', `localhost:${port}`, `[::1]:${port}`, `LOCALHOST:${port}`, 'translate.example.com', 'translate.example.com:443', `192.168.1.5:${port}`]) {
    for (const [method, path, body] of routes) {
      const r = await request(s, method, path, body, { ...JSON_TYPE, host });
      assert.equal(r.status, 200, `${method} ${path} with Host "${host}": ${r.status} ${r.text.slice(0, 80)}`);
    }
  }
  assert.throws(() => createServer({ bundle, allowHosts: ['http://x.example/'] }), /not a host name/);
});

test('cross-site requests: a foreign Origin or Sec-Fetch-Site is refused (403); --allow-origin gets CORS and a preflight answer', async () => {
  const s = await start({ allowOrigins: ['https://app.example.com'] });
  const port = new URL(s.url()).port;
  const own = `http://127.0.0.1:${port}`;
  const body = { text: 'I am happy', beam: 16 };
  for (const headers of <Record<string, string>[]>[
    { origin: 'https://evil.example' },
    { origin: 'null' },
    { origin: `http://localhost:${Number(port) + 1}` },
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'same-site' },
    { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
  ]) {
    const r = await post(s, body, headers);
    assert.equal(r.status, 403, `${JSON.stringify(headers)}: ${r.status} ${r.text}`);
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    const m = await request(s, 'GET', '/model', undefined, headers);
    assert.equal(m.status, 403, `GET /model ${JSON.stringify(headers)}`);
  }
  assert.equal(s.batcher.stats.sentences, 0, 'nothing translated for a foreign site');
  // Same origin (the page itself) and typed URLs.
  assert.equal((await post(s, body, { origin: own, 'sec-fetch-site': 'same-origin' })).status, 200);
  assert.equal((await request(s, 'GET', '/model', undefined, { 'sec-fetch-site': 'none' })).status, 200);
  // A link elsewhere may open the page (a top-level navigation), not fetch or frame it.
  const nav = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };
  assert.equal((await request(s, 'GET', '/', undefined, nav)).status, 200);
  assert.equal((await request(s, 'GET', '/', undefined, { ...nav, 'sec-fetch-dest': 'iframe' })).status, 403);
  // An allowed origin: CORS headers, and the preflight of a JSON POST is answered.
  const allowed = await post(s, body, { origin: 'https://app.example.com', 'sec-fetch-site': 'cross-site' });
  assert.equal(allowed.status, 200, allowed.text);
  assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.match(String(allowed.headers.vary), /Origin/);
  const pre = await request(s, 'OPTIONS', '/translate', undefined, { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.match(String(pre.headers['access-control-allow-methods']), /POST/);
  assert.match(String(pre.headers['access-control-allow-headers']), /Content-Type/i);
  const foreignPre = await request(s, 'OPTIONS', '/translate', undefined, { origin: 'https://evil.example', 'access-control-request-method': 'POST' });
  assert.equal(foreignPre.status, 403);
  assert.throws(() => createServer({ bundle, allowOrigins: ['https://app.example.com/path'] }), /not an origin/);
});

test('every reply carries Content-Security-Policy, X-Frame-Options, nosniff and Referrer-Policy', async () => {
  const s = await start();
  const replies = [
    await request(s, 'GET', '/'),
    await request(s, 'GET', '/index.html'),
    await request(s, 'GET', '/model'),
    await request(s, 'GET', '/missing.js'),
    await post(s, { text: 'I am happy' }),
    await request(s, 'GET', '/model', undefined, { host: 'evil.example' }),
  ];
  for (const r of replies) {
    // 'wasm-unsafe-eval' compiles the wasm kernels; eval itself stays refused.
    assert.match(String(r.headers['content-security-policy']), /default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; style-src 'self'.*frame-ancestors 'none'/);
    assert.doesNotMatch(String(r.headers['content-security-policy']), /'unsafe-eval'/);
    // Cross-origin isolation (SharedArrayBuffer, so the wasm kernels' threads).
    assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin');
    assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp');
    assert.equal(r.headers['x-frame-options'], 'DENY');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['referrer-policy'], 'no-referrer');
  }
});
