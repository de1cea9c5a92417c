#!/usr/bin/env node
/**
 * Runs the tests that do real model arithmetic (forward/backward, decoding,
 * training, gradient checks) again on the two other arithmetic paths, after
 * `npm test` has run everything on the default one (the native addon with
 * OpenBLAS):
 *   1. the native addon built without OpenBLAS (its own blocked GEMM),
 *   2. the WebAssembly kernels (S2S_KERNELS=wasm; skipped with a note when
 *      dist/wasm has none, i.e. no clang), and
 *   3. the TypeScript kernels (S2S_KERNELS=js).
 * Each path sums in its own order, so a test that compares floats bit for bit
 * across shapes or kernels fails here. OPENBLAS_* variables are passed
 * through untouched.
 *
 *   npm run test:paths                      (builds dist/ and the fallback addon)
 *   S2S_FALLBACK_ADDON=path/to/s2s_native.node node scripts/test-paths.mjs
 *   node scripts/test-paths.mjs --path js   (one path only: fallback, wasm or js)
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const testDir = join(root, 'dist', 'test');

/**
 * Test files whose results depend on the kernels' arithmetic. Not here: pure
 * data/metric/plot tests, the browser end to end test, the load test, the
 * kernel parity test (it compares the paths itself), and the kill test
 * (which always trains on the TypeScript kernels).
 */
const ARITHMETIC = /^(model-.*|decode-.*|train.*|library-.*|cli.*|torch-parity|engine-(learning|gradcheck|rnn|optim|ops|transformer-ops|fused)|bundle|serve|fuzz)\.test\.js$/;

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...options });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

/** The addon built with S2S_NO_OPENBLAS=1 in a temporary copy of the native sources (as .ci/run does). */
function buildFallbackAddon() {
  const dir = mkdtempSync(join(tmpdir(), 's2s-fallback-addon-'));
  for (const f of ['binding.gyp', 'native', 'package.json']) cpSync(join(root, f), join(dir, f), { recursive: true });
  console.log(`# building the no-OpenBLAS fallback addon in ${dir}`);
  const r = spawnSync('npm', ['run', 'build:native'], { cwd: dir, env: { ...process.env, S2S_NO_OPENBLAS: '1' }, encoding: 'utf8' });
  const addon = join(dir, 'build', 'Release', 's2s_native.node');
  if (r.status !== 0 || !existsSync(addon)) {
    process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}\ntest-paths: building the fallback addon failed\n`);
    process.exit(1);
  }
  return { addon, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

if (!existsSync(testDir)) {
  console.error('test-paths: dist/test is missing; run `npm run build` first');
  process.exit(1);
}
const files = readdirSync(testDir).filter((f) => ARITHMETIC.test(f)).sort().map((f) => join('dist', 'test', f));
const only = arg('path');
if (only !== undefined && only !== 'fallback' && only !== 'wasm' && only !== 'js') {
  console.error(`test-paths: --path must be "fallback", "wasm" or "js", got ${JSON.stringify(only)}`);
  process.exit(2);
}

let fallback = null;
const paths = [];
if (only === undefined || only === 'fallback') {
  const given = process.env.S2S_FALLBACK_ADDON;
  if (given && !existsSync(given)) {
    console.error(`test-paths: S2S_FALLBACK_ADDON=${given}: no such file`);
    process.exit(1);
  }
  fallback = given ? { addon: resolve(given), cleanup: () => {} } : buildFallbackAddon();
  // S2S_KERNELS=native: fail rather than fall back to the TypeScript kernels if the addon cannot load.
  paths.push({ name: 'native addon without OpenBLAS', env: { S2S_KERNELS: 'native', S2S_NATIVE_ADDON: fallback.addon } });
}
if (only === undefined || only === 'wasm') {
  if (existsSync(join(root, 'dist', 'wasm', 's2s-kernels-mt.wasm'))) paths.push({ name: 'WebAssembly kernels', env: { S2S_KERNELS: 'wasm' } });
  else console.log('# test-paths: no dist/wasm/s2s-kernels-mt.wasm (npm run build:wasm needs clang-16 and lld-16): the wasm path is skipped');
}
if (only === undefined || only === 'js') paths.push({ name: 'TypeScript kernels', env: { S2S_KERNELS: 'js' } });

const results = [];
try {
  for (const p of paths) {
    const env = { ...process.env, ...p.env };
    const t0 = performance.now();
    console.log(`\n# test-paths: ${p.name} (${Object.entries(p.env).map(([k, v]) => `${k}=${v}`).join(' ')}), ${files.length} files`);
    const probe = run(process.execPath, ['-e', "import('./dist/src/engine/index.js').then((m) => console.log('# kernels:', m.kernels().description))"], { env });
    const code = probe === 0 ? run(process.execPath, ['--test', '--test-concurrency=1', ...files], { env }) : probe;
    results.push({ name: p.name, code, seconds: (performance.now() - t0) / 1000 });
  }
} finally {
  fallback?.cleanup();
}
console.log('\n# test-paths summary');
for (const r of results) console.log(`#   ${r.code === 0 ? 'pass' : 'FAIL'}  ${r.name}  (${r.seconds.toFixed(0)} s)`);
process.exit(results.every((r) => r.code === 0) ? 0 : 1);
