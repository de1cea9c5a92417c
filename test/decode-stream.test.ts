import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tinySetup, bundlePartsFor } from './helpers/tiny.js';
import { makeTranslator } from '../src/bundle/format.js';
import { translateStream, splitLines, translateLines, LineError, FLUSH, type StreamResult } from '../src/decode/stream.js';

const setup = tinySetup(24, { latentDim: 16 });
const translator = makeTranslator(bundlePartsFor(setup, { maxSourceLength: 40 }));
const utf8 = new TextEncoder();

async function collect(it: AsyncIterable<StreamResult>): Promise<StreamResult[]> {
  const out: StreamResult[] = [];
  for await (const r of it) out.push(r);
  return out;
}

test('a too-long line in the middle: lines 1 and 3 translated as alone, line 2 an error naming it, in input order', async () => {
  const lines = ['I am happy.', 'x'.repeat(500), 'We see the cat.'];
  const results = await collect(translateStream(lines, translator, { chunkSize: 8 }));
  assert.deepEqual(results.map((r) => [r.line, r.ok]), [[1, true], [2, false], [3, true]]);
  const alone = translator.translate([lines[0], lines[2]]);
  assert.equal(results[0].ok && results[0].translation.text, alone[0].text);
  assert.equal(results[2].ok && results[2].translation.text, alone[1].text);
  const bad = results[1];
  assert.ok(!bad.ok);
  assert.equal(bad.error.reason, 'too-long');
  assert.match(bad.error.message, /^line 2: 500 characters long; this model accepts at most 40/);
  assert.equal(bad.source, lines[1]);
});

test("onError 'fail' throws a LineError for the first bad line, after yielding the lines before it", async () => {
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (const r of translateStream(['Go.', 'y'.repeat(100), 'Hi.'], translator, { onError: 'fail' })) seen.push(r.line);
  }, (e: unknown) => e instanceof LineError && e.line === 2 && e.reason === 'too-long');
  assert.deepEqual(seen, [1]);
});

test('invalid UTF-8 bytes and U+FFFD from a lenient decoder are per-line errors; blank lines translate to empty', async () => {
  const raw = [utf8.encode('I am happy.'), new Uint8Array([0x49, 0xff, 0x21]), utf8.encode(''), 'caf\uFFFD', 'Go.'];
  const results = await collect(translateStream(raw, translator, { chunkSize: 2 }));
  assert.deepEqual(results.map((r) => [r.line, r.ok ? 'ok' : r.error.reason]), [[1, 'ok'], [2, 'invalid-utf8'], [3, 'ok'], [4, 'invalid-utf8'], [5, 'ok']]);
  assert.equal(results[2].ok && results[2].translation.text, '');
  assert.match((results[1] as { error: Error }).error.message, /^line 2: not valid UTF-8/);
});

test('results come out chunk by chunk while the input is still being read (flat memory), same as translating all at once', async () => {
  const sentences = setup.pairs.map((p) => p.source);
  const total = 2000;
  let produced = 0;
  const producedWhenYielded: number[] = [];
  async function* input(): AsyncGenerator<string> {
    for (let i = 0; i < total; i++) {
      produced++;
      yield sentences[i % sentences.length];
    }
  }
  const chunkSize = 50;
  let count = 0;
  for await (const r of translateStream(input(), translator, { chunkSize })) {
    count++;
    assert.equal(r.line, count, 'input order');
    producedWhenYielded.push(produced);
    // Never more than one chunk read ahead of what was yielded.
    assert.ok(produced - count < chunkSize, `read ${produced} lines but yielded only ${count}`);
  }
  assert.equal(count, total);
  assert.equal(producedWhenYielded[0], chunkSize, 'the first result comes after one chunk, not after the whole input');
  // Compared with the same chunks translated directly (same batch shapes, so no dependence on how BLAS orders sums).
  const direct = [0, 3, 6, 9].flatMap((at) => translator.translate(sentences.slice(at, Math.min(at + 3, 10))).map((t) => t.text));
  const streamed = (await collect(translateStream(sentences.slice(0, 10), translator, { chunkSize: 3 }))).map((r) => (r.ok ? r.translation.text : '?'));
  assert.deepEqual(streamed, direct, 'streamed results are the chunks\' translations, in order');
});

test('splitLines: LF and CRLF, a last line without newline, lines spanning blocks, empty lines kept', async () => {
  const blocks = ['ab', 'c\r\nd', 'e\n\nf', 'g'].map((s) => utf8.encode(s));
  const lines: string[] = [];
  let flushes = 0;
  for await (const l of splitLines(blocks)) {
    if (l === FLUSH) flushes++;
    else lines.push(new TextDecoder().decode(l));
  }
  assert.deepEqual(lines, ['abc', 'de', '', 'fg']);
  assert.equal(flushes, blocks.length, 'one FLUSH after each block read');
  const none = [];
  for await (const l of splitLines([utf8.encode('x\n')])) if (l !== FLUSH) none.push(l);
  assert.equal(none.length, 1, 'a final newline does not start a line');
});

test('FLUSH translates a partial chunk at once (a line typed at a terminal is not held back for a full chunk)', async () => {
  let fed = 0;
  async function* typed(): AsyncGenerator<string | typeof FLUSH> {
    for (const s of ['Go.', 'Hi.']) {
      fed++;
      yield s;
      yield FLUSH;
    }
  }
  const seenAfterFeeding: number[] = [];
  for await (const r of translateStream(typed(), translator, { chunkSize: 64 })) seenAfterFeeding.push(fed);
  assert.deepEqual(seenAfterFeeding, [1, 2], 'each line comes out before the next is read');
});

test('translateLines: per-line results for a list, errors named by the given line numbers; bad options throw once', () => {
  const r = translateLines(['Go.', 'z'.repeat(60), ''], translator, { lineNumbers: [10, 11, 12] });
  assert.ok(!(r[0] instanceof Error));
  assert.ok(r[1] instanceof LineError && r[1].line === 11 && /^line 11: 60 characters long/.test(r[1].message));
  assert.equal((r[2] as { text: string }).text, '');
  assert.throws(() => translateLines(['Go.'], translator, { beam: 2, nBest: 3 }), /nBest \(3\) must not exceed beam \(2\)/);
});
