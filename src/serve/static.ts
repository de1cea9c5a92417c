/**
 * Static files for `s2s serve --web DIR` (the translation page): GET and
 * HEAD only, index.html for directories, no hidden files, no path or
 * symbolic link leading outside the folder.
 */
import type http from 'node:http';
import { createReadStream } from 'node:fs';
import { stat, realpath } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { HttpError, startWriting } from './http.js';

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

export interface StaticOptions {
  /** Absolute path of the folder served at /. */
  webRoot: string;
  /** The server is closing: answer, then close the connection. */
  closing: boolean;
  log: (line: string) => void;
}

/** Answers a GET/HEAD for `rawPath` (the URL path, still percent-encoded) from the folder; errors are HttpErrors. */
export async function serveStatic(req: http.IncomingMessage, res: http.ServerResponse, rawPath: string, o: StaticOptions): Promise<void> {
  const webRoot = o.webRoot;
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
  if (o.closing) res.setHeader('Connection', 'close');
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  startWriting(res);
  await new Promise<void>((done) => {
    const stream = createReadStream(realFull);
    stream.on('error', (err) => {
      o.log(`s2s serve: reading ${realFull}: ${err.message}`);
      res.destroy();
      done();
    });
    res.on('close', () => {
      stream.destroy();
      done();
    });
    stream.pipe(res);
  });
}
