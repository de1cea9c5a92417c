/**
 * `exportOnnx` / `s2s export-onnx` around the graphs: the files and their
 * README, tokenizer.json + vocab.json reproducing s2s's ids for char, word
 * and BPE models (a tokenizer written here from tokenizer.json's data and
 * the README's algorithm), the CLI command and its errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCorpus } from '../src/data/synthetic.js';
import { CharTokenizer } from '../src/data/char.js';
import { WordTokenizer } from '../src/data/word.js';
import { BpeTokenizer, learnBpe } from '../src/data/bpe.js';
import { Vocab } from '../src/data/vocab.js';
import type { Tokenizer } from '../src/data/tokenizer.js';
import { Seq2Seq } from '../src/model/seq2seq.js';
import { saveBundle } from '../src/bundle/bundle.js';
import * as s2s from '../src/index.js';
import { exportOnnx, OnnxExportError } from '../src/onnx/export.js';
import type { TokenizerJson, VocabJson } from '../src/onnx/tokenizer-json.js';
import type { OnnxContract } from '../src/onnx/contract.js';
import { bundlePartsFor } from './helpers/tiny.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function partsWith(tokenizer: () => Tokenizer) {
  const pairs = generateCorpus({ size: 200, seed: 3, maxSourceLength: 40 });
  const tok = { source: tokenizer(), target: tokenizer() };
  const vocabs = {
    source: Vocab.build(pairs.map((p) => tok.source.tokenize(p.source))),
    target: Vocab.build(pairs.map((p) => tok.target.tokenize(p.target))),
  };
  const model = new Seq2Seq({ latentDim: 8, embeddingDim: 4, srcVocabSize: vocabs.source.size, tgtVocabSize: vocabs.target.size }, 1);
  const parts = bundlePartsFor({ vocabs, model });
  parts.config.tokenizers = { source: tok.source.toJSON(), target: tok.target.toJSON() };
  return { parts, tok, vocabs, pairs };
}

/** The README's word segmentation (step 1), from tokenizer.json's rules only: the cores of a text. */
function cores(rules: TokenizerJson['word'], text: string): string[] {
  const piece = new RegExp(rules.piece, 'uy');
  const elision = new RegExp(rules.elisionPrefix, 'u');
  const contraction = new RegExp(rules.contractionSuffix, rules.contractionSuffixFlags);
  const isElision = new RegExp(rules.isElision, 'u');
  const out: string[] = [];
  for (let pos = 0; pos < text.length;) {
    piece.lastIndex = pos;
    const m = piece.exec(text) as RegExpExecArray;
    pos += m[0].length;
    if (m[1] !== undefined) continue;
    if (m[3] !== undefined) {
      out.push(m[3]);
      continue;
    }
    let rest = m[2];
    for (let e = elision.exec(rest); e && (rules.elisions as readonly string[]).includes(e[1].toLowerCase()); e = elision.exec(rest)) {
      out.push(e[0]);
      rest = rest.slice(e[0].length);
    }
    const c = contraction.exec(rest);
    if (c && !isElision.test(c[1])) out.push(c[1], c[2]);
    else out.push(rest);
  }
  return out;
}

/** The README's BPE over word tokens, from tokenizer.json's merges only. */
function bpe(side: Extract<TokenizerJson['source'], { level: 'bpe' }>, words: string[]): string[] {
  const rank = new Map(side.merges.map(([a, b], i) => [`${a}\u0000${b}`, i]));
  const out: string[] = [];
  for (const w of words) {
    let syms = Array.from(w);
    syms[syms.length - 1] += side.endOfWord;
    for (;;) {
      let best = Infinity, at = -1;
      for (let i = 0; i + 1 < syms.length; i++) {
        const r = rank.get(`${syms[i]}\u0000${syms[i + 1]}`);
        if (r !== undefined && r < best) [best, at] = [r, i];
      }
      if (at < 0) break;
      const [l, r] = [syms[at], syms[at + 1]];
      const next: string[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === l && syms[i + 1] === r) next.push(syms[i] + syms[++i]);
        else next.push(syms[i]);
      }
      syms = next;
    }
    syms[syms.length - 1] = syms[syms.length - 1].slice(0, -side.endOfWord.length);
    syms.forEach((p, i) => out.push(i < syms.length - 1 ? p + side.continuation : p));
  }
  return out;
}

const SAMPLES = ['I am happy.', 'Is the dog hungry?', "Don't go, I'm tired!", "Qu'est-ce que c'est?", 'Le chat « noir » mange.', 'naïve café 3.5 km'];

for (const level of ['char', 'word', 'bpe'] as const) {
  test(`tokenizer.json + vocab.json reproduce s2s's ids: ${level}`, () => {
    const words = new WordTokenizer();
    const { parts, tok, vocabs, pairs } = partsWith(() =>
      level === 'char' ? new CharTokenizer() : level === 'word' ? new WordTokenizer() : new BpeTokenizer(learnBpe(generateCorpus({ size: 200, seed: 3, maxSourceLength: 40 }).map((p) => p.source), { merges: 60 })));
    const dir = mkdtempSync(join(tmpdir(), 's2s-onnx-tok-'));
    try {
      exportOnnx(parts, dir);
      const tj = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as TokenizerJson;
      const vj = JSON.parse(readFileSync(join(dir, 'vocab.json'), 'utf8')) as VocabJson;
      assert.equal(tj.source.level, level);
      const ids = new Map(vj.source.map((t, i) => [t, i]));
      for (const text of [...SAMPLES, ...pairs.slice(0, 20).map((p) => p.source)]) {
        const nfc = text.normalize(tj.normalization);
        let tokens: string[];
        if (tj.source.level === 'char') tokens = Array.from(nfc);
        else {
          // Sentences in the usual spacing conventions carry no spacing codes: word tokens are the cores.
          const wordTokens = cores(tj.word, nfc);
          assert.deepEqual(wordTokens, words.tokenize(nfc), `word tokens of ${text}`);
          tokens = tj.source.level === 'bpe' ? bpe(tj.source, wordTokens) : wordTokens;
        }
        const mine = tokens.map((t) => (ids.has(t) && (ids.get(t) as number) >= 4 ? (ids.get(t) as number) : vj.special.unk));
        assert.deepEqual(mine, Array.from(vocabs.source.encode(tok.source.tokenize(nfc)).ids), `ids of ${text}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('the export folder: model.json, and a README naming every input and output', () => {
  const { parts } = partsWith(() => new CharTokenizer());
  const dir = mkdtempSync(join(tmpdir(), 's2s-onnx-readme-'));
  try {
    const r = s2s.exportOnnx(parts, dir);
    const contract = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as OnnxContract;
    assert.deepEqual(contract, JSON.parse(JSON.stringify(r.contract)));
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    for (const t of [...contract.encoder.inputs, ...contract.encoder.outputs, ...contract.decoder.inputs, ...contract.decoder.outputs]) {
      assert.ok(readme.includes(`| \`${t.name}\` | ${t.type} |`), `README row for ${t.name}`);
    }
    assert.match(readme, /## Tokenizer/);
    assert.throws(() => exportOnnx(join(dir, 'nope'), join(dir, 'out')), (e: unknown) => e instanceof OnnxExportError && /--model .*nope: not a directory/.test((e as Error).message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('s2s export-onnx writes the folder; a bad --model is a clear error', () => {
  const { parts } = partsWith(() => new CharTokenizer());
  const dir = mkdtempSync(join(tmpdir(), 's2s-onnx-cli-'));
  try {
    saveBundle(join(dir, 'model'), parts);
    const run = (args: string[]) => spawnSync(process.execPath, [join(root, 'bin', 's2s.js'), 'export-onnx', ...args], { encoding: 'utf8', cwd: root, timeout: 120_000 });
    const ok = run(['--model', join(dir, 'model'), '--out', join(dir, 'onnx')]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /wrote encoder\.onnx, decoder_step\.onnx, tokenizer\.json, vocab\.json, model\.json, README\.md/);
    mkdirSync(join(dir, 'empty'));
    const bad = run(['--model', join(dir, 'empty'), '--out', join(dir, 'onnx2')]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--model .*empty.*config\.json/);
    writeFileSync(join(dir, 'file'), 'x');
    const badOut = run(['--model', join(dir, 'model'), '--out', join(dir, 'file')]);
    assert.equal(badOut.status, 1);
    assert.match(badOut.stderr, /file: cannot create the output folder|file: not a directory/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
