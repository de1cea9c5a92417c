/**
 * Errors: every error class s2s exports extends S2SError, and the `s2s`
 * command prints just the message of those (exit 1), the full stack of
 * anything else (a bug, exit 70), and exits 2 on a usage error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommanderError } from 'commander';
import * as api from '../src/index.js';
import * as browserApi from '../src/browser.js';
import { S2SError, ConfigError } from '../src/errors.js';
import { describeFailure, EXIT_CODES } from '../src/cli/exit.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 's2s.js');

function s2s(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root, timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('every error class s2s exports extends S2SError and names itself', () => {
  const errorClasses = Object.entries(api).filter(([name, value]) => /^[A-Z]\w*Error$/.test(name) && typeof value === 'function');
  assert.ok(errorClasses.length >= 10, errorClasses.map(([n]) => n).join(', '));
  assert.equal(api.S2SError, S2SError);
  assert.equal(browserApi.S2SError, S2SError);
  for (const [name, value] of errorClasses) {
    assert.equal(typeof value, 'function', name);
    assert.ok((value as { prototype: unknown }).prototype instanceof Error, `${name} is an Error`);
    assert.ok(value === S2SError || (value as { prototype: unknown }).prototype instanceof S2SError, `${name} extends S2SError`);
  }
  // Each sets its own name, so messages and logs say which error it is (the minified browser bundle renames classes).
  const samples: Error[] = [
    new api.CorpusError('f.tsv', 3, 'no tab'), new api.BundleError('x'), new ConfigError('x'), new api.WeightsError('x'),
    new api.InputTooLongError(0, 10, 5), new api.HttpError(400, 'x'), new api.QueueFullError(1, 1), new api.BatcherClosedError(),
    new api.NonFiniteLossError(1, NaN), new api.ShapeError('x'), new S2SError('x'),
  ];
  for (const e of samples) {
    assert.ok(e instanceof S2SError);
    assert.equal(e.name, e.constructor.name);
  }
  assert.equal(api.ConfigError, ConfigError, 'one ConfigError, whichever module it is imported from');
});

test('describeFailure: S2SErrors and system errors print their message (1), usage errors nothing more (2), bugs their stack (70)', () => {
  assert.deepEqual(describeFailure(new api.BundleError('m/config.json: missing')), { code: EXIT_CODES.error, message: 's2s: m/config.json: missing' });
  const enoent = Object.assign(new Error("ENOENT: no such file or directory, open 'x.tsv'"), { code: 'ENOENT', syscall: 'open', errno: -2 });
  assert.deepEqual(describeFailure(enoent), { code: EXIT_CODES.error, message: `s2s: ${enoent.message}` });
  assert.deepEqual(describeFailure(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'")), { code: EXIT_CODES.usage, message: null });
  assert.deepEqual(describeFailure(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)')), { code: EXIT_CODES.ok, message: null });
  const bug = describeFailure(new TypeError("Cannot read properties of undefined (reading 'x')"));
  assert.equal(bug.code, EXIT_CODES.bug);
  assert.match(bug.message ?? '', /^s2s: internal error: this is a bug in s2s/);
  assert.match(bug.message ?? '', /TypeError: Cannot read properties of undefined/);
  assert.match(bug.message ?? '', /\n\s+at /, 'the stack is printed');
  assert.equal(describeFailure('thrown string').code, EXIT_CODES.bug);
  assert.equal(new Set(Object.values(EXIT_CODES)).size, Object.keys(EXIT_CODES).length, 'the exit codes differ');
});

test('s2s: an S2SError prints one line "s2s: message" and exits 1', () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-errors-'));
  try {
    const missing = join(dir, 'no-model');
    const r = s2s(['translate', '--model', missing, 'Hello.']);
    assert.equal(r.code, 1, r.err);
    assert.equal(r.err, `s2s: ${missing}: not a directory\n`);
    assert.equal(r.out, '');

    const corpus = join(dir, 'bad.tsv');
    writeFileSync(corpus, 'Hello.\tBonjour.\nno tab here\n');
    const bad = s2s(['train', '--data', corpus, '--out', join(dir, 'm'), '--epochs', '1']);
    assert.equal(bad.code, 1, bad.err);
    assert.match(bad.err, new RegExp(`^s2s: ${corpus.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: `, 'm'));
    assert.doesNotMatch(bad.err, /\n\s+at /, 'no stack for an S2SError');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('s2s: usage errors exit 2 with commander\'s message; --help and --version exit 0', () => {
  const unknown = s2s(['translate', '--model', 'm', '--no-such-flag', 'x']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown option '--no-such-flag'/);
  const missing = s2s(['translate', 'x']);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /required option '--model <dir>' not specified/);
  const invalid = s2s(['translate', '--model', 'm', '--beam', 'zero', 'x']);
  assert.equal(invalid.code, 2);
  assert.match(invalid.err, /--beam/);
  const port = s2s(['serve', '--model', 'm', '--port', '99999']);
  assert.equal(port.code, 2);
  assert.match(port.err, /--port must be an integer ≥ 0 and ≤ 65535/);
  const command = s2s(['no-such-command']);
  assert.equal(command.code, 2);
  assert.match(command.err, /unknown command/);
  for (const args of [['--help'], ['translate', '--help'], ['--version']]) {
    const r = s2s(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
    assert.ok(r.out.length > 0);
  }
});
