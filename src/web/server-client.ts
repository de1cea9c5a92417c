/**
 * The page talking to an s2s server next to it (`s2s serve`): is there one,
 * and translate lines with it. A static host has neither route and answers
 * with an error page, not JSON, which is how the page tells them apart.
 */
import { asAttentionMap, type AttentionMap } from './web-model.js';
import { S2SError } from '../errors.js';

export interface ServerResult {
  /** One translation per line sent. */
  texts: string[];
  attention: (AttentionMap | null)[];
  engine: string;
}

/**
 * Asks the s2s server to translate non-empty lines (`{"text"}` for one,
 * `{"texts"}` for several); null when no s2s server answers (a static host
 * answers with an error page, not JSON).
 */
export async function askServer(lines: readonly string[], signal?: AbortSignal): Promise<ServerResult | null> {
  const body = lines.length === 1 ? { text: lines[0], attention: true } : { texts: lines, attention: true };
  const res = await fetch('/translate', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
  if (!(res.headers.get('content-type') ?? '').includes('json')) return null;
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new S2SError(typeof json.error === 'string' ? json.error : `server: HTTP ${res.status}`);
  const items = Array.isArray(json.translations) ? (json.translations as unknown[]) : [];
  const texts = items.map((t) => (typeof t === 'string' ? t : String((t as { text?: unknown } | null)?.text ?? '')));
  if (texts.length !== lines.length) {
    if (lines.length === 1 && typeof json.translation === 'string') texts.splice(0, texts.length, json.translation);
    else throw new S2SError(`the server answered ${texts.length} translations for ${lines.length} lines`);
  }
  const attention = items.map((t) => asAttentionMap((t as { attention?: unknown } | null)?.attention));
  const engine = typeof json.model === 'string' ? `s2s serve, model ${json.model}` : 's2s serve';
  return { texts, attention, engine };
}

/** True when an s2s server answers here (GET /health gives JSON; a static host has no such file). */
export async function probeServer(): Promise<boolean> {
  try {
    const res = await fetch('/health', { headers: { accept: 'application/json' } });
    if (!res.ok || !(res.headers.get('content-type') ?? '').includes('json')) return false;
    const json = (await res.json()) as { status?: unknown };
    return json.status === 'ok';
  } catch {
    return false;
  }
}
