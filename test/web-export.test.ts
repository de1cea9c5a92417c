/**
 * `s2s export-web` and the browser bundle: the exported folder is complete
 * and self-contained, and the bundled s2s-web.js — imported here in Node with
 * a fetch that reads the exported files — translates exactly as the Node
 * translator does (same kernels and shapes: same text, log-probability and
 * attention, bit for bit).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startServeProcess } from './helpers/http.js';
import { mkdtempSync, readFileSync, existsSync, rmSync, copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setKernels } from '../src/engine/index.js';
import { saveBundle, loadBundle } from '../src/bundle/bundle.js';
import { quantizeBundle } from '../src/bundle/quantize.js';
import { exportWeb, cachedWebFolder, defaultWebFolder, defaultAssetsDir, WEB_ASSETS, OPTIONAL_WEB_ASSETS } from '../src/web/export.js';
import type * as WebApi from '../src/web/browser.js';
import { tinySetup, bundlePartsFor } from './helpers/tiny.js';
import { tinyTransformerSetup, transformerBundleParts, TINY_TRANSFORMER } from './helpers/tiny-transformer.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tmp = (): string => mkdtempSync(join(tmpdir(), 's2s-web-export-'));

function saveTiny(dir: string, model: Parameters<typeof tinySetup>[1] = {}): { pairs: { source: string; target: string }[] } {
  if (model.arch === 'transformer') {
    const t = tinyTransformerSetup(16, model);
    saveBundle(dir, transformerBundleParts(t, { maxTargetLength: 30 }));
    return t;
  }
  const setup = tinySetup(16, model);
  const parts = bundlePartsFor(setup, { maxTargetLength: 30 });
  saveBundle(dir, parts);
  return setup;
}

/** A fetch serving the files of `folder` at http://static.test/; with `chunk`, bodies also stream in pieces of that many bytes, as a download arrives. */
function folderFetch(folder: string, seen: string[] = [], chunk = 0): NonNullable<WebApi.LoadOptions['fetch']> {
  return async (url: string) => {
    seen.push(url);
    const u = new URL(url);
    const path = join(folder, ...decodeURIComponent(u.pathname).split('/').filter(Boolean));
    const ok = u.origin === 'http://static.test' && existsSync(path);
    const bytes = ok ? readFileSync(path) : Buffer.from('not found');
    return {
      ok,
      status: ok ? 200 : 404,
      statusText: ok ? 'OK' : 'Not Found',
      json: async () => JSON.parse(bytes.toString('utf8')) as unknown,
      arrayBuffer: async () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
      ...(chunk > 0 ? {
        body: {
          getReader: () => {
            let at = 0;
            return {
              read: async () => {
                if (at >= bytes.length) return { done: true };
                const value = new Uint8Array(bytes.subarray(at, at + chunk));
                at += chunk;
                return { done: false, value };
              },
            };
          },
        },
      } : {}),
    };
  };
}

/** Imports the exported s2s-web.js (copied to .mjs: the export folder has no package.json saying "module"). */
async function importWebBundle(folder: string): Promise<typeof WebApi> {
  const copy = join(mkdtempSync(join(tmpdir(), 's2s-web-mod-')), 's2s-web.mjs');
  copyFileSync(join(folder, 's2s-web.js'), copy);
  return (await import(pathToFileURL(copy).href)) as typeof WebApi;
}

const SENTENCES = ['I am happy.', 'Where is the cat?', 'They eat bread.', 'Ω€ unknown!', ''];

test('the page assets were built into dist/web by npm run build', () => {
  for (const f of WEB_ASSETS) assert.ok(existsSync(join(defaultAssetsDir(), f)), `${f} missing in ${defaultAssetsDir()}`);
  const js = readFileSync(join(defaultAssetsDir(), 's2s-web.js'), 'utf8');
  assert.ok(!/from\s*["']node:/.test(js) && !/import\(["']node:/.test(js), 'the browser bundle imports no node: builtins');
});

test('export-web writes a self-contained static folder with relative URLs only', () => {
  const dir = tmp();
  const model = join(dir, 'model');
  saveTiny(model);
  const out = join(dir, 'site');
  const r = exportWeb(model, out);
  const blob = JSON.parse(readFileSync(join(model, 'weights.json'), 'utf8')).file as string;
  assert.match(blob, /^weights-[0-9a-f]{8}\.bin$/);
  // The wasm kernels when this build has them (no clang: the page runs on js), and the COOP/COEP _headers file.
  const wasm = OPTIONAL_WEB_ASSETS.filter((f) => existsSync(join(defaultAssetsDir(), f)));
  const expected = ['index.html', 'page.css', 's2s-web.js', ...wasm, '_headers', 'model/config.json', 'model/vocab.json', 'model/weights.json', `model/${blob}`, 'model/history.json'];
  assert.deepEqual([...r.files].sort(), [...expected].sort());
  for (const f of expected) assert.ok(existsSync(join(out, f)), f);
  assert.deepEqual(readFileSync(join(out, 'model', blob)), readFileSync(join(model, blob)));
  assert.ok(!existsSync(join(out, 'model', 'checkpoints')), 'checkpoints are not exported');
  assert.match(readFileSync(join(out, '_headers'), 'utf8'), /^\/\*\n {2}Cross-Origin-Opener-Policy: same-origin\n {2}Cross-Origin-Embedder-Policy: require-corp\n/m);
  assert.equal(r.bytes, expected.reduce((n, f) => n + readFileSync(join(out, f)).length, 0));

  const html = readFileSync(join(out, 'index.html'), 'utf8');
  assert.match(html, /<script type="module" src="s2s-web\.js"><\/script>/);
  assert.match(html, /href="page\.css"/);
  assert.match(html, /data-model="model\/"/);
  // The model's files are preloaded from the HTML (fetched while s2s-web.js loads), as the page's fetch() asks for them.
  const preloads = [...html.matchAll(/<link rel="preload" href="([^"]+)" as="fetch" crossorigin>/g)].map((m) => m[1]);
  assert.deepEqual([...preloads].sort(), expected.filter((f) => f.startsWith('model/')).sort());
  assert.ok(!html.includes('s2s:preload'), 'the marker is replaced');
  for (const m of html.matchAll(/\b(?:src|href)="([^"]*)"/g)) {
    assert.ok(!/^(\/|[a-z]+:\/\/)/i.test(m[1]) || m[1].startsWith('data:'), `absolute URL in index.html: ${m[1]}`);
  }
  // Accessibility basics: a labelled text box, a live result, a language.
  assert.match(html, /<html lang="en">/);
  assert.match(html, /<label for="source"/);
  assert.match(html, /aria-live="polite"/);

  // Exporting again replaces the model (no stale blobs) and keeps other files.
  writeFileSync(join(out, 'model', 'weights-00000000.bin'), 'stale');
  writeFileSync(join(out, 'README.txt'), 'mine');
  exportWeb(model, out);
  assert.deepEqual(readdirSync(join(out, 'model')).sort(), ['config.json', 'history.json', 'vocab.json', 'weights.json', blob].sort());
  assert.equal(readFileSync(join(out, 'README.txt'), 'utf8'), 'mine');
  rmSync(dir, { recursive: true });
});

test('export-web errors: not a model, missing assets, output = model', () => {
  const dir = tmp();
  assert.throws(() => exportWeb(join(dir, 'nope'), join(dir, 'site')), /nope: not a directory/);
  const model = join(dir, 'model');
  saveTiny(model);
  assert.throws(() => exportWeb(model, join(dir, 'site'), { assetsDir: join(dir, 'no-assets') }), /index\.html: missing; build the web page first with `npm run build`/);
  assert.throws(() => exportWeb(model, model), /must not be the model folder/);
  assert.ok(!existsSync(join(dir, 'site')));
  rmSync(dir, { recursive: true });
});

const TRANSFORMERS = [
  TINY_TRANSFORMER,
  { ...TINY_TRANSFORMER, postNorm: true, positions: 'learned' as const, activation: 'gelu' as const, encoderLayers: 2 },
  { ...TINY_TRANSFORMER, tieEmbeddings: true },
];
for (const arch of [{ attention: 'general' as const }, {}, { cell: 'gru' as const, bidirectional: true, attention: 'additive' as const, layers: 2 }, ...TRANSFORMERS]) {
  test(`the browser bundle translates exactly as the Node translator (${JSON.stringify(arch)})`, async () => {
    setKernels('js');
    const dir = tmp();
    const model = join(dir, 'model');
    saveTiny(model, arch);
    const out = join(dir, 'site');
    exportWeb(model, out);
    const web = await importWebBundle(out);
    const seen: string[] = [];
    assert.throws(() => web.translate('x'), /no model loaded/);
    const info = await web.loadModel('http://static.test/model', { fetch: folderFetch(out, seen) });
    const blob = JSON.parse(readFileSync(join(model, 'weights.json'), 'utf8')).file as string;
    assert.deepEqual(seen.map((u) => u.replace('http://static.test/model/', '')).sort(), ['config.json', 'history.json', 'vocab.json', 'weights.json', blob].sort());

    const node = loadBundle(model);
    assert.equal(info.sourceVocabSize, node.vocabs.source.size);
    assert.equal(info.targetVocabSize, node.vocabs.target.size);
    assert.equal(info.parameters, node.model.parameterCount());
    assert.equal(info.arch, node.config.model.arch);
    assert.equal(info.hasAttention, node.model.hasAttention);
    if (arch.arch === 'transformer') {
      assert.match(info.architecture, /^Transformer /);
      const t = node.config.model;
      assert.deepEqual(info.transformer, {
        encoderLayers: t.encoderLayers || t.layers, decoderLayers: t.decoderLayers || t.layers, modelDim: t.modelDim, heads: t.heads, ffDim: t.ffDim,
        activation: t.activation, postNorm: t.postNorm, positions: t.positions, tieEmbeddings: t.tieEmbeddings,
      });
      const rows = Object.fromEntries(web.architectureRows(info));
      assert.match(rows.Architecture, t.postNorm ? /^Transformer, 2 encoder \+ 1 decoder layers × 16 \(d_model\), post-LN$/ : /^Transformer, 1 \+ 1 layers × 16 \(d_model\), pre-LN$/);
      assert.equal(rows.Attention, '2 heads of 8: self-attention, cross-attention');
      assert.equal(rows['Feed-forward'], t.activation === 'gelu' ? '32, GELU' : '32, ReLU');
      assert.match(rows.Embeddings, new RegExp(`^16 dimensions, ${t.tieEmbeddings ? 'one table for source, target and output' : 'separate tables'}; ${t.positions} positions$`));
    } else {
      assert.equal(info.transformer, null);
      assert.deepEqual(web.architectureRows(info)[0], ['Architecture', `${info.bidirectional ? 'bidirectional ' : ''}${info.cell.toUpperCase()}, ${info.layers} × ${info.latentDim} units`]);
      assert.equal(info.cell, node.config.model.cell);
      assert.equal(info.attention, node.config.model.attention);
    }
    assert.equal(info.sourceLevel, 'char');
    assert.match(info.engine, /TypeScript kernels/);

    const withAttention = node.model.hasAttention;
    const opts = { attention: withAttention };
    // One sentence at a time on both sides: the same (js) kernels on the same
    // shapes, so the values must agree bit for bit.
    const expected = SENTENCES.map((s) => node.translator.translate([s], opts)[0]);
    for (const [i, s] of SENTENCES.entries()) {
      const got = web.translate(s);
      const want = expected[i] as (typeof expected)[number] & { attention?: { weights: number[][]; sourceTokens: string[]; outputTokens: string[] } };
      assert.equal(got.text, want.text, `translation of ${JSON.stringify(s)}`);
      assert.equal(got.logProb, want.logProb);
      assert.equal(got.finished, want.finished);
      assert.deepEqual(got.unknown, want.unknown);
      if (withAttention && want.attention) {
        assert.ok(got.attention, 'attention map');
        assert.deepEqual(got.attention.weights, want.attention.weights);
        assert.deepEqual(got.attention.sourceTokens, want.attention.sourceTokens);
        assert.deepEqual(got.attention.outputTokens, want.attention.outputTokens);
      } else if (!withAttention) {
        assert.equal(got.attention, null);
      }
    }
    // A batch gives the same texts as one by one (other row counts: texts, not bits).
    assert.deepEqual(web.currentModel()?.translateMany(SENTENCES).map((t) => t.text), expected.map((t) => t.text));
    assert.deepEqual(web.modelInfo(), info);
    rmSync(dir, { recursive: true });
  });
}

test('a weights blob read as it streams in (checksummed chunk by chunk) loads the same model, and a damaged one is refused', async () => {
  setKernels('js');
  const dir = tmp();
  const model = join(dir, 'model');
  saveTiny(model, { attention: 'general' });
  const out = join(dir, 'site');
  exportWeb(model, out);
  const web = await importWebBundle(out);
  await web.loadModel('http://static.test/model/', { fetch: folderFetch(out) });
  const whole = SENTENCES.map((s) => web.translate(s));
  for (const chunk of [777, 1 << 14, 1 << 20]) {
    await web.loadModel('http://static.test/model/', { fetch: folderFetch(out, [], chunk) });
    assert.deepEqual(SENTENCES.map((s) => web.translate(s)), whole, `chunks of ${chunk} bytes`);
  }
  const blob = JSON.parse(readFileSync(join(out, 'model', 'weights.json'), 'utf8')).file as string;
  const bytes = readFileSync(join(out, 'model', blob));
  bytes[bytes.length >> 1] ^= 0x40;
  writeFileSync(join(out, 'model', blob), bytes);
  await assert.rejects(web.loadModel('http://static.test/model/', { fetch: folderFetch(out, [], 777) }), /weights: checksum mismatch: the weights file is corrupted/);
  rmSync(dir, { recursive: true });
});

test('unknown characters are located in the text', async () => {
  const dir = tmp();
  const model = join(dir, 'model');
  const setup = saveTiny(model);
  const out = join(dir, 'site');
  exportWeb(model, out);
  const web = await importWebBundle(out);
  await web.loadModel('http://static.test/model/', { fetch: folderFetch(out) });
  const m = web.currentModel();
  assert.ok(m);
  const known = setup.pairs[0].source;
  assert.deepEqual(m.segments(`${known} Ω€ ${known}`), [
    { text: `${known} `, unknown: false },
    { text: 'Ω€', unknown: true },
    { text: ` ${known}`, unknown: false },
  ]);
  assert.deepEqual(m.segments(''), []);
  assert.deepEqual(m.segments(`${known}\nΩ`), [{ text: `${known}\n`, unknown: false }, { text: 'Ω', unknown: true }], 'line breaks are never unknown');
  assert.deepEqual(m.translate('Ω€').unknown, ['Ω', '€']);
  await assert.rejects(web.loadModel('http://static.test/missing/', { fetch: folderFetch(out) }), /http:\/\/static\.test\/missing\/config\.json: HTTP 404/);
  rmSync(dir, { recursive: true });
});

test('s2s export-web on the command line', () => {
  const dir = tmp();
  const model = join(dir, 'model');
  saveTiny(model);
  const out = join(dir, 'site');
  const r = spawnSync(process.execPath, [join(root, 'bin', 's2s.js'), 'export-web', '--model', model, '--out', out], { encoding: 'utf8', cwd: root });
  assert.equal(r.status, 0, r.stderr);
  const files = 9 + OPTIONAL_WEB_ASSETS.filter((f) => existsSync(join(defaultAssetsDir(), f))).length;
  assert.match(r.stdout, new RegExp(`wrote ${files} files .* to .*site; try: cd .*site && python3 -m http\\.server`));
  for (const f of ['index.html', 'page.css', 's2s-web.js', 'model/config.json']) assert.ok(existsSync(join(out, f)), f);
  const bad = spawnSync(process.execPath, [join(root, 'bin', 's2s.js'), 'export-web', '--model', join(dir, 'nope'), '--out', out], { encoding: 'utf8', cwd: root });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /nope: not a directory/);
  rmSync(dir, { recursive: true });
});

test('cachedWebFolder exports once per model version and page build', () => {
  const dir = tmp();
  const model = join(dir, 'model');
  saveTiny(model);
  const cacheRoot = join(dir, 'cache');
  const a = cachedWebFolder(model, { cacheRoot });
  assert.ok(a.startsWith(cacheRoot));
  for (const f of ['index.html', 'page.css', 's2s-web.js', 'model/config.json']) assert.ok(existsSync(join(a, f)), f);
  writeFileSync(join(a, 'marker'), 'reused');
  assert.equal(cachedWebFolder(model, { cacheRoot }), a, 'reused while nothing changed');
  assert.ok(existsSync(join(a, 'marker')));
  saveTiny(model, { latentDim: 8 });
  const b = cachedWebFolder(model, { cacheRoot });
  assert.notEqual(b, a, 'a new model gets a new folder');
  assert.deepEqual(readFileSync(join(b, 'model', 'config.json')), readFileSync(join(model, 'config.json')));
  assert.deepEqual(readdirSync(cacheRoot).filter((f) => f.includes('.partial-')), [], 'no partial folders left');
  const lines: string[] = [];
  assert.equal(defaultWebFolder(model, (l) => lines.push(l), { cacheRoot, assetsDir: join(dir, 'none') }), null);
  assert.match(lines.join('\n'), /no web page at \/ \(.*index\.html: missing/);
  rmSync(dir, { recursive: true });
});

test('int8 bundles (s2s quantize): export-web ships them and the browser bundle translates them exactly as the Node translator, on the TypeScript kernels', async () => {
  setKernels('js');
  for (const arch of [{ attention: 'general', embeddingDim: 8 }, { ...TINY_TRANSFORMER, tieEmbeddings: true }] as Parameters<typeof tinySetup>[1][]) {
    const dir = tmp();
    saveTiny(join(dir, 'f32'), arch);
    const model = join(dir, 'model');
    quantizeBundle(join(dir, 'f32'), model);
    const out = join(dir, 'site');
    exportWeb(model, out);
    assert.equal(JSON.parse(readFileSync(join(out, 'model', 'weights.json'), 'utf8')).version, 2);
    const web = await importWebBundle(out);
    const info = await web.loadModel('http://static.test/model', { fetch: folderFetch(out) });
    assert.equal(info.weights, 'int8');
    const node = loadBundle(model);
    for (const s of SENTENCES) {
      const want = node.translator.translate([s])[0], got = web.translate(s);
      assert.equal(got.text, want.text, `${arch?.arch ?? "rnn"}: ${JSON.stringify(s)}`);
      assert.equal(got.logProb, want.logProb);
    }
    rmSync(dir, { recursive: true });
  }
});

test('s2s quantize on the command line, then s2s translate and s2s serve with the int8 bundle', async () => {
  const dir = tmp();
  saveTiny(join(dir, 'f32'), { attention: 'dot', embeddingDim: 8 });
  const int8 = join(dir, 'int8');
  const run = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
    spawnSync(process.execPath, [join(root, 'bin', 's2s.js'), ...args], { encoding: 'utf8', cwd: root });
  const q = run(['quantize', '--model', join(dir, 'f32'), '--out', int8]);
  assert.equal(q.status, 0, q.stderr);
  assert.match(q.stdout, /^quantized \d+ matrices \([\d,]+ weights\) to int8, \d+ tensors \([\d,]+ values\) left float32: [\d.]+ MiB \(0\.\d+× the [\d.]+ MiB of .*\) in /);
  const again = run(['quantize', '--model', int8, '--out', join(dir, 'again')]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already quantized/);
  const t = run(['translate', '--model', int8, 'I am happy.']);
  assert.equal(t.status, 0, t.stderr);
  assert.equal(t.stdout.trim(), loadBundle(int8).translator.translate(['I am happy.'])[0].text);
  const server = await startServeProcess(join(root, 'bin', 's2s.js'), ['--model', int8], { cwd: root, env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') } });
  try {
    const info = await (await fetch(`${server.url}/model`)).json() as { version: number; weights: string };
    assert.deepEqual([info.version, info.weights], [2, 'int8']);
    const r = await fetch(`${server.url}/translate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'I am happy.' }) });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { translation: string }).translation, t.stdout.trim());
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true });
  }
});

test('s2s serve without --web shows the translation page at /', async () => {
  const dir = tmp();
  const model = join(dir, 'model');
  saveTiny(model);
  const server = await startServeProcess(join(root, 'bin', 's2s.js'), ['--model', model], { cwd: root, env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') } });
  const { url } = server;
  try {
    assert.match(server.stderr(), /\| web .*s2s\/web\//);
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="s2s-web\.js"><\/script>/);
    assert.equal((await fetch(`${url}/s2s-web.js`)).status, 200);
    assert.deepEqual(await (await fetch(`${url}/model/config.json`)).json(), JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')));
    assert.equal((await (await fetch(`${url}/health`)).json() as { status: string }).status, 'ok');
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true });
  }
});
