/** One HTTP request to a test server on loopback, without keep-alive: status, headers, body text and its JSON (null when not JSON). */
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';

export interface Reply { status: number; headers: http.IncomingHttpHeaders; text: string; json: any }

/** Sends exactly the given headers (no Content-Type is added). */
export function httpRequest(url: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  const u = new URL(url);
  return new Promise((resolveReq, rejectReq) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: any = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolveReq({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', rejectReq);
    req.end(body);
  });
}

/** A running `s2s serve` process: its URL, its stderr so far, and a stop that sends SIGTERM and resolves with the exit code. */
export interface ServeProcess { child: ChildProcess; url: string; stderr(): string; stop(): Promise<number | null> }

/** Spawns `node bin/s2s.js serve ARGS` (with `--port 0`) and waits for the "on http://…" line of its log. */
export async function startServeProcess(bin: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<ServeProcess> {
  const child = spawn(process.execPath, [bin, 'serve', ...args, '--port', '0'], { cwd: options.cwd, stdio: ['ignore', 'ignore', 'pipe'], env: options.env ?? process.env });
  let err = '';
  const url = await new Promise<string>((ok, fail) => {
    child.stderr?.on('data', (c) => {
      err += c;
      const m = /on (http:\/\/\S+)/.exec(err);
      if (m) ok(m[1]);
    });
    child.on('exit', (code) => fail(new Error(`s2s serve exited ${code}: ${err}`)));
  });
  const stop = (): Promise<number | null> => new Promise((ok) => {
    child.removeAllListeners('exit');
    if (child.exitCode !== null) return ok(child.exitCode);
    child.on('exit', (code) => ok(code));
    child.kill('SIGTERM');
  });
  return { child, url, stderr: () => err, stop };
}
