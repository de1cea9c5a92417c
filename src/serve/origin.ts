/**
 * Who may talk to `s2s serve`: the Host header (DNS rebinding) and the
 * Origin / Sec-Fetch-Site headers (cross-site requests from pages the
 * visitor has open), plus CORS for the origins allowed with --allow-origin.
 *
 * Host: an IP literal (no rebinding goes through one), `localhost` and
 * `*.localhost` (browsers resolve them to loopback themselves), the --host
 * value, each with the bound port when a port is given; and every
 * --allow-host name, with any port (a reverse proxy in front). Anything
 * else is 421.
 *
 * Cross-site: a request with an Origin other than the server's own (the
 * origin the validated Host names) or an allowed one is 403, and so is a
 * `Sec-Fetch-Site` other than `same-origin` or `none` (user typed the URL),
 * `same-site` included (another port of localhost is another program).
 * The one exception: a top-level navigation (GET/HEAD of a document), which
 * lets a link elsewhere open the page without letting its site read anything.
 */
import type http from 'node:http';
import { isIP } from 'node:net';
import { HttpError } from './http.js';

export interface OriginPolicy {
  /** The address the server listens on (the --host value). */
  host: string;
  /** The bound port, once listening. */
  port(): number;
  /** Extra host names (lowercase, no port). */
  allowHosts: readonly string[];
  /** Origins allowed to call the API from elsewhere, as scheme://host[:port]. */
  allowOrigins: readonly string[];
}

/** Splits a Host header into a lowercase name (IPv6 without brackets) and its port, or null when malformed. */
export function parseHostHeader(value: string): { name: string; port: number | null } | null {
  const v = value.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(v);
  if (!m) return null;
  const name = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1].replace(/\.$/, '');
  if (m[1].startsWith('[') && isIP(name) !== 6) return null;
  const port = m[2] === undefined ? null : Number(m[2]);
  if (port !== null && port > 65535) return null;
  return { name, port };
}

/** An origin in the canonical form browsers send (scheme://host[:port], default ports omitted, lowercase). */
export function canonicalOrigin(origin: string): string {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    throw new RangeError(`not an origin: "${origin}" (expected e.g. https://example.com or http://localhost:3000)`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.pathname !== '/' || u.search || u.hash || u.username) {
    throw new RangeError(`not an origin: "${origin}" (expected scheme://host[:port], http or https, no path)`);
  }
  return u.origin;
}

/** Checks a host name given with --allow-host: a DNS name or an IP, without scheme, port or path. */
export function canonicalHostName(name: string): string {
  const parsed = parseHostHeader(name);
  if (!parsed || parsed.port !== null || parsed.name === '') throw new RangeError(`not a host name: "${name}" (expected e.g. translate.example.com, without port)`);
  return parsed.name;
}

function bareHost(host: string): string {
  return host.replace(/^\[|\]$/g, '').toLowerCase();
}

/**
 * A checker run before every route: throws HttpError (421 wrong Host, 403 cross-site) or returns the CORS
 * headers to send (empty for same-origin requests). OPTIONS preflights of allowed origins are answered by the caller.
 */
export function createOriginCheck(policy: OriginPolicy): (req: http.IncomingMessage) => { cors: Record<string, string>; preflight: boolean } {
  const allowHosts = new Set(policy.allowHosts.map(canonicalHostName));
  const allowOrigins = new Set(policy.allowOrigins.map(canonicalOrigin));
  const bound = bareHost(policy.host);
  const hostAllowed = (name: string, port: number | null): boolean => {
    if (allowHosts.has(name)) return true;
    const builtIn = isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || name === bound;
    return builtIn && (port === null || port === policy.port());
  };
  return (req) => {
    const hostHeader = req.headers.host;
    const parsed = hostHeader === undefined ? null : parseHostHeader(hostHeader);
    if (!parsed || !hostAllowed(parsed.name, parsed.port)) {
      throw new HttpError(421, `this server does not answer for Host "${hostHeader ?? ''}"; start it with --allow-host NAME to accept a name`);
    }
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    const method = req.method ?? '';
    if (origin !== undefined) {
      const own = ['http://', 'https://'].some((scheme) => origin.toLowerCase() === scheme + String(hostHeader).toLowerCase());
      if (own) return { cors: {}, preflight: false };
      let canonical = '';
      try {
        canonical = canonicalOrigin(origin);
      } catch {
        /* "null" or garbage: not allowed */
      }
      if (allowOrigins.has(canonical)) {
        const cors = { 'Access-Control-Allow-Origin': canonical, Vary: 'Origin' };
        return { cors, preflight: method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined };
      }
      throw new HttpError(403, `cross-origin request from ${JSON.stringify(origin)} refused; start the server with --allow-origin ORIGIN to allow a page elsewhere`);
    }
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      const navigation = (method === 'GET' || method === 'HEAD') && req.headers['sec-fetch-mode'] === 'navigate' && req.headers['sec-fetch-dest'] === 'document';
      if (!navigation) throw new HttpError(403, `${site} request refused (Sec-Fetch-Site: ${site})`);
    }
    return { cors: {}, preflight: false };
  };
}

/** The answer to a CORS preflight of an allowed origin. */
export const PREFLIGHT_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Methods': 'GET, HEAD, POST',
  'Access-Control-Allow-Headers': 'Content-Type',
  'Access-Control-Max-Age': '600',
};
