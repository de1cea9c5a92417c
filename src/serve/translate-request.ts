/**
 * The body of POST /translate: {"text": "..."} or {"texts": [...]}, with
 * optional "beam" and "attention". Checked field by field; every problem is
 * an HttpError whose message names the field.
 */
import { SERVE_DEFAULTS } from './options.js';
import { codePointLength } from '../data/corpus.js';
import { HttpError } from './http.js';

/** Widest beam a request may ask for. */
export const MAX_BEAM = SERVE_DEFAULTS.maxBeam;

export interface TranslateRequest {
  texts: string[];
  single: boolean;
  beam: number;
  attention: boolean;
}

const ALLOWED_FIELDS = new Set(['text', 'texts', 'beam', 'attention']);

/** Checks a parsed /translate body; throws HttpError naming the problem. */
export function parseTranslateRequest(body: unknown, limits: { maxSourceLength: number; maxTexts: number }): TranslateRequest {
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
