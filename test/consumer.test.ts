/**
 * s2s as its users get it: `npm pack`, install the tarball into a fresh
 * project, then (a) train, translate and evaluate through `import … from
 * 's2s'` in an ES module, and load the model through `s2s/browser`;
 * (b) type-check TypeScript consumers of both entries with `tsc --noEmit`
 * (nodenext, strict, no skipLibCheck); (c) run `npx s2s`; (d) check that
 * the tarball holds what users need and no tests, benchmarks or fixtures.
 * The repository's own TypeScript and @types/node are used, so only the
 * package's dependencies come from the npm cache or registry. Skips (with
 * the reason) when npm or the registry is unavailable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The environment of the npm that runs this test, without what describes the repository's own package. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_(package|lifecycle)_/.test(k) || k === 'INIT_CWD') continue;
    env[k] = v;
  }
  return env;
}

function run(command: string, args: string[], cwd: string, timeoutMs = 120_000): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, encoding: 'utf8', env: childEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
}

function output(r: SpawnSyncReturns<string>): string {
  return `exit ${r.status}${r.error ? ` (${r.error.message})` : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

const NETWORK_FAILURE = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|network|offline|ENOCACHE/i;

/** The library example of the README, trained small enough for a test. */
const TRAIN_AND_TRANSLATE = `
import { loadBundle, train, evaluate, kernels } from 's2s';

const out = process.argv[2];
const run = await train({ out, samples: 300, epochs: 1, latentDim: 16, batchSize: 32, examples: 0 });
const { translator } = loadBundle(run.out);
const [greedy] = translator.translate(['I am happy.']);
const [beam] = translator.translate(['I am happy.'], { beam: 3, nBest: 2 });
const score = evaluate({ model: run.out, data: 'builtin', split: 'test', limit: 5 });
console.log(JSON.stringify({
  epochs: run.epochs, history: run.history.length, greedy: greedy.text, alternatives: beam.alternatives.length,
  sentences: score.sentences, bleu: score.bleu.score, chrf: score.chrf.score, kernels: kernels().name,
}));
`;

/** s2s/browser at run time (Node has no page, but the entry must load and translate as the Node API does). */
const BROWSER_AT_RUN_TIME = `
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { WebModel } from 's2s/browser';
import { loadBundle } from 's2s';

const dir = process.argv[2];
const fetchFile = async (url) => {
  const bytes = await readFile(new URL(url));
  return { ok: true, status: 200, json: async () => JSON.parse(bytes.toString('utf8')), arrayBuffer: async () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) };
};
// WebModel switches to the TypeScript kernels; the Node translator below then uses them too, so both compute alike.
const web = await WebModel.load(pathToFileURL(dir + '/').href, { fetch: fetchFile });
const node = loadBundle(dir).translator;
const text = 'Where is the cat?';
console.log(JSON.stringify({ web: web.translate(text).text, node: node.translate([text])[0].text, cell: web.info.cell }));
`;

/** A strict TypeScript consumer of the Node API: the results are typed, not any. */
const TYPED_NODE_CONSUMER = `
import { loadBundle, train, evaluate, corpusBleu, S2SError, BundleError, type Translation, type TranslateOptions } from 's2s';

export async function demo(dir: string): Promise<string> {
  const run = await train({ out: dir, epochs: 1, latentDim: 16, onEpoch: (record) => void record.trainLoss.toFixed(2) });
  const epochs: number = run.epochs;
  const options: TranslateOptions = { beam: 3, nBest: 2, attention: true };
  const [t]: Translation[] = loadBundle(run.out).translator.translate(['I am happy.'], options);
  const upper: string = t.text.toUpperCase();
  const best: number | undefined = t.alternatives?.[0]?.score;
  const weights: number[][] | undefined = t.attention?.weights;
  // @ts-expect-error a Translation has no field "translation" (fails if the types were any)
  void t.translation;
  const score = evaluate({ model: run.out, data: 'builtin', beam: 5 });
  const bleu: number = score.bleu.score + corpusBleu([t.text], [t.text]).score;
  try {
    loadBundle('nowhere');
  } catch (err) {
    if (err instanceof BundleError) return err.message;
    if (err instanceof S2SError) return err.name;
  }
  return [epochs, upper, best, weights?.length, bleu].join(' ');
}
`;

/** A browser consumer, checked without Node's types: s2s/browser must not need them. */
const TYPED_BROWSER_CONSUMER = `
import { WebModel, corpusChrf, S2SError, type ModelInfo, type Translation } from 's2s/browser';

export async function show(url: string, out: HTMLElement): Promise<void> {
  const model = await WebModel.load(url).catch((err: unknown) => {
    throw err instanceof S2SError ? new Error('cannot load the model: ' + err.message) : err;
  });
  const info: ModelInfo = model.info;
  const [t]: Translation[] = model.translator.translate(['I am happy.'], { beam: 2 });
  out.textContent = info.cell + ': ' + t.text.toUpperCase() + ' ' + corpusChrf([t.text], [t.text]).score.toFixed(1);
}
`;

test('consumer: npm pack → install into a fresh project → import s2s, tsc --noEmit, npx s2s', { timeout: 600_000 }, async (t) => {
  const started = performance.now();
  const work = mkdtempSync(join(tmpdir(), 's2s-consumer-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));

  // dist/ is already built (npm test builds first); prepack would rebuild it under the running suite.
  const pack = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], root);
  if (pack.error && (pack.error as NodeJS.ErrnoException).code === 'ENOENT') return void t.skip('npm is not installed: cannot pack');
  assert.equal(pack.status, 0, output(pack));
  const packed = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as { filename: string; size: number; files: { path: string }[] }[];
  const tarball = join(work, packed[0].filename);
  const files = packed[0].files.map((f) => f.path);

  // (d) What users need, and nothing of the test suite or benchmarks.
  const unwanted = files.filter((f) => /(^|\/)(test|tests|bench|fixtures?|helpers|fuzz)\//.test(f) || /\.test\.|\.map$/.test(f) || (/\.ts$/.test(f) && !/\.d\.ts$/.test(f)));
  assert.deepEqual(unwanted, [], 'tarball holds test, benchmark or fixture files');
  const native = readdirSync(join(root, 'native')).map((f) => `native/${f}`);
  for (const f of ['package.json', 'README.md', 'LICENSE', 'bin/s2s.js', 'binding.gyp', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/browser.js', 'dist/src/browser.d.ts', 'dist/src/cli/main.js', 'dist/web/index.html', 'dist/web/page.css', 'dist/web/s2s-web.js', 'configs/seed.yaml', ...native]) {
    assert.ok(files.includes(f), `tarball lacks ${f}`);
  }
  t.diagnostic(`tarball: ${files.length} files, ${(packed[0].size / 1024).toFixed(1)} KiB`);

  // A fresh ES module project. allowScripts: npm 11 asks before running a dependency's install script (the native addon build).
  const project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 's2s-consumer', private: true, type: 'module', allowScripts: { s2s: true } }, null, 2));
  const install = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], project, 300_000);
  if (install.status !== 0 && NETWORK_FAILURE.test(install.stderr)) return void t.skip(`the npm registry is unavailable: ${install.stderr.split('\n').find((l) => NETWORK_FAILURE.test(l))}`);
  assert.equal(install.status, 0, output(install));
  const installedAt = performance.now();

  // (a) Train, translate and evaluate through the library.
  writeFileSync(join(project, 'train.mjs'), TRAIN_AND_TRANSLATE);
  const model = join(project, 'model');
  const trained = run(process.execPath, ['train.mjs', model], project, 300_000);
  assert.equal(trained.status, 0, output(trained));
  const result = JSON.parse(trained.stdout.trim().split('\n').pop() as string) as {
    epochs: number; history: number; greedy: unknown; alternatives: number; sentences: number; bleu: number; chrf: number; kernels: string;
  };
  assert.equal(result.epochs, 1);
  assert.equal(result.history, 1);
  assert.equal(typeof result.greedy, 'string');
  assert.equal(result.alternatives, 2);
  assert.equal(result.sentences, 5);
  assert.ok(result.bleu >= 0 && result.bleu <= 100 && result.chrf >= 0 && result.chrf <= 100, JSON.stringify(result));
  t.diagnostic(`installed package computes with the ${result.kernels} kernels`);

  writeFileSync(join(project, 'browser.mjs'), BROWSER_AT_RUN_TIME);
  const browser = run(process.execPath, ['browser.mjs', model], project);
  assert.equal(browser.status, 0, output(browser));
  const same = JSON.parse(browser.stdout.trim()) as { web: string; node: string; cell: string };
  assert.equal(same.web, same.node, 's2s/browser and s2s translate alike on the same kernels');
  assert.equal(same.cell, 'lstm');

  // (b) Strict TypeScript consumers, with the repository's own compiler and Node types.
  writeFileSync(join(project, 'consumer.ts'), TYPED_NODE_CONSUMER);
  writeFileSync(join(project, 'browser-consumer.ts'), TYPED_BROWSER_CONSUMER);
  const compilerOptions = { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false };
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { ...compilerOptions, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] }, files: ['consumer.ts'],
  }));
  writeFileSync(join(project, 'tsconfig.browser.json'), JSON.stringify({
    compilerOptions: { ...compilerOptions, lib: ['es2022', 'dom'], types: [] }, files: ['browser-consumer.ts'],
  }));
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  for (const config of ['tsconfig.json', 'tsconfig.browser.json']) {
    const checked = run(process.execPath, [tsc, '-p', config], project);
    assert.equal(checked.status, 0, `tsc -p ${config}\n${output(checked)}`);
  }

  // (c) The command line, as npx finds it in the project (--no: never download a package named s2s).
  const help = run('npx', ['--no', '--', 's2s', '--help'], project);
  assert.equal(help.status, 0, output(help));
  for (const command of ['train', 'translate', 'eval']) assert.match(help.stdout, new RegExp(`\\b${command}\\b`));
  const translated = run('npx', ['--no', '--', 's2s', 'translate', '--model', model, 'I am happy.'], project);
  assert.equal(translated.status, 0, output(translated));
  assert.equal(translated.stdout.split('\n').length, 2, 'one line of output per input');

  const seconds = (now: number, from: number): string => ((now - from) / 1000).toFixed(1);
  t.diagnostic(`pack + install ${seconds(installedAt, started)} s, library + tsc + npx ${seconds(performance.now(), installedAt)} s`);
});
