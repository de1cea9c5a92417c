#!/usr/bin/env node
/**
 * Builds the browser side of s2s into dist/web/: s2s-web.js (an ES2020
 * module bundled and minified by esbuild from src/web/browser.ts),
 * index.html (from src/web/page.html) and page.css. `s2s export-web` copies
 * these next to a model. Run after tsc (`npm run build` does both).
 */
import { build } from 'esbuild';
import { mkdirSync, copyFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: [join(root, 'src', 'web', 'browser.ts')],
  outfile: join(out, 's2s-web.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});

// The browser bundle must not depend on Node: esbuild already refuses node: imports
// for the browser platform; this names the culprit if a bare builtin slipped in.
for (const [file, input] of Object.entries(result.metafile.inputs)) {
  for (const imp of input.imports) {
    if (imp.path.startsWith('node:') || (imp.external && imp.path !== '<runtime>')) {
      console.error(`build-web: ${file} imports ${imp.path}, which the browser cannot load`);
      process.exit(1);
    }
  }
}

copyFileSync(join(root, 'src', 'web', 'page.html'), join(out, 'index.html'));
copyFileSync(join(root, 'src', 'web', 'page.css'), join(out, 'page.css'));
// The wasm kernels (scripts/build-wasm.mjs) beside the page, when they were built; else the page runs on js.
const wasm = ['s2s-kernels.wasm', 's2s-kernels-mt.wasm'].filter((f) => existsSync(join(root, 'dist', 'wasm', f)));
for (const f of wasm) copyFileSync(join(root, 'dist', 'wasm', f), join(out, f));
const kb = (f) => `${(statSync(join(out, f)).size / 1024).toFixed(1)} KiB`;
console.log(`build-web: dist/web/s2s-web.js ${kb('s2s-web.js')}, index.html, page.css${wasm.length ? `, ${wasm.join(', ')}` : ' (no wasm kernels: not built)'}`);
