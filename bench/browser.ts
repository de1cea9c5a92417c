/**
 * Browser benchmark (issue 13, "Measure it"): exports the page for a model,
 * opens it in headless Chromium (Debian's chromium through playwright-core)
 * and measures, for each kernel set the page can run —
 *   js, wasm (plain memory: a static host without COOP/COEP),
 *   wasm over a shared memory (the page cross-origin isolated, as under s2s serve), one thread,
 *   and the same with worker threads (--threads, default min(4, CPUs))
 * — the download size, the load time (navigation to the page ready), the
 * first translation after opening the page, milliseconds per sentence one at
 * a time and sentences per second in batches of 32, on the first N sentences
 * of the fra.txt test split; then the same sentences in Node on native, wasm
 * and js. All of it for the float32 bundle and for its int8 quantization
 * (`s2s quantize`, made in a temporary folder; --no-int8 skips it). Greedy decoding without the attention replay (the page's own
 * translate() adds a forced pass for its attention map) on both sides.
 * Each browser run gets a fresh profile, so nothing comes from a cache.
 *
 * Usage: npm run bench:browser -- --model DIR [--sentences 200] [--batch 32] [--threads N] [--no-node] [--no-int8]
 * Skips with a message when ../shared/data/fra-eng/fra.txt, chromium or the model is missing.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir, availableParallelism } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBundle } from '../src/bundle/bundle.js';
import { readSplit } from '../src/data/read-split.js';
import { exportWeb } from '../src/web/export.js';
import { quantizeBundle } from '../src/bundle/quantize.js';
import { setKernels, loadNativeKernels, loadWasmKernelsSync, startNodeThreads, jsKernels, type Kernels } from '../src/engine/kernels/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const modelDir = option('model');
const COUNT = Number(option('sentences') ?? 200);
const BATCH = Number(option('batch') ?? 32);
/** Threads of the wasm+threads rows (default: this machine's CPUs, at most 4, as the page picks). */
const THREADS = Number(option('threads') ?? Math.min(4, availableParallelism()));
const corpus = join(root, '..', 'shared', 'data', 'fra-eng', 'fra.txt');
const chromiumPath = process.env.S2S_CHROMIUM ?? '/usr/bin/chromium';

function skip(why: string): never {
  console.log(`bench:browser skipped: ${why}`);
  process.exit(0);
}
if (!modelDir) skip('no --model DIR (e.g. a bundle trained with configs/fra-attention.yaml)');
if (!existsSync(join(modelDir, 'config.json'))) skip(`${modelDir} holds no model bundle`);
if (!existsSync(corpus)) skip(`${corpus} is missing (the fra.txt test split is the workload)`);
if (!existsSync(chromiumPath)) skip(`${chromiumPath} is missing (apt-get install chromium, or set S2S_CHROMIUM)`);
const playwright = await import('playwright-core').catch(() => skip('playwright-core is not installed'));

// ------------------------------------------------------------ workload and page

const bundleConfig = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as { data: Parameters<typeof readSplit>[1] };
const { split } = readSplit(corpus, bundleConfig.data);
const sentences = split.test.slice(0, COUNT).map((p) => p.source);
const work = mkdtempSync(join(tmpdir(), 's2s-bench-browser-'));
let site = join(work, 'site');

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm' };
/** A static host counting the bytes it sends; with `isolated`, the COOP/COEP headers s2s serve sends. */
function host(isolated: boolean): Promise<{ server: Server; url: string; sent: () => number; reset: () => void }> {
  let sent = 0;
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = join(site, ...path.split('/').filter((s) => s && s !== '..'));
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    const body = readFileSync(file);
    sent += body.length;
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store',
      ...(isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {}),
    });
    res.end(body);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({
    server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, sent: () => sent, reset: () => { sent = 0; },
  })));
}

interface Row { name: string; download: string; load: string; first: string; one: number; batched: number; detail: string }
const rows: Row[] = [];
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function browserRun(name: string, isolated: boolean, kernels: 'js' | 'wasm', threads = 1): Promise<string[]> {
  const h = await host(isolated);
  const ctx = await playwright.chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 's2s-bench-chromium-')), {
    executablePath: chromiumPath, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await ctx.newPage();
    const t0 = Date.now();
    await page.goto(`${h.url}?kernels=${kernels}&threads=${threads}`);
    await page.waitForSelector('#s2s-app[data-ready="yes"]', { timeout: 300_000 });
    const load = Date.now() - t0;
    const r = await page.evaluate(async ({ sentences, batch }) => {
      const web = await import(new URL('s2s-web.js', location.href).href) as {
        currentModel(): { translator: { translate(t: string[], o: object): { text: string }[] } } | null; modelInfo(): { engine: string; kernels: string };
      };
      const tr = web.currentModel()!.translator;
      const t1 = performance.now();
      tr.translate([sentences[0]], { batchSize: 1 });
      const first = performance.now() - t1;
      const outs: string[] = [];
      const t2 = performance.now();
      for (const s of sentences) outs.push(tr.translate([s], { batchSize: 1 })[0].text);
      const one = (performance.now() - t2) / sentences.length;
      const t3 = performance.now();
      for (let i = 0; i < sentences.length; i += batch) tr.translate(sentences.slice(i, i + batch), { batchSize: batch });
      const batched = sentences.length / ((performance.now() - t3) / 1000);
      // Where the load went, in ms since navigation start: the page's response, then WebModel.load's marks.
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
      const marks = [`page ${nav ? nav.responseEnd.toFixed(0) : '?'}`, ...performance.getEntriesByType('mark').filter((m) => m.name.startsWith('s2s:')).map((m) => `${m.name.slice(4)} ${m.startTime.toFixed(0)}`)].join(', ');
      // The page's own moment of readiness (since navigation start): Playwright notices the attribute a little later.
      const readyAt = performance.getEntriesByName('s2s:ready')[0]?.startTime ?? NaN;
      return { first, one, batched, outs, marks, readyAt, engine: web.modelInfo().engine, kernels: web.modelInfo().kernels, isolated: crossOriginIsolated };
    }, { sentences, batch: BATCH });
    if (r.kernels !== kernels) throw new Error(`${name}: the page runs ${r.kernels}, not ${kernels}`);
    const readyMs = Number.isFinite(r.readyAt) ? r.readyAt : load;
    rows.push({ name, download: mb(h.sent()), load: `${readyMs.toFixed(0)} ms`, first: `${(readyMs + r.first).toFixed(0)} ms`, one: r.one, batched: r.batched, detail: `${r.engine}${r.isolated ? ', isolated' : ''}; load timeline (ms): ${r.marks}; Playwright saw it ready at ${load}` });
    return r.outs;
  } finally {
    await ctx.close();
    await new Promise((ok) => h.server.close(ok));
  }
}

function nodeRun(name: string, k: Kernels | null, model: string): string[] | null {
  if (!k) {
    rows.push({ name, download: '', load: '', first: '', one: NaN, batched: NaN, detail: 'not available' });
    return null;
  }
  setKernels(k);
  const t0 = performance.now();
  const { translator } = loadBundle(model); // after setKernels: the weights go where these kernels want them
  const load = performance.now() - t0;
  translator.translate(sentences.slice(0, 4), { batchSize: 4 }); // warm-up
  const outs: string[] = [];
  const t1 = performance.now();
  for (const s of sentences) outs.push(translator.translate([s], { batchSize: 1 })[0].text);
  const one = (performance.now() - t1) / sentences.length;
  const t2 = performance.now();
  for (let i = 0; i < sentences.length; i += BATCH) translator.translate(sentences.slice(i, i + BATCH), { batchSize: BATCH });
  const batched = sentences.length / ((performance.now() - t2) / 1000);
  rows.push({ name, download: '', load: `${load.toFixed(0)} ms`, first: '', one, batched, detail: k.description });
  return outs;
}

// ------------------------------------------------------------ run

console.log(`bench:browser: ${modelDir}, ${sentences.length} sentences of the fra.txt test split, batches of ${BATCH}`);
console.log(`  ${availableParallelism()} CPUs, load average at start ${loadavg().map((x) => x.toFixed(2)).join(' ')} (other processes skew timings); Chromium ${chromiumPath}`);
const outputs: Record<string, string[] | null> = {};
const variants: [string, string][] = [['float32', modelDir]];
if (!args.includes('--no-int8')) {
  quantizeBundle(modelDir, join(work, 'int8'));
  variants.push(['int8', join(work, 'int8')]);
}
for (const [dtype, model] of variants) {
  site = join(work, `site-${dtype}`);
  exportWeb(model, site);
  outputs[`js ${dtype}`] = await browserRun(`Chromium · js · ${dtype}`, false, 'js');
  outputs[`wasm ${dtype}`] = await browserRun(`Chromium · wasm · ${dtype}`, false, 'wasm');
  outputs[`wasmShared ${dtype}`] = await browserRun(`Chromium · wasm iso. · ${dtype}`, true, 'wasm');
  outputs[`wasmThreads ${dtype}`] = await browserRun(`Chromium · wasm+thr. · ${dtype}`, true, 'wasm', THREADS);
  if (!args.includes('--no-node')) {
    outputs[`nodeNative ${dtype}`] = nodeRun(`Node · native · ${dtype}`, loadNativeKernels(), model);
    const wasm = loadWasmKernelsSync();
    outputs[`nodeWasm ${dtype}`] = nodeRun(`Node · wasm · ${dtype}`, wasm, model);
    if (wasm && THREADS > 1) {
      await startNodeThreads(wasm, THREADS);
      outputs[`nodeWasmThreads ${dtype}`] = nodeRun(`Node · wasm+thr. · ${dtype}`, wasm, model);
      wasm.stopThreads();
    }
    outputs[`nodeJs ${dtype}`] = nodeRun(`Node · js · ${dtype}`, jsKernels, model);
  }
}

const js = rows[0];
const w = [30, 10, 9, 10, 9, 7, 14, 7];
const cells = (c: string[]): string => '| ' + c.map((x, i) => (i === 0 ? x.padEnd(w[i]) : x.padStart(w[i]))).join(' | ') + ' |';
console.log('');
console.log(cells(['kernels', 'download', 'load', 'first', 'ms/sent.', 'vs js', `sent./s (${BATCH})`, 'vs js']));
console.log(cells(w.map((n) => '-'.repeat(n))));
for (const r of rows) {
  const f = (x: number, d: number): string => (Number.isFinite(x) ? x.toFixed(d) : '—');
  console.log(cells([r.name, r.download, r.load, r.first, f(r.one, 1), f(js.one / r.one, 1) + (Number.isFinite(r.one) ? '×' : ''), f(r.batched, 1), f(r.batched / js.batched, 1) + (Number.isFinite(r.batched) ? '×' : '')]));
}
console.log('');
for (const r of rows) console.log(`  ${r.name}: ${r.detail}`);
const same = (a: string[] | null | undefined, b: string[] | null | undefined): string => (!a || !b ? 'n/a' : a.every((x, i) => x === b[i]) ? 'identical' : `${a.filter((x, i) => x !== b[i]).length} differ`);
for (const [dtype] of variants) {
  console.log(`  translations (${dtype}): Chromium wasm vs Node wasm ${same(outputs[`wasm ${dtype}`], outputs[`nodeWasm ${dtype}`])}; Chromium wasm plain vs isolated ${same(outputs[`wasm ${dtype}`], outputs[`wasmShared ${dtype}`])}; Chromium js vs Node js ${same(outputs[`js ${dtype}`], outputs[`nodeJs ${dtype}`])}`);
}
console.log(`  "load" = the page's s2s:ready mark (ms since navigation start), "first" = load + the first sentence; "vs js" = Chromium js on float32 as 1×; the issue's targets: wasm ≥ 5× js; int8 wasm+threads ≥ 150 sentences/s batched and < 10 ms one at a time; first translation within 1 s`);
rmSync(work, { recursive: true, force: true });
