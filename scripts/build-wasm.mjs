#!/usr/bin/env node
/**
 * Builds the WebAssembly kernels (native/wasm.c, which includes the same
 * native/kernels.c as the addon) with clang's wasm32 target and wasm-ld
 * (Debian: `apt-get install clang-16 lld-16`) into dist/wasm/:
 *   s2s-kernels.wasm     128-bit SIMD, imports a plain memory (any browser)
 *   s2s-kernels-mt.wasm  the same over a shared memory (-matomics): Node, and
 *                        cross-origin isolated pages, where threads can share it
 * No relaxed SIMD (results must not depend on the engine's FMA choice), no
 * libc. Without clang it warns and exits 0: the js kernels remain, as when
 * the native addon cannot be built. S2S_CLANG / S2S_WASM_LD name the tools.
 * Skips the compile when the outputs are newer than the sources. (dist/, not
 * build/: node-gyp rebuild, which npm install runs, deletes build/.)
 *
 *   npm run build:wasm            (npm run build runs it too)
 *   node scripts/build-wasm.mjs --force
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'wasm');
const sources = ['wasm.c', 'kernels.c', 'kernels.h'].map((f) => join(root, 'native', f));
const force = process.argv.includes('--force');

/** The first of the candidate commands that runs. */
function findTool(envName, candidates) {
  const given = process.env[envName];
  for (const cmd of given ? [given] : candidates) {
    const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return cmd;
  }
  return null;
}

const clang = findTool('S2S_CLANG', ['clang-16', 'clang-17', 'clang-18', 'clang-19', 'clang-15', 'clang']);
const wasmLd = findTool('S2S_WASM_LD', ['wasm-ld-16', 'wasm-ld-17', 'wasm-ld-18', 'wasm-ld-19', 'wasm-ld-15', 'wasm-ld']);
if (!clang || !wasmLd) {
  console.warn(`build-wasm: ${!clang ? 'no clang' : 'no wasm-ld'} found (install clang-16 and lld-16, or set S2S_CLANG / S2S_WASM_LD); the wasm kernels are not built, the js kernels will be used`);
  process.exit(0);
}

const cflags = [
  '--target=wasm32', '-O3', '-std=gnu11', '-ffreestanding', '-nostdlib',
  '-msimd128', '-mbulk-memory', '-msign-ext', '-mnontrapping-fptoint', '-mmutable-globals',
  '-fno-trapping-math', '-fno-math-errno', '-ffp-contract=off', '-DS2S_VARIANT=wasm',
  '-Wall', '-Wextra', '-Wno-unused-parameter', '-Werror',
];
const ldflags = [
  '--no-entry', '--import-memory', '--export=__heap_base', '--export=__stack_pointer',
  '-z', 'stack-size=262144', '--stack-first', '--strip-debug',
];
const variants = [
  { file: 's2s-kernels.wasm', cflags: [], ldflags: [] },
  { file: 's2s-kernels-mt.wasm', cflags: ['-matomics'], ldflags: ['--shared-memory', '--max-memory=4294967296'] },
];

const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs), statSync(fileURLToPath(import.meta.url)).mtimeMs);
const upToDate = variants.every((v) => existsSync(join(out, v.file)) && statSync(join(out, v.file)).mtimeMs >= newest);
if (upToDate && !force) {
  console.log('build-wasm: dist/wasm is up to date');
  process.exit(0);
}

mkdirSync(out, { recursive: true });
const tmp = join(tmpdir(), `s2s-wasm-${process.pid}`);
mkdirSync(tmp, { recursive: true });
try {
  for (const v of variants) {
    const obj = join(tmp, `${v.file}.o`);
    const wasm = join(tmp, v.file);
    for (const [cmd, args] of [
      [clang, [...cflags, ...v.cflags, '-c', join(root, 'native', 'wasm.c'), '-o', obj]],
      [wasmLd, [...ldflags, ...v.ldflags, obj, '-o', wasm]],
    ]) {
      const r = spawnSync(cmd, args, { encoding: 'utf8' });
      if (r.status !== 0) {
        process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
        console.error(`build-wasm: ${cmd} failed (${r.error?.message ?? `exit ${r.status}`})`);
        process.exit(1);
      }
    }
    copyFileSync(wasm, join(out, v.file));
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
const kb = (f) => `${(statSync(join(out, f)).size / 1024).toFixed(1)} KiB`;
console.log(`build-wasm: ${variants.map((v) => `dist/wasm/${v.file} ${kb(v.file)}`).join(', ')} (${clang}, ${wasmLd})`);
