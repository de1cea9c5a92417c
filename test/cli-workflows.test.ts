/**
 * The MT workflows end to end through the command line: own dev/test files
 * (--valid-data/--test-data), eval --split all / --hyp / --multi-ref with
 * signatures and --json, and streaming translate with per-line errors.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCorpus, formatCorpusTsv } from '../src/data/synthetic.js';
import { SIGNATURE_VERSION } from '../src/eval/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 's2s.js');

function s2s(args: string[], input?: string): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { input, encoding: 'utf8', cwd: root, timeout: 300_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

let dir = '';
let model = '';
const files = { train: '', dev: '', test: '' };

before(() => {
  dir = mkdtempSync(join(tmpdir(), 's2s-workflows-'));
  const write = (name: string, size: number, seed: number): string => {
    const f = join(dir, name);
    writeFileSync(f, formatCorpusTsv(generateCorpus({ size, seed })));
    return f;
  };
  files.train = write('train.tsv', 240, 11);
  files.dev = write('dev.tsv', 30, 12);
  files.test = write('test.tsv', 40, 13);
  model = join(dir, 'model');
  const r = s2s(['train', '--data', files.train, '--valid-data', files.dev, '--test-data', files.test, '--out', model,
    '--epochs', '1', '--latent-dim', '16', '--batch-size', '32', '--samples', 'all', '--attention', 'general',
    '--max-source-length', '60', '--max-target-length', '60', '--examples', '0']);
  assert.equal(r.code, 0, r.err);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const lineCount = (file: string): number => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').length;

test('train --valid-data/--test-data: all of --data trains (no split), the files are recorded in the bundle', () => {
  const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
  assert.equal(config.data.validData, files.dev);
  assert.equal(config.data.testData, files.test);
  // The training log of a second run says how the data was used.
  const out2 = join(dir, 'model2');
  const r = s2s(['train', '--data', files.train, '--valid-data', files.dev, '--out', out2, '--epochs', '1', '--latent-dim', '8', '--samples', 'all', '--max-source-length', '60', '--max-target-length', '60', '--examples', '0']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, new RegExp(`→ train ${lineCount(files.train)}, validation ${lineCount(files.dev)}, test 0 \\(all of it: no split\\) \\| validation ${files.dev.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  // The same keys in a YAML file.
  const yaml = join(dir, 'run.yaml');
  writeFileSync(yaml, `data: ${files.train}\nvalid-data: ${files.dev}\ntest-data: ${files.test}\nepochs: 1\nlatent-dim: 8\nsamples: all\nexamples: 0\n`);
  const fromYaml = s2s(['train', '--config', yaml, '--out', join(dir, 'model3')]);
  assert.equal(fromYaml.code, 0, fromYaml.err);
  assert.equal(JSON.parse(readFileSync(join(dir, 'model3', 'config.json'), 'utf8')).data.testData, files.test);
  const alone = s2s(['train', '--data', files.train, '--test-data', files.test, '--out', join(dir, 'model4')]);
  assert.notEqual(alone.code, 0);
  assert.match(alone.err, /--test-data .* needs --valid-data/);
  const missing = s2s(['train', '--data', files.train, '--valid-data', join(dir, 'nope.tsv'), '--out', join(dir, 'model5')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.err, /--valid-data .*nope\.tsv: no such file/);
});

test('eval --split test|validation of such a model scores every line of those files, printing counts and signatures', () => {
  const r = s2s(['eval', '--model', model, '--split', 'test']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`\\(${lineCount(files.test)} sentences, `));
  assert.match(r.out, /^BLEU: [\d.]+/m);
  assert.ok(r.out.includes(`  signature: nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:${SIGNATURE_VERSION}`), r.out);
  assert.ok(r.out.includes(`  signature: nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:${SIGNATURE_VERSION}`), r.out);
  const v = JSON.parse(s2s(['eval', '--model', model, '--split', 'validation', '--json']).out);
  assert.equal(v.sentences, lineCount(files.dev));
  assert.equal(v.corpus, files.dev);
});

test('eval --split all, --json, and --hyp (no model) on the report\'s hypotheses give the same scores', () => {
  const report = join(dir, 'report.tsv');
  const r = s2s(['eval', '--model', model, '--data', files.test, '--split', 'all', '--json', '--report', report]);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.equal(j.sentences, lineCount(files.test));
  assert.equal(j.split, 'all');
  assert.equal(j.nrefs, 1);
  assert.equal(j.bleu.signature, `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:${SIGNATURE_VERSION}`);
  assert.equal(j.chrf.name, 'chrF2');
  assert.ok(j.sentencesPerSecond > 0 && j.seconds > 0);
  for (const k of ['score', 'precisions', 'bp', 'sysLen', 'refLen']) assert.ok(k in j.bleu, k);
  // The model's own translations as a hypothesis file: the same numbers without the model.
  const hyp = join(dir, 'hyp.txt');
  const rows = readFileSync(report, 'utf8').split('\n').slice(1).filter((l) => l !== '');
  writeFileSync(hyp, rows.map((l) => l.split('\t')[2]).join('\n') + '\n');
  const h = JSON.parse(s2s(['eval', '--hyp', hyp, '--data', files.test, '--json']).out);
  assert.equal(h.bleu.score, j.bleu.score);
  assert.equal(h.chrf.score, j.chrf.score);
  assert.equal(h.sentences, j.sentences);
  assert.equal(h.hypothesisFile, hyp);
  assert.equal(h.sentencesPerSecond, null);
  const plain = s2s(['eval', '--hyp', hyp, '--data', files.test]);
  assert.match(plain.out, /scored: all of .*test\.tsv \(40 sentences, hypotheses from .*hyp\.txt\)/);
  // A hypothesis file of the wrong length: both files and counts named.
  writeFileSync(hyp, 'only one line\n');
  const bad = s2s(['eval', '--hyp', hyp, '--data', files.test]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /hyp\.txt has 1 lines but .*test\.tsv has 40 sentence pairs/);
  assert.match(s2s(['eval', '--data', files.test]).err, /needs --model .* or --hyp/);
});

test('eval --multi-ref scores each distinct source once against all its references', () => {
  const multi = join(dir, 'multi.tsv');
  writeFileSync(multi, 'I am happy.\tJe suis heureux.\nI am happy.\tJe suis content.\nWe eat.\tNous mangeons.\nI am happy.\tJe suis contente.\n');
  const one = JSON.parse(s2s(['eval', '--model', model, '--data', multi, '--split', 'all', '--json']).out);
  assert.equal(one.sentences, 4);
  const r = JSON.parse(s2s(['eval', '--model', model, '--data', multi, '--split', 'all', '--multi-ref', '--json']).out);
  assert.equal(r.sentences, 2);
  assert.equal(r.pairs, 4);
  assert.equal(r.references, 4);
  assert.equal(r.nrefs, 'var');
  assert.match(r.bleu.signature, /^nrefs:var\|/);
  const hyp = join(dir, 'multi-hyp.txt');
  writeFileSync(hyp, 'Je suis content.\nNous mangeons.\n');
  const h = JSON.parse(s2s(['eval', '--hyp', hyp, '--data', multi, '--multi-ref', '--json']).out);
  assert.equal(h.sentences, 2);
  assert.equal(h.exactMatch, 1, 'each hypothesis matches one of its references');
  const printed = s2s(['eval', '--hyp', hyp, '--data', multi, '--multi-ref']).out;
  assert.match(printed, /2 distinct sources against 4 references \(nrefs:var\)/);
});

const LONG = 'x'.repeat(500);

test('translate: a 500-character line in the middle gives an empty line and a warning naming line 2; the others are translated; exit 3', () => {
  const args = s2s(['translate', '--model', model, 'I am happy.', 'We see the cat.']);
  assert.equal(args.code, 0, args.err);
  const [t1, t3] = args.out.split('\n');
  const r = s2s(['translate', '--model', model], `I am happy.\n${LONG}\nWe see the cat.\n`);
  assert.equal(r.code, 3, r.err);
  assert.equal(r.out, `${t1}\n\n${t3}\n`);
  assert.match(r.err, /warning: stdin line 2: 500 characters long; this model accepts at most 60/);
  assert.match(r.err, /1 of 3 lines could not be translated/);
  const fail = s2s(['translate', '--model', model, '--on-error', 'fail'], `I am happy.\n${LONG}\nWe see the cat.\n`);
  assert.notEqual(fail.code, 0);
  assert.notEqual(fail.code, 3);
  assert.equal(fail.out, `${t1}\n`, 'fail-fast: nothing after the bad line');
  assert.match(fail.err, /line 2: 500 characters long.*\(in stdin; nothing more was translated\)/);
});

test('translate --input/--output writes the file atomically; invalid UTF-8 is a per-line error', () => {
  const input = join(dir, 'in.txt');
  writeFileSync(input, Buffer.concat([Buffer.from('I am happy.\n'), Buffer.from([0x57, 0xff, 0x65, 0x0a]), Buffer.from('We see the cat.')]));
  const output = join(dir, 'out.txt');
  const r = s2s(['translate', '--model', model, '--input', input, '--output', output]);
  assert.equal(r.code, 3, r.err);
  assert.equal(r.out, '');
  assert.match(r.err, /in\.txt line 2: not valid UTF-8/);
  const lines = readFileSync(output, 'utf8').split('\n');
  assert.equal(lines.length, 4, 'three lines, each ending in a newline');
  assert.equal(lines[1], '');
  const again = s2s(['translate', '--model', model, 'I am happy.', 'We see the cat.']);
  assert.equal(`${lines[0]}\n${lines[2]}\n`, again.out);
  // Fail-fast leaves an earlier output untouched and no temporary file behind.
  const fail = s2s(['translate', '--model', model, '--input', input, '--output', output, '--on-error', 'fail']);
  assert.notEqual(fail.code, 0);
  assert.equal(readFileSync(output, 'utf8'), lines.join('\n'));
  assert.deepEqual(spawnSync('ls', ['-a', dir], { encoding: 'utf8' }).stdout.split('\n').filter((f) => f.includes('.tmp')), []);
  assert.match(s2s(['translate', '--model', model, '--input', join(dir, 'none.txt')]).err, /--input .*none\.txt: no such file/);
});

test('translate --json: one parseable object per input line, with n-best and attention when asked', () => {
  const r = s2s(['translate', '--model', model, '--json', '--beam', '2', '--n-best', '2', '--attention'], `I am happy.\n${LONG}\n\n`);
  assert.equal(r.code, 3);
  const records = r.out.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(records.length, 3);
  assert.deepEqual(records.map((x) => x.line), [1, 2, 3]);
  const [a, b, c] = records;
  assert.equal(a.source, 'I am happy.');
  assert.equal(typeof a.text, 'string');
  assert.ok(Array.isArray(a.unknown));
  assert.equal(typeof a.logProb, 'number');
  assert.equal(a.nBest.length, 2);
  assert.equal(a.nBest[0].text, a.text);
  assert.equal(a.attention.weights.length, a.attention.outputTokens.length);
  assert.equal(b.text, '');
  assert.equal(b.reason, 'too-long');
  assert.match(b.error, /^line 2: /);
  assert.equal(c.text, '');
  assert.match(s2s(['translate', '--model', model, '--attention', 'x']).err, /--attention adds attention weights to --json output/);
});

test('translate streams: the first translation is written while stdin is still open', async () => {
  const child = spawn(process.execPath, [bin, 'translate', '--model', model], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const firstLine = new Promise<void>((done) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (out.includes('\n')) done();
    });
  });
  child.stdin.write('I am happy.\n');
  await firstLine; // would never resolve if translate read all of stdin first
  assert.equal(child.exitCode, null, 'still running, waiting for more input');
  child.stdin.end('We see the cat.\n');
  const code = await new Promise<number | null>((done) => child.on('close', done));
  assert.equal(code, 0);
  assert.equal(out.split('\n').length, 3);
  assert.ok(existsSync(model));
});
