import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCorpus, formatCorpusTsv } from '../src/data/synthetic.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 's2s.js');

function s2s(args: string[], input?: string): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { input, encoding: 'utf8', cwd: root, timeout: 300_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('s2s --help and train --help list commands and every option with its default', () => {
  const top = s2s(['--help']);
  assert.equal(top.code, 0);
  for (const cmd of ['train', 'translate', 'eval']) assert.match(top.out, new RegExp(`\\b${cmd}\\b`));
  const train = s2s(['train', '--help']);
  for (const opt of ['--data', '--preset', '--samples', '--split', '--latent-dim', '--epochs', '--batch-size', '--optimizer', '--lr', '--seed', '--max-source-length', '--max-target-length', '--normalize-spaces', '--skip-bad-lines', '--resume']) {
    assert.ok(train.out.includes(opt), `train --help lacks ${opt}`);
  }
  assert.match(train.out, /default: 64/);
  assert.match(s2s(['translate', '--help']).out, /--show-unknown/);
  assert.match(s2s(['eval', '--help']).out, /--report/);
});

test('train → translate (args and stdin) → eval → resume, on a small corpus file', () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-cli-'));
  const data = join(dir, 'pairs.tsv');
  writeFileSync(data, formatCorpusTsv(generateCorpus({ size: 300, seed: 2 })));
  const out = join(dir, 'model');
  const train = s2s(['train', '--data', data, '--out', out, '--epochs', '1', '--latent-dim', '16', '--batch-size', '32', '--samples', 'all', '--max-target-length', '30', '--examples', '2']);
  assert.equal(train.code, 0, train.err);
  assert.match(train.err, /epoch 1\/1 \| loss [\d.]+ \| val loss [\d.]+ \| val acc [\d.]+%/);
  for (const f of ['config.json', 'vocab.json', 'weights.json', 'history.json']) assert.ok(existsSync(join(out, f)), f);
  const history = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8'));
  assert.equal(history.length, 1);

  const one = s2s(['translate', '--model', out, 'I am happy.', 'Where is the cat?']);
  assert.equal(one.code, 0, one.err);
  assert.equal(one.out.split('\n').length, 3);
  const piped = s2s(['translate', '--model', out], 'I am happy.\nWhere is the cat?\n');
  assert.equal(piped.out, one.out, 'stdin and arguments give the same translations');
  const unknown = s2s(['translate', '--model', out, '--show-unknown', 'Ω€']);
  assert.equal(unknown.code, 0);
  assert.match(unknown.err, /unknown in "Ω€": "Ω" "€"/);

  const report = join(dir, 'report.tsv');
  const ev = s2s(['eval', '--model', out, '--data', data, '--report', report]);
  assert.equal(ev.code, 0, ev.err);
  assert.match(ev.out, /BLEU: [\d.]+/);
  assert.match(ev.out, /chrF: [\d.]+/);
  assert.match(ev.out, /exact match: [\d.]+%/);
  assert.match(readFileSync(report, 'utf8'), /^source\treference\thypothesis\n/);

  const again = s2s(['train', '--data', data, '--out', out]);
  assert.notEqual(again.code, 0);
  assert.match(again.err, /--resume/);
  const resumed = s2s(['train', '--resume', out, '--epochs', '2']);
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.err, /resuming .*epoch 2/);
  assert.equal(JSON.parse(readFileSync(join(out, 'history.json'), 'utf8')).length, 2);
  rmSync(dir, { recursive: true });
});

test('bad input files give errors naming the file and line', () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-cli-'));
  const data = join(dir, 'bad.tsv');
  writeFileSync(data, 'Hello.\tBonjour.\nno tab here\n');
  const r = s2s(['train', '--data', data, '--out', join(dir, 'm'), '--epochs', '1']);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /bad\.tsv:2: /);
  const missing = s2s(['translate', '--model', join(dir, 'nope'), 'x']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.err, /nope: not a directory/);
  rmSync(dir, { recursive: true });
});

test('translate --attention-svg draws the heatmap of an attention model (and refuses a model without attention)', () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-cli-'));
  const data = join(dir, 'pairs.tsv');
  writeFileSync(data, formatCorpusTsv(generateCorpus({ size: 120, seed: 4 })));
  const out = join(dir, 'model');
  const train = s2s(['train', '--data', data, '--out', out, '--epochs', '1', '--latent-dim', '8', '--attention', 'general', '--bidirectional', '--samples', 'all', '--examples', '0']);
  assert.equal(train.code, 0, train.err);
  const svgPath = join(dir, 'att.svg');
  const r = s2s(['translate', '--model', out, '--attention-svg', svgPath, 'I am happy.', 'We eat.']);
  assert.equal(r.code, 0, r.err);
  const svg = readFileSync(svgPath, 'utf8');
  assert.match(svg, /<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<title>Attention: \d+ output × 11 source tokens<\/title>/);
  assert.ok(existsSync(join(dir, 'att-2.svg')));
  const plain = join(dir, 'plain');
  assert.equal(s2s(['train', '--data', data, '--out', plain, '--epochs', '1', '--latent-dim', '8', '--samples', 'all', '--examples', '0']).code, 0);
  const refused = s2s(['translate', '--model', plain, '--attention-svg', svgPath, 'I am happy.']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.err, /has no attention/);
  rmSync(dir, { recursive: true });
});
