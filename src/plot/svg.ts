/**
 * A tiny SVG builder: elements with attributes and children, serialised to
 * well-formed XML. Every string that reaches the output goes through one of
 * two escapers, so any text — a vocabulary token included — can be a label:
 * characters XML forbids (most C0 controls, lone surrogates, U+FFFE/U+FFFF)
 * and the discouraged ones (DEL, C1 controls, noncharacters) are removed,
 * `& < >` are escaped everywhere, `"` and tab/newline/CR in attribute values.
 * Numbers are written with at most two decimals; a non-finite number is a
 * bug in the caller and throws rather than produce a broken file.
 *
 * No DOM and no Node APIs: this runs in the browser too.
 */

export type AttrValue = string | number | boolean | null | undefined;
export type Attrs = Record<string, AttrValue>;
/** Children: elements, text (escaped), and nothing (null/undefined/false, skipped); arrays are flattened. */
export type Child = SvgElement | string | null | undefined | false | readonly Child[];

export const SVG_NS = 'http://www.w3.org/2000/svg';

export const FONT_SANS = "system-ui, -apple-system, 'Segoe UI', 'Helvetica Neue', Helvetica, Arial, sans-serif";
export const FONT_MONO = "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace";

// Forbidden or discouraged in XML 1.0 (tab, LF and CR are kept): C0 controls, DEL, C1 controls,
// noncharacters U+FDD0–U+FDEF, U+FFFE, U+FFFF and surrogates that are not part of a pair.
const BAD_XML_CHARS = /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F\uFDD0-\uFDEF\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `s` without the characters XML forbids or discourages (tab, LF and CR stay). */
export function cleanXmlChars(s: string): string {
  return s.replace(BAD_XML_CHARS, '');
}

/** Text content: cleaned, with `& < >` escaped. */
export function escapeXmlText(s: string): string {
  return cleanXmlChars(s).replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

const ATTR_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' };

/** A value for a double-quoted attribute: cleaned, with `& < > "` and tab/LF/CR as references (so they survive attribute normalisation). */
export function escapeXmlAttr(s: string): string {
  return cleanXmlChars(s).replace(/[&<>"\t\n\r]/g, (c) => ATTR_ESCAPES[c]);
}

/** A number as SVG wants it: at most two decimals, no `-0`, no exponent for the sizes we draw. */
export function num(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`SVG: ${n} is not a finite number`);
  const r = Math.round(n * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;

function checkName(kind: string, name: string): void {
  if (!NAME.test(name)) throw new Error(`SVG: invalid ${kind} name ${JSON.stringify(name)}`);
}

function attrString(name: string, value: AttrValue): string {
  if (value === null || value === undefined || value === false) return '';
  const v = value === true ? 'true' : typeof value === 'number' ? num(value) : escapeXmlAttr(value);
  return ` ${name}="${v}"`;
}

function flatten(children: readonly Child[], out: (SvgElement | string)[] = []): (SvgElement | string)[] {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) flatten(c, out);
    else out.push(c as SvgElement | string);
  }
  return out;
}

export class SvgElement {
  readonly children: (SvgElement | string)[];

  constructor(readonly tag: string, readonly attrs: Attrs = {}, children: readonly Child[] = []) {
    checkName('element', tag);
    for (const name of Object.keys(attrs)) checkName('attribute', name);
    this.children = flatten(children);
  }

  /** Appends children; returns this. */
  add(...children: Child[]): this {
    this.children.push(...flatten(children));
    return this;
  }

  /**
   * XML for this element. Elements whose children are all elements are
   * indented one per line; an element holding text keeps its content on
   * one line, so no whitespace is added to what a `<text>` shows.
   */
  toString(indent = ''): string {
    const attrs = Object.entries(this.attrs).map(([k, v]) => attrString(k, v)).join('');
    if (this.children.length === 0) return `${indent}<${this.tag}${attrs}/>`;
    if (this.children.every((c) => c instanceof SvgElement)) {
      const inner = this.children.map((c) => (c as SvgElement).toString(indent + ' ')).join('\n');
      return `${indent}<${this.tag}${attrs}>\n${inner}\n${indent}</${this.tag}>`;
    }
    const inner = this.children.map((c) => (typeof c === 'string' ? escapeXmlText(c) : c.toString())).join('');
    return `${indent}<${this.tag}${attrs}>${inner}</${this.tag}>`;
  }
}

/** An element: `el('rect', { x: 0, width: 10 })`, `el('text', { x, y }, 'label')`. */
export function el(tag: string, attrs: Attrs = {}, ...children: Child[]): SvgElement {
  return new SvgElement(tag, attrs, children);
}

export interface DocumentOptions {
  width: number;
  height: number;
  /** Accessible name (the `<title>` of the document). */
  title?: string;
  /** Longer accessible description (`<desc>`). */
  description?: string;
  /** Background fill; 'none' for transparent. Default white, so dark page themes do not swallow the text. */
  background?: string;
  /** Default font of the document. Default FONT_SANS. */
  fontFamily?: string;
}

/** A complete SVG file: XML declaration, one root `<svg>` with xmlns, width/height and viewBox. */
export function svgDocument(o: DocumentOptions, ...children: Child[]): string {
  const w = Math.ceil(o.width), h = Math.ceil(o.height);
  const root = el(
    'svg',
    {
      xmlns: SVG_NS,
      width: w,
      height: h,
      viewBox: `0 0 ${w} ${h}`,
      'font-family': o.fontFamily ?? FONT_SANS,
      role: 'img',
    },
    o.title !== undefined ? el('title', {}, o.title) : null,
    o.description !== undefined ? el('desc', {}, o.description) : null,
    (o.background ?? '#ffffff') !== 'none' ? el('rect', { x: 0, y: 0, width: w, height: h, fill: o.background ?? '#ffffff' }) : null,
    ...children,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n${root.toString()}\n`;
}

/**
 * A token as a readable label: space → ␣, tab/newline and other control
 * characters → their Unicode control pictures (␉ ␊ …), the empty token → ∅.
 * Escaping for XML happens later, when the label is serialised.
 */
export function visibleToken(token: string): string {
  if (token === '') return '∅';
  return token.replace(/[\x00-\x20\x7F]/g, (c) => {
    const code = c.charCodeAt(0);
    if (code === 0x20) return '␣';
    if (code === 0x7f) return '␡';
    return String.fromCharCode(0x2400 + code);
  });
}

/** Shortens a label to at most `max` characters (by code point), ending in an ellipsis when cut. */
export function truncate(label: string, max: number): string {
  const chars = Array.from(label);
  return chars.length <= max ? label : chars.slice(0, Math.max(1, max - 1)).join('') + '…';
}

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) || (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/**
 * Estimated width in pixels of `s` at `fontSize` (there are no font
 * metrics here; the estimate errs on the wide side for Latin text).
 */
export function textWidth(s: string, fontSize: number, o: { mono?: boolean; bold?: boolean } = {}): number {
  let em = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (isWide(cp)) em += o.mono ? 1.1 : 1.0;
    else if (o.mono) em += 0.61;
    else if ('iljtfrI.,:;\'|!()[]{} '.includes(ch)) em += 0.36;
    else if ('mwMW@%'.includes(ch)) em += 0.9;
    else if (ch >= 'A' && ch <= 'Z') em += 0.72;
    else if (ch >= '0' && ch <= '9') em += 0.64;
    else em += 0.61;
  }
  return em * fontSize * (o.bold ? 1.08 : 1);
}
