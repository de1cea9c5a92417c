/** One HTTP request to a test server on loopback, without keep-alive: status, headers, body text and its JSON (null when not JSON). */
import http from 'node:http';

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
