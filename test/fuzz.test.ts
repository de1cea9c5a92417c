/**
 * Seeded fuzzing of everything that reads untrusted input: the TSV reader,
 * the bundle and checkpoint loaders, and the translate path. Every case
 * must end in a valid result or a known error class with a message (never
 * another exception, a crash or a hang) and stay within a memory ceiling
 * (the slowest case is reported; speed is not asserted, since a loaded
 * machine makes any time limit flaky). Any change to a weights or optimizer
 * blob that the loader reads must be detected (its CRC-32 and length are in
 * the index). Each suite runs in a child process with
 * --max-old-space-size=256 that also tracks array-buffer memory and peak
 * RSS, so an allocation sized by an untrusted number fails the run.
 *
 * The bundle bases include int8 bundles (s2s quantize; seeds i8-*.json).
 * Crafted seeds live in test/fuzz/ (tsv/*.tsv with expect.json,
 * bundle/*.json edit scripts with the expected error, translate/inputs.json);
 * a seeded mutation loop derives the rest. Same seed, same cases.
 */
import { Rng } from '../src/engine/rng.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePairs, CorpusError, codePointLength, CharTokenizer, WordTokenizer, Vocab, encodePairs, type ReadPairsOptions, type Corpus } from '../src/data/index.js';
import { saveBundle, loadBundle, BundleError, type BundleParts, type LoadedBundle } from '../src/bundle/bundle.js';
import { quantizeBundle } from '../src/bundle/quantize.js';
import { saveCheckpoint, loadLatestCheckpoint, checkpointsDir } from '../src/train/checkpoint.js';
import { crc32 } from '../src/engine/io.js';
import { Translator, InputTooLongError, type Translation, type TranslateOptions } from '../src/decode/translator.js';
import { Trainer } from '../src/train/trainer.js';
import { PRESETS } from '../src/train/options.js';
import { prepareData } from '../src/train/prepare.js';
import { BUILTIN_CORPUS } from '../src/data/read-split.js';
import { Seq2Seq } from '../src/model/seq2seq.js';
import { Transformer } from '../src/model/transformer.js';
import { tinySetup } from './helpers/tiny.js';
import { tinyTransformer, tinyTransformerSetup, transformerBundleParts } from './helpers/tiny-transformer.js';

const thisFile = fileURLToPath(import.meta.url);
const root = resolve(dirname(thisFile), '..', '..');
const seedsDir = join(root, 'test', 'fuzz');
const FUZZ_SEED = 20240917;
/** Cases per mutation loop; the crafted and big cases come on top. */
const MUTATIONS = { tsv: 3000, bundle: 1350, translate: 500 };
/** Budget per case on an idle machine; reported, not asserted. */
const CASE_LIMIT_MS = 1000;
/** A worker still running after this long is hung, not slow (the suites take seconds). */
const HANG_GUARD_MS = 600_000;
const HEAP_LIMIT_MB = 256;

// ---------------------------------------------------------------- harness

interface Report {
  suite: string;
  cases: number;
  outcomes: Record<string, number>;
  failures: string[];
  slowest: { label: string; ms: number };
  peakArrayBuffersMB: number;
  maxRssMB: number;
  seconds: number;
  /** Seconds per phase (setup, crafted seeds, big inputs, mutations). */
  phases: Record<string, number>;
}


class Fuzz {
  readonly rand: () => number;
  cases = 0;
  outcomes: Record<string, number> = {};
  failures: string[] = [];
  slowest = { label: '', ms: 0 };
  peakArrayBuffers = 0;
  phases: Record<string, number> = {};
  private readonly t0 = performance.now();
  private phaseStart = performance.now();

  constructor(readonly suite: string, seed: number) {
    const rng = new Rng(seed);
    this.rand = () => rng.next();
  }

  int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  /**
   * Runs one case: `target` is the code under test (timed), `check` judges
   * its result or error against the contract (not timed) and names the outcome.
   */
  run<T>(label: string, target: () => T, check: (r: { ok: true; value: T } | { ok: false; error: unknown }) => string): void {
    process.stderr.write(`${label}\n`); // the last line names the culprit if the process dies or hangs
    let ms = 0;
    try {
      let r: { ok: true; value: T } | { ok: false; error: unknown };
      const t0 = performance.now();
      try {
        r = { ok: true, value: target() };
      } catch (error) {
        r = { ok: false, error };
      }
      ms = performance.now() - t0;
      this.peakArrayBuffers = Math.max(this.peakArrayBuffers, process.memoryUsage().arrayBuffers);
      const outcome = check(r);
      this.outcomes[outcome] = (this.outcomes[outcome] ?? 0) + 1;
    } catch (err) {
      if (this.failures.length < 25) this.failures.push(`${label}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`.slice(0, 3000));
    }
    if (ms > this.slowest.ms) this.slowest = { label, ms };
    this.cases++;
  }

  /** Ends the current phase under this name. */
  phase(name: string): void {
    const now = performance.now();
    this.phases[name] = Math.round((now - this.phaseStart) / 100) / 10;
    this.phaseStart = now;
  }

  report(): Report {
    return {
      suite: this.suite, cases: this.cases, outcomes: this.outcomes, failures: this.failures,
      slowest: { label: this.slowest.label.slice(0, 200), ms: Math.round(this.slowest.ms) },
      peakArrayBuffersMB: Math.round(this.peakArrayBuffers / 2 ** 20),
      maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
      seconds: Math.round((performance.now() - this.t0) / 100) / 10,
      phases: this.phases,
    };
  }
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

// ---------------------------------------------------------------- TSV reader

const INTERESTING_BYTES: number[][] = [
  [0x09], [0x0a], [0x0d], [0x0d, 0x0a], [0x00], [0xff], [0xfe], [0xfe, 0xff], [0xc3, 0xa9], [0xc3], [0xed, 0xa0, 0x80],
  [0xef, 0xbb, 0xbf], [0xf0, 0x9f, 0x98, 0x80], [0xf0, 0x9f], [0xe2, 0x80, 0xaf], [0x20], [0xc2, 0xa0], [0xcc, 0x81],
  [0xe2, 0x80, 0x8b], [0xc2, 0xad], [0x1b], [0x7f], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80],
];

function mutateBytes(f: Fuzz, input: Uint8Array, others: readonly Uint8Array[]): Uint8Array {
  let b = Array.from(input);
  const ops = 1 + f.int(8);
  for (let k = 0; k < ops; k++) {
    const at = f.int(b.length + 1);
    switch (f.int(9)) {
      case 0: if (b.length) b[Math.min(at, b.length - 1)] ^= 1 << f.int(8); break;
      case 1: if (b.length) b[Math.min(at, b.length - 1)] = f.int(256); break;
      case 2: b.splice(at, 0, ...f.pick(INTERESTING_BYTES)); break;
      case 3: b.splice(at, 1 + f.int(16)); break;
      case 4: { const len = 1 + f.int(64); const chunk = b.slice(at, at + len); for (let r = f.int(8); r > 0; r--) b.splice(at, 0, ...chunk); break; }
      case 5: { const o = f.pick(others); const s = f.int(o.length + 1); b.splice(at, 0, ...o.subarray(s, s + f.int(200))); break; }
      case 6: b.splice(at, 0, ...new Array(1 + f.int(1000)).fill(0x09)); break;
      case 7: b.splice(at, 0, ...Array.from({ length: 1 + f.int(32) }, () => f.int(256))); break;
      case 8: b = b.slice(0, at); break;
    }
  }
  return Uint8Array.from(b);
}

function randomReadOptions(f: Fuzz): ReadPairsOptions {
  return {
    skipBadLines: f.rand() < 0.5,
    normalizeSpaces: f.rand() < 0.3,
    samples: f.rand() < 0.8 ? 'all' : f.int(6),
    maxSourceLength: f.rand() < 0.7 ? Infinity : 1 + f.int(20),
    maxTargetLength: f.rand() < 0.7 ? Infinity : 1 + f.int(20),
  };
}

/** The reader's contract for a result: consistent statistics and clean, well-formed pairs that the data pipeline accepts. */
function checkCorpus(c: Corpus, o: ReadPairsOptions): string {
  const s = c.stats;
  assert.equal(c.pairs.length, s.kept);
  assert.equal(s.lines, s.blank + s.badLines + s.tooLong + s.kept, 'every examined line is counted once');
  if (!o.skipBadLines) assert.equal(s.badLines, 0);
  if (o.samples !== undefined && o.samples !== 'all') assert.ok(s.kept <= o.samples);
  let prevLine = 0;
  for (const p of c.pairs) {
    for (const side of [p.source, p.target]) {
      assert.ok(typeof side === 'string' && side.length > 0, 'non-empty sides');
      assert.equal(side, side.trim(), 'sides are trimmed');
      assert.ok(!/[\t\n\r\0]/.test(side), 'no TAB, newline, CR or NUL inside a side');
      assert.ok(!LONE_SURROGATE.test(side), 'no lone surrogates');
      assert.equal(side, side.normalize('NFC'), 'sides are NFC');
    }
    assert.ok(codePointLength(p.source) <= (o.maxSourceLength ?? Infinity) && codePointLength(p.target) <= (o.maxTargetLength ?? Infinity));
    assert.ok(Number.isInteger(p.line) && p.line > prevLine && p.line <= s.lines, 'line numbers ascend within the file');
    prevLine = p.line;
  }
  if (c.pairs.length > 0 && c.pairs.length <= 2000) {
    for (const tok of [new CharTokenizer(), new WordTokenizer()]) {
      const tokenizers = { source: tok, target: tok };
      const vocabs = { source: Vocab.build(c.pairs.map((p) => tok.tokenize(p.source))), target: Vocab.build(c.pairs.map((p) => tok.tokenize(p.target))) };
      encodePairs(c.pairs, tokenizers, vocabs);
    }
  }
  return c.pairs.length ? 'pairs' : 'no pairs';
}

/** The reader's contract: a valid corpus or a CorpusError whose message starts with file:line. */
function judgeCorpus(file: string, o: ReadPairsOptions) {
  return (r: { ok: true; value: Corpus } | { ok: false; error: unknown }): string => {
    if (r.ok) return checkCorpus(r.value, o);
    const err = r.error;
    assert.ok(err instanceof CorpusError, `unexpected ${(err as Error)?.name}: ${(err as Error)?.message}\n${(err as Error)?.stack}`);
    assert.ok(err.message.startsWith(`${file}:${err.line}: `) && err.line >= 1 && err.reason.length > 0, err.message);
    return 'CorpusError';
  };
}

function tsvSuite(f: Fuzz): void {
  const dir = join(seedsDir, 'tsv');
  const expected = JSON.parse(readFileSync(join(dir, 'expect.json'), 'utf8')) as Record<string, Record<string, { kept?: number; badLines?: number; error?: string }>>;
  const seeds = readdirSync(dir).filter((n) => n.endsWith('.tsv')).sort().map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(dir, name))) }));
  // Crafted seeds: their exact outcomes are pinned in expect.json.
  for (const { name, bytes } of seeds) {
    for (const mode of ['strict', 'skipBadLines', 'normalizeSpaces'] as const) {
      const o = { skipBadLines: mode !== 'strict', normalizeSpaces: mode === 'normalizeSpaces' };
      f.run(`tsv seed ${name} ${mode}`, () => parsePairs(bytes, name, o), (r) => {
        const want = expected[name]?.[mode];
        assert.ok(want, `test/fuzz/tsv/expect.json has no ${mode} entry for ${name}`);
        if (r.ok) {
          assert.equal(want.error, undefined, `expected the error ${want.error}`);
          assert.equal(r.value.pairs.length, want.kept);
          if (want.badLines !== undefined) assert.equal(r.value.stats.badLines, want.badLines);
        } else {
          assert.equal((r.error as Error).message, want.error);
        }
        return judgeCorpus(name, o)(r);
      });
    }
  }
  f.phase('crafted seeds');
  // Big inputs.
  const MB = 2 ** 20;
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
  const randomBytes = (n: number): Uint8Array => {
    const words = new Uint32Array(n / 4);
    for (let i = 0; i < words.length; i++) words[i] = f.rand() * 2 ** 32;
    return new Uint8Array(words.buffer);
  };
  const big: [string, () => string | Uint8Array, ReadPairsOptions][] = [
    ['a 10 MB line', () => enc('a'.repeat(10 * MB) + '\tb\n'), {}],
    ['a 10 MB line over maxSourceLength', () => enc('a'.repeat(10 * MB) + '\tb\n'), { maxSourceLength: 200 }],
    ['a 10 MB line without a TAB', () => enc('a'.repeat(10 * MB) + '\n'), {}],
    ['10 MB of random bytes', () => randomBytes(10 * MB), { skipBadLines: true }],
    ['10 MB of random bytes, strict', () => randomBytes(10 * MB), {}],
    ['a million TABs before the target', () => enc('a' + '\t'.repeat(1_000_000) + 'b\n'), {}],
    ['a million TABs after the pair', () => enc('a\tb' + '\t'.repeat(1_000_000) + '\n'), {}],
    ['a million TAB-only lines', () => enc('\t\n'.repeat(1_000_000)), { skipBadLines: true }],
    ['CR-only line endings, 200k lines', () => enc('Go.\tVa !\r'.repeat(200_000)), { skipBadLines: true }],
    ['a million empty lines', () => enc('\n'.repeat(1_000_000)), {}],
    ['200k valid lines', () => enc('Go.\tVa !\n'.repeat(200_000)), {}],
    ['a million lone surrogates (string input)', () => 'a\t' + '\ud800'.repeat(1_000_000), {}],
    ['UTF-16 text of a whole corpus', () => Uint8Array.from(Buffer.from('\ufeff' + 'Go.\tVa !\n'.repeat(10_000), 'utf16le')), {}],
    ['BOM-less UTF-16 text', () => Uint8Array.from(Buffer.from('Go.\tVa !\n'.repeat(10_000), 'utf16le')), { skipBadLines: true }],
  ];
  for (const [label, make, o] of big) {
    const input = make(); // generating the input is not part of the case's time
    f.run(`tsv big: ${label}`, () => parsePairs(input, 'big.tsv', o), judgeCorpus('big.tsv', o));
  }
  f.phase('big inputs');
  // Seeded mutations of the seeds, read as bytes or (30%) as an already-decoded string with surrogate damage.
  const pool = seeds.map((s) => s.bytes);
  for (let i = 0; i < MUTATIONS.tsv; i++) {
    const seed = f.pick(seeds);
    const bytes = mutateBytes(f, seed.bytes, pool);
    const o = randomReadOptions(f);
    let input: string | Uint8Array = bytes;
    if (f.rand() < 0.3) {
      const chars = Array.from(new TextDecoder().decode(bytes));
      for (let k = f.int(4); k > 0; k--) chars.splice(f.int(chars.length + 1), 0, String.fromCharCode(0xd800 + f.int(0x800)));
      input = chars.join('');
    }
    f.run(`tsv mutation ${i} of ${seed.name} ${JSON.stringify(o)}`, () => parsePairs(input, 'fuzz.tsv', o), judgeCorpus('fuzz.tsv', o));
  }
  f.phase('mutations');
}

// ---------------------------------------------------------------- bundle and checkpoint loaders

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Files = Map<string, Buffer>;

interface Base {
  /** Files relative to the directory that is loaded (a bundle dir, or an --out dir holding checkpoints/). */
  files: Files;
  kind: 'bundle' | 'checkpoint';
  /** Where the bundle's own files are, relative to the loaded directory. */
  bundlePath: string;
}

function readTree(dir: string, prefix = ''): Files {
  const out: Files = new Map();
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) for (const [k, v] of readTree(dir, rel)) out.set(k, v);
    else out.set(rel, readFileSync(join(dir, rel)));
  }
  return out;
}

function writeTree(dir: string, files: Files): void {
  rmSync(dir, { recursive: true, force: true });
  for (const [rel, data] of files) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), data);
  }
}

/** Deeply nested JSON cannot go through JSON.stringify (it recurses): a marker string is spliced into the text instead. */
const DEEP = '\u0000deep:';

function stringify(doc: Json): Buffer {
  const text = JSON.stringify(doc).replace(/"\\u0000deep:(\d+)"/g, (_, n: string) => '['.repeat(Number(n)) + ']'.repeat(Number(n)));
  return Buffer.from(text, 'utf8');
}

/** Generated values for seeds: {"$deep": n}, {"$repeat": [v, n]}, {"$string": n}, {"$overlapping": n} (weights.json only). */
function expand(v: Json, ctx: { index?: { byteLength: number; crc32: number } }): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  if ('$deep' in v) return `${DEEP}${v.$deep as number}`;
  if ('$repeat' in v) {
    const [value, n] = v.$repeat as [Json, number];
    return new Array(n).fill(value);
  }
  if ('$string' in v) return 'x'.repeat(v.$string as number);
  if ('$overlapping' in v) {
    const idx = ctx.index as { byteLength: number; crc32: number };
    return Array.from({ length: v.$overlapping as number }, (_, i) => ({ name: `t${i}`, shape: [idx.byteLength / 4], offset: 0, length: idx.byteLength / 4, crc32: idx.crc32 }));
  }
  return v;
}

function setPath(doc: Json, path: (string | number | { $append: true })[], value: Json | undefined): Json {
  if (path.length === 0) return value === undefined ? null : value;
  let node = doc as Record<string, Json> | Json[];
  for (let i = 0; i < path.length - 1; i++) node = (node as Record<string, Json>)[path[i] as string] as Record<string, Json>;
  const last = path[path.length - 1];
  if (typeof last === 'object') (node as Json[]).push(value as Json);
  else if (value === undefined) delete (node as Record<string, Json>)[last as string];
  else (node as Record<string, Json>)[last as string] = value;
  return doc;
}

interface BundleSeed {
  about: string;
  /** The base edited (default: the char bundle, or the checkpoint for checkpoint files). */
  base?: string;
  file: string;
  set?: [(string | number | { $append: true })[], Json][];
  delete?: (string | number)[][];
  raw?: string;
  remove?: boolean;
  truncate?: number;
  append?: number;
  expect: string;
}

const CHECKPOINT_FILES = new Set(['trainer.json', 'optimizer.json', 'optimizer.bin', 'LATEST']);

/** The file a seed or mutation targets, as a path in the case's tree. */
function resolveTarget(base: Base, file: string): string {
  if (file === 'LATEST') return 'checkpoints/LATEST';
  const prefix = base.bundlePath ? `${base.bundlePath}/` : '';
  if (file === 'blob') return [...base.files.keys()].find((k) => k.startsWith(prefix) && /weights-[0-9a-f]{8}\.bin$/.test(k)) as string;
  return prefix + file;
}

function applySeed(base: Base, seed: BundleSeed): Files {
  const files = new Map(base.files);
  const target = resolveTarget(base, seed.file);
  if (seed.remove) {
    files.delete(target);
    return files;
  }
  if (seed.raw !== undefined) {
    files.set(target, Buffer.from(seed.raw, 'utf8'));
    return files;
  }
  const data = files.get(target) as Buffer;
  if (seed.truncate !== undefined) {
    files.set(target, data.subarray(0, seed.truncate < 0 ? data.length + seed.truncate : seed.truncate));
    return files;
  }
  if (seed.append !== undefined) {
    files.set(target, Buffer.concat([data, Buffer.alloc(seed.append, 0x41)]));
    return files;
  }
  let doc = JSON.parse(data.toString('utf8')) as Json;
  const ctx = { index: seed.file === 'weights.json' ? (doc as { byteLength: number; crc32: number }) : undefined };
  for (const [path, value] of seed.set ?? []) doc = setPath(doc, path, expand(value, ctx));
  for (const path of seed.delete ?? []) doc = setPath(doc, path, undefined);
  files.set(target, stringify(doc));
  return files;
}

const ABSURD: (() => Json)[] = [
  () => 1e9, () => -1, () => 0, () => -0.5, () => 2 ** 53, () => 2 ** 53 + 2, () => 1e308, () => -1e308, () => 3.5, () => 4294967296,
  () => '', () => 'x', () => '💥', () => '\ud800', () => '../../etc/passwd', () => null, () => true, () => false, () => [], () => ({}),
  () => [1e9, 1e9], () => [-1], () => ['a', 1, null], () => ({ a: { b: {} } }), () => expand({ $deep: 100_000 }, {}),
  () => new Array(100_000).fill(0), () => 'x'.repeat(1_000_000), () => ({ __proto__: { polluted: true } } as unknown as Json),
];

/** A random node of a JSON document, as a path (the root is []). */
function randomPath(f: Fuzz, doc: Json): (string | number)[] {
  const path: (string | number)[] = [];
  let node = doc;
  while (typeof node === 'object' && node !== null && f.rand() < 0.75) {
    const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    if (keys.length === 0) break;
    // Arrays of numbers (shapes) and tensor lists are where the danger is: favour entering them.
    const key = f.pick(keys);
    path.push(key);
    node = (node as Record<string, Json>)[key as string];
  }
  return path;
}

function mutateJson(f: Fuzz, text: string): Buffer {
  let doc = JSON.parse(text) as Json;
  for (let k = 1 + f.int(3); k > 0; k--) {
    const path = randomPath(f, doc);
    const r = f.rand();
    if (r < 0.7 || path.length === 0) doc = setPath(doc, path, f.pick(ABSURD)());
    else if (r < 0.85) doc = setPath(doc, path, undefined); // delete
    else {
      // Numbers nudged rather than replaced: off-by-one shapes, offsets and sizes.
      const parent = path.slice(0, -1);
      let node = doc;
      for (const p of path) node = (node as Record<string, Json>)[p as string];
      if (typeof node === 'number') doc = setPath(doc, path, node + f.pick([-4, -1, 1, 4, 2 ** 31, -(2 ** 31)]));
      else if (Array.isArray(node) && node.length) doc = setPath(doc, path, [...node, node[0]]);
      void parent;
    }
  }
  return stringify(doc);
}

/**
 * A blob the loader reads and checks against its index (byte length and
 * CRC-32): the weights blob of the bundle that is loaded and, in a
 * checkpoint, its optimizer slots. Any change to one must be an error.
 */
function isCheckedBlob(base: Base, path: string): boolean {
  const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
  const name = path.slice(path.lastIndexOf('/') + 1);
  return dir === base.bundlePath && (/^weights-[0-9a-f]{8}\.bin$/.test(name) || name === 'optimizer.bin');
}
/** What the loader says about a blob that does not match its index. */
const BLOB_MISMATCH = 'checksum mismatch|bytes but the index says';

/** A mutation; `expect` is set when its outcome is known (a changed checked blob must not load). */
function mutateFiles(f: Fuzz, base: Base): { files: Files; what: string; expect?: string } {
  const files = new Map(base.files);
  const names = [...files.keys()];
  const jsonNames = names.filter((n) => n.endsWith('.json'));
  const r = f.rand();
  if (r < 0.05) {
    const victim = f.pick(names);
    files.delete(victim);
    return { files, what: `removed ${victim}` };
  }
  const favoured = names.filter((n) => /weights\.json$|config\.json$|vocab\.json$|weights-.*\.bin$/.test(n) || CHECKPOINT_FILES.has(n.split('/').pop() as string));
  const target = f.rand() < 0.8 ? f.pick(favoured) : f.pick(names);
  const data = files.get(target) as Buffer;
  if (jsonNames.includes(target) && f.rand() < 0.7) {
    try {
      files.set(target, mutateJson(f, data.toString('utf8')));
      return { files, what: `json edit of ${target}` };
    } catch {
      // not JSON (already damaged): fall through to byte edits
    }
  }
  const bytes = Buffer.from(data);
  const op = f.int(4);
  if (op === 0) files.set(target, bytes.subarray(0, f.int(bytes.length + 1)));
  else if (op === 1) {
    for (let k = 1 + f.int(8); k > 0 && bytes.length; k--) bytes[f.int(bytes.length)] ^= 1 << f.int(8);
    files.set(target, bytes);
  } else if (op === 2) files.set(target, Buffer.concat([bytes, Buffer.from(Array.from({ length: 1 + f.int(64) }, () => f.int(256)))]));
  else files.set(target, Buffer.from(mutateBytes(f, bytes, [bytes])));
  const changed = !data.equals(files.get(target) as Buffer);
  const expect = changed && isCheckedBlob(base, target) ? BLOB_MISMATCH : undefined;
  return { files, what: `byte edit ${op} of ${target}${expect ? ' (checked blob changed)' : ''}`, expect };
}

function checkLoaded(b: LoadedBundle): void {
  let r: Translation[];
  try {
    r = b.translator.translate(['I am happy.', '', 'Ω'], { maxLength: 12 });
  } catch (err) {
    if (err instanceof InputTooLongError) return; // a (valid) tiny maxSourceLength
    throw err;
  }
  assert.equal(r.length, 3);
  for (const t of r) assert.equal(typeof t.text, 'string');
  assert.equal(r[1].text, '');
}

/** Loads the case: the contract is a working bundle/checkpoint (or, without LATEST, none) or a BundleError naming the directory. */
function loadCase(base: Base, dir: string, files: Files): () => LoadedBundle | null {
  writeTree(dir, files); // preparing the files is not part of the case's time
  return () => (base.kind === 'checkpoint' ? (loadLatestCheckpoint(dir)?.bundle ?? null) : loadBundle(dir));
}

function judgeLoad(dir: string, files: Files, expect?: string) {
  return (r: { ok: true; value: LoadedBundle | null } | { ok: false; error: unknown }): string => {
    if (r.ok) {
      assert.ok(expect === undefined || expect === 'ok', `loaded, but expected an error matching /${expect}/`);
      if (r.value === null) {
        assert.ok(!files.has('checkpoints/LATEST'), 'LATEST exists, so a checkpoint or an error');
        return 'no checkpoint';
      }
      checkLoaded(r.value);
      return 'loaded';
    }
    const err = r.error;
    assert.ok(err instanceof BundleError, `unexpected ${(err as Error)?.name}: ${(err as Error)?.message?.slice(0, 300)}\n${(err as Error)?.stack}`);
    assert.ok(err.message.includes(dir), `the message names the bundle: ${err.message.slice(0, 300)}`);
    if (expect !== undefined) assert.match(err.message, new RegExp(expect), err.message.slice(0, 300));
    return 'BundleError';
  };
}

function bundleParts(setup: Pick<ReturnType<typeof tinySetup>, 'vocabs'> & { model: BundleParts['model'] }): BundleParts {
  return {
    config: {
      format: 's2s-model', version: 1, model: setup.model.config,
      tokenizers: { source: { level: 'char' }, target: { level: 'char' } },
      data: { ...PRESETS.seed.data, maxSourceLength: 200, maxTargetLength: 40, corpus: BUILTIN_CORPUS },
      train: { ...PRESETS.seed.train, epochs: 1, batchSize: 8 },
      createdBy: 'fuzz',
    },
    vocabs: setup.vocabs, model: setup.model, history: [],
  };
}

async function bundleSuite(f: Fuzz): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 's2s-fuzz-'));
  try {
    // Bases: a char bundle with attention, a BPE bundle, a checkpoint with Adam slots, two Transformer bundles and a Transformer checkpoint.
    const setup = tinySetup(12, { bidirectional: true, attention: 'additive', embeddingDim: 8, latentDim: 16 });
    saveBundle(join(work, 'char'), bundleParts(setup));
    const bpe = prepareData(BUILTIN_CORPUS, { ...PRESETS.seed.data, samples: 150, level: 'bpe', bpeMerges: 40 });
    const bpeModel = new Seq2Seq({ latentDim: 12, srcVocabSize: bpe.vocabs.source.size, tgtVocabSize: bpe.vocabs.target.size }, 1);
    const bpeParts = bundleParts(setup);
    saveBundle(join(work, 'bpe'), {
      ...bpeParts, model: bpeModel, vocabs: bpe.vocabs,
      config: { ...bpeParts.config, model: bpeModel.config, tokenizers: { source: bpe.tokenizers.source.toJSON(), target: bpe.tokenizers.target.toJSON() } },
    });
    saveBundle(join(work, 'transformer'), transformerBundleParts(tinyTransformer(12, { tieEmbeddings: true, positions: 'learned', layers: 2 })));
    const trainer = new Trainer(setup.model, { train: setup.examples, validation: [] }, { epochs: 1, batchSize: 4, optimizer: 'adam' });
    await trainer.run();
    saveCheckpoint(join(work, 'ckpt'), bundleParts(setup), trainer.snapshot());
    const latest = readFileSync(join(checkpointsDir(join(work, 'ckpt')), 'LATEST'), 'utf8').trim();
    // A Transformer (post-LN, learned positions, GELU, 2 + 1 blocks) bundle, and a checkpoint of one with Adam slots.
    const tf = tinyTransformerSetup(12, { postNorm: true, positions: 'learned', maxPositions: 256, activation: 'gelu', encoderLayers: 2 });
    saveBundle(join(work, 'tf'), bundleParts(tf));
    const tfTrainer = new Trainer(tf.model, { train: tf.examples, validation: [] }, { epochs: 1, batchSize: 4, optimizer: 'adam' });
    await tfTrainer.run();
    saveCheckpoint(join(work, 'tfckpt'), bundleParts(tf), tfTrainer.snapshot());
    const tfLatest = readFileSync(join(checkpointsDir(join(work, 'tfckpt')), 'LATEST'), 'utf8').trim();
    // int8 bundles (s2s quantize) of the char bundle and of the tied Transformer: version 2, int8 values and scales in the blob.
    quantizeBundle(join(work, 'char'), join(work, 'int8'));
    quantizeBundle(join(work, 'transformer'), join(work, 'tf8'));
    const bases: Record<string, Base> = {
      char: { files: readTree(join(work, 'char')), kind: 'bundle', bundlePath: '' },
      bpe: { files: readTree(join(work, 'bpe')), kind: 'bundle', bundlePath: '' },
      transformer: { files: readTree(join(work, 'transformer')), kind: 'bundle', bundlePath: '' },
      ckpt: { files: readTree(join(work, 'ckpt')), kind: 'checkpoint', bundlePath: `checkpoints/${latest}` },
      tf: { files: readTree(join(work, 'tf')), kind: 'bundle', bundlePath: '' },
      tfckpt: { files: readTree(join(work, 'tfckpt')), kind: 'checkpoint', bundlePath: `checkpoints/${tfLatest}` },
      int8: { files: readTree(join(work, 'int8')), kind: 'bundle', bundlePath: '' },
      tf8: { files: readTree(join(work, 'tf8')), kind: 'bundle', bundlePath: '' },
    };
    const caseDir = join(work, 'case');
    f.phase('setup');
    for (const [name, base] of Object.entries(bases)) f.run(`bundle base ${name} loads`, loadCase(base, caseDir, base.files), judgeLoad(caseDir, base.files, 'ok'));

    // Crafted seeds, each with the error its message must match ("ok": loads).
    const seedDir = join(seedsDir, 'bundle');
    for (const file of readdirSync(seedDir).filter((n) => n.endsWith('.json')).sort()) {
      const seed = JSON.parse(readFileSync(join(seedDir, file), 'utf8')) as BundleSeed;
      const base = seed.base ? bases[seed.base] : CHECKPOINT_FILES.has(seed.file) ? bases.ckpt : bases.char;
      const files = applySeed(base, seed);
      f.run(`bundle seed ${file}: ${seed.about}`, loadCase(base, caseDir, files), judgeLoad(caseDir, files, seed.expect));
    }

    f.phase('crafted seeds');
    // Seeded mutations of every file of every base.
    const baseNames = Object.keys(bases);
    for (let i = 0; i < MUTATIONS.bundle; i++) {
      const baseName = baseNames[i % baseNames.length];
      const base = bases[baseName];
      const { files, what, expect } = mutateFiles(f, base);
      const judge = judgeLoad(caseDir, files, expect);
      f.run(`bundle mutation ${i} of ${baseName}: ${what}`, loadCase(base, caseDir, files), expect ? (r) => `${judge(r)} (blob edit detected)` : judge);
    }
    f.phase('mutations');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- translate path

const CHAR_RANGES: [number, number][] = [
  [0x20, 0x7e], [0x20, 0x7e], [0x20, 0x7e], [0xa0, 0xff], [0x300, 0x36f], [0x4e00, 0x4fff], [0x1f600, 0x1f64f],
  [0xd800, 0xdfff], [0x0, 0x1f], [0x2000, 0x206f], [0xfe00, 0xffff], [0x10000, 0x10ffff],
];
const KNOWN_WORDS = ['I', 'am', 'happy', 'the', 'cat', 'is', 'here', '.', '!', '?', "don't", 'We', 'see', 'dog', 'They', 'eat', 'bread'];

function randomText(f: Fuzz): string {
  const kind = f.int(10);
  if (kind === 0) return '';
  if (kind === 1) return ' '.repeat(f.int(5)) + (f.rand() < 0.5 ? '\t' : '') + '\u00a0'.repeat(f.int(2));
  if (kind <= 4) return Array.from({ length: 1 + f.int(12) }, () => f.pick(KNOWN_WORDS)).join(f.pick([' ', ' ', '  ', '\t', '']));
  const n = f.int(kind === 9 ? 200 : 40);
  let s = '';
  for (let i = 0; i < n; i++) {
    const [lo, hi] = f.pick(CHAR_RANGES);
    s += String.fromCodePoint(lo + f.int(hi - lo + 1));
  }
  return s;
}

/** The translate contract: valid translations, or InputTooLongError naming the first input over the limit. */
function judgeTranslate(inputs: string[], options: TranslateOptions, limit: number) {
  return (r: { ok: true; value: Translation[] } | { ok: false; error: unknown }): string => {
    const tooLong = inputs.findIndex((t) => codePointLength(t.normalize('NFC')) > (options.maxInputLength ?? limit));
    if (!r.ok) {
      const err = r.error;
      assert.ok(err instanceof InputTooLongError, `unexpected ${(err as Error)?.name}: ${(err as Error)?.message}\n${(err as Error)?.stack}`);
      assert.equal(err.index, tooLong, err.message);
      assert.match(err.message, /^input \d+ is \d+ characters long; this model accepts at most \d+/);
      return 'InputTooLongError';
    }
    const results = r.value;
    assert.equal(tooLong, -1, `input ${tooLong} is over the limit but was translated`);
    assert.equal(results.length, inputs.length);
    results.forEach((r, i) => {
    assert.equal(r.source, inputs[i]);
    assert.equal(typeof r.text, 'string');
    assert.ok(!LONE_SURROGATE.test(r.text), 'well-formed output');
    assert.equal(typeof r.finished, 'boolean');
    assert.ok(typeof r.logProb === 'number' && !Number.isNaN(r.logProb) && r.logProb <= 1e-6, `logProb ${r.logProb}`);
    assert.ok(Array.isArray(r.unknown) && r.unknown.every((u) => typeof u === 'string'));
    if (inputs[i].trim() === '') {
      assert.equal(r.text, '', 'empty or blank input → empty translation');
      assert.equal(r.finished, true);
    }
    if ((options.nBest ?? 1) > 1) {
      assert.ok(r.alternatives && r.alternatives.length >= 1 && r.alternatives.length <= (options.nBest as number));
      assert.equal(r.alternatives[0].text, r.text);
    }
    });
    return results.some((t) => t.unknown.length) ? 'translated with unknowns' : 'translated';
  };
}

function translateCase(f: Fuzz, label: string, tr: Translator, inputs: string[], options: TranslateOptions, limit: number): void {
  f.run(label, () => tr.translate(inputs, options), judgeTranslate(inputs, options, limit));
}

async function translateSuite(f: Fuzz): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 's2s-fuzz-'));
  try {
    const setup = tinySetup(30, { bidirectional: true, attention: 'additive', embeddingDim: 8, latentDim: 16 });
    saveBundle(join(work, 'char'), bundleParts(setup));
    const char = loadBundle(join(work, 'char')).translator;
    const make = (level: 'word' | 'bpe'): Translator => {
      const d = prepareData(BUILTIN_CORPUS, { ...PRESETS.seed.data, samples: 300, level, bpeMerges: 60 });
      const model = new Seq2Seq({ latentDim: 16, attention: 'general', srcVocabSize: d.vocabs.source.size, tgtVocabSize: d.vocabs.target.size }, 2);
      return new Translator({ model, sourceVocab: d.vocabs.source, targetVocab: d.vocabs.target, sourceTokenizer: d.tokenizers.source, targetTokenizer: d.tokenizers.target, maxOutputLength: 30, maxInputLength: 200 });
    };
    // A Transformer bundle (sinusoidal positions, char level).
    const tf = tinyTransformerSetup(30);
    saveBundle(join(work, 'tf'), bundleParts(tf));
    const tfBundle = loadBundle(join(work, 'tf')).translator;
    const bpeShared = prepareData(BUILTIN_CORPUS, { ...PRESETS.seed.data, samples: 300, level: 'bpe', bpeMerges: 60 });
    // A Transformer with learned positions: inputs longer than its 64 positions are still translated.
    const transformer = new Transformer({ arch: 'transformer', modelDim: 8, heads: 2, ffDim: 16, layers: 1, positions: 'learned', maxPositions: 64, srcVocabSize: bpeShared.vocabs.source.size, tgtVocabSize: bpeShared.vocabs.target.size }, 3);
    const transformerTr = new Translator({ model: transformer, sourceVocab: bpeShared.vocabs.source, targetVocab: bpeShared.vocabs.target, sourceTokenizer: bpeShared.tokenizers.source, targetTokenizer: bpeShared.tokenizers.target, maxOutputLength: 30, maxInputLength: 200 });
    const translators: [string, Translator][] = [['char', char], ['word', make('word')], ['bpe', make('bpe')], ['transformer', transformerTr], ['transformer bundle', tfBundle]];
    const LIMIT = 200; // the bundles' maxSourceLength
    f.phase('setup');

    // Defined behaviour, case by case.
    const exact = (want: [string, boolean, number, string[]][]) => (r: { ok: true; value: Translation[] } | { ok: false; error: unknown }): string => {
      if (!r.ok) throw r.error;
      assert.deepEqual(r.value.map((t) => [t.text, t.finished, t.logProb, t.unknown]), want);
      return r.value.some((t) => t.unknown.length) ? 'translated with unknowns' : 'translated';
    };
    f.run('translate: empty and blank inputs give empty translations without decoding', () => char.translate(['', '   ', '\t', '\u3000']),
      exact([['', true, 0, []], ['', true, 0, []], ['', true, 0, []], ['', true, 0, []]]));
    f.run('translate: an input of only unknown characters is translated, its unknowns reported', () => char.translate(['ΩЖ€']),
      (r) => {
        assert.ok(r.ok);
        assert.deepEqual(r.value[0].unknown, ['Ω', 'Ж', '€']);
        return 'translated with unknowns';
      });
    f.run('translate: a lone surrogate is an unknown character, not an error', () => char.translate(['a\ud800b']),
      (r) => {
        assert.ok(r.ok);
        assert.deepEqual(r.value[0].unknown, ['\ud800']);
        return 'translated with unknowns';
      });
    const huge = 'a'.repeat(100_000);
    for (const [name, tr] of translators) {
      translateCase(f, `translate ${name}: a 100k-character input is rejected at once`, tr, [huge], {}, LIMIT);
      translateCase(f, `translate ${name}: a 100k-character input in a batch names its index`, tr, ['I am happy.', '', 'The cat.', huge, 'x'.repeat(300)], {}, LIMIT);
      translateCase(f, `translate ${name}: exactly the limit is accepted`, tr, ['a'.repeat(LIMIT)], { maxLength: 5 }, LIMIT);
      translateCase(f, `translate ${name}: one over the limit is rejected`, tr, ['a'.repeat(LIMIT + 1)], {}, LIMIT);
      translateCase(f, `translate ${name}: the limit counts code points, not UTF-16 units`, tr, ['😀'.repeat(LIMIT)], { maxLength: 5 }, LIMIT);
      translateCase(f, `translate ${name}: a raised maxInputLength admits a 3000-character input`, tr, ['I am happy. '.repeat(250)], { maxInputLength: 5000, maxLength: 10 }, LIMIT);
    }
    f.phase('defined behaviour');
    // Crafted inputs, alone and together, greedy and beam.
    const crafted = JSON.parse(readFileSync(join(seedsDir, 'translate', 'inputs.json'), 'utf8')) as string[];
    for (const [name, tr] of translators) {
      crafted.forEach((text, i) => translateCase(f, `translate ${name}: crafted input ${i} ${JSON.stringify(text).slice(0, 40)}`, tr, [text], {}, LIMIT));
      translateCase(f, `translate ${name}: all crafted inputs in one batch`, tr, crafted, {}, LIMIT);
      translateCase(f, `translate ${name}: all crafted inputs, beam 3, 2-best, attention`, tr, crafted, { beam: 3, nBest: 2, attention: true, maxLength: 20 }, LIMIT);
    }
    f.phase('crafted seeds');
    // Seeded random batches and options.
    for (let i = 0; i < MUTATIONS.translate; i++) {
      const [name, tr] = translators[i % translators.length];
      const inputs = Array.from({ length: 1 + f.int(6) }, () => randomText(f));
      if (f.rand() < 0.05) inputs[f.int(inputs.length)] = 'b'.repeat(LIMIT + 1 + f.int(1000));
      const beam = f.rand() < 0.25 ? 2 + f.int(3) : 1;
      const options: TranslateOptions = {
        batchSize: 1 + f.int(6), maxLength: 1 + f.int(30), beam, nBest: beam > 1 ? 1 + f.int(beam) : 1, attention: f.rand() < 0.2,
      };
      translateCase(f, `translate ${name} random ${i} ${JSON.stringify(options)} ${JSON.stringify(inputs).slice(0, 120)}`, tr, inputs, options, LIMIT);
    }
    f.phase('mutations');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- worker and tests

const SUITES: Record<string, { seed: number; run: (f: Fuzz) => void | Promise<void> }> = {
  tsv: { seed: FUZZ_SEED, run: tsvSuite },
  bundle: { seed: FUZZ_SEED + 1, run: bundleSuite },
  translate: { seed: FUZZ_SEED + 2, run: translateSuite },
};

const worker = process.env.S2S_FUZZ_WORKER;
if (worker) {
  const suite = SUITES[worker];
  const f = new Fuzz(worker, suite.seed);
  await suite.run(f);
  process.stdout.write(JSON.stringify(f.report()) + '\n');
} else {
  for (const name of Object.keys(SUITES)) {
    test(`fuzz ${name}: every case is a valid result or a known error, within a ${HEAP_LIMIT_MB} MB heap`, () => {
      const r = spawnSync(process.execPath, [`--max-old-space-size=${HEAP_LIMIT_MB}`, thisFile], {
        env: { ...process.env, S2S_FUZZ_WORKER: name, S2S_KERNELS: process.env.S2S_KERNELS ?? 'js' },
        encoding: 'utf8', timeout: HANG_GUARD_MS, maxBuffer: 256 * 2 ** 20,
      });
      const lastCase = r.stderr.trimEnd().split('\n').pop();
      assert.equal(r.status, 0, `the ${name} fuzz worker died (${r.signal ?? r.status}${r.error ? `, ${r.error.message}` : ''}) during: ${lastCase}\n${r.stderr.slice(-3000)}`);
      const report = JSON.parse(r.stdout.trim().split('\n').pop() as string) as Report;
      console.log(`# fuzz ${name}: ${report.cases} cases in ${report.seconds} s, outcomes ${JSON.stringify(report.outcomes)}, slowest ${report.slowest.ms} ms (${report.slowest.label.slice(0, 80)}), peak array buffers ${report.peakArrayBuffersMB} MB, max RSS ${report.maxRssMB} MB`);
      assert.deepEqual(report.failures, [], `${report.failures.length} failing cases`);
      // Every mutation of a checked blob was an error (judgeLoad), and there were enough of them to mean something.
      if (name === 'bundle') assert.ok((report.outcomes['BundleError (blob edit detected)'] ?? 0) >= 20, `blob edits: ${JSON.stringify(report.outcomes)}`);
      // Speed is reported, not asserted: on a loaded machine any time limit fails for reasons of its own.
      if (report.slowest.ms >= CASE_LIMIT_MS) console.log(`# fuzz ${name}: note: the slowest case took ${report.slowest.ms} ms (budget ${CASE_LIMIT_MS} ms on an idle machine)`);
      assert.ok(report.peakArrayBuffersMB < 256, `array buffers peaked at ${report.peakArrayBuffersMB} MB`);
      assert.ok(report.maxRssMB < 768, `RSS peaked at ${report.maxRssMB} MB`);
    });
  }
}

