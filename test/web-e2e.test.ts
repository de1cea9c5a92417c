/**
 * End to end in real headless Chromium: train a tiny model with the CLI,
 * export the page, and type a sentence into it — first from a plain static
 * host (no server: the switch is hidden, the browser translates), then from
 * `s2s serve` (createServer with the exported folder): the browser and the
 * server must both print exactly what `s2s translate` prints on the same
 * kernels — the page runs the wasm kernels (plain memory on the static host,
 * shared memory under s2s serve's COOP/COEP headers), so it must print what
 * `S2S_KERNELS=wasm s2s translate` prints, and the server (js here) what
 * `S2S_KERNELS=js s2s translate` prints. Without a wasm build the page runs on
 * js and is held to js. A screenshot is saved to test-artifacts/web-e2e.png.
 *
 * Needs Debian's chromium (/usr/bin/chromium, or S2S_CHROMIUM) and the
 * playwright-core dev dependency; skipped with a message when either is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, mkdirSync, readFileSync, existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCorpus, formatCorpusTsv } from '../src/data/synthetic.js';
import { setKernels } from '../src/engine/index.js';
import { loadBundle } from '../src/bundle/bundle.js';
import { createServer } from '../src/serve/server.js';
import { exportWeb } from '../src/web/export.js';

type Playwright = typeof import('playwright-core');
type Page = import('playwright-core').Page;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 's2s.js');
const chromiumPath = process.env.S2S_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let playwright: Playwright | null = null;
try {
  playwright = await import('playwright-core');
} catch {
  playwright = null;
}
const skip = !existsSync(chromiumPath)
  ? `${chromiumPath} is missing (apt-get install -y chromium, or set S2S_CHROMIUM)`
  : !playwright
    ? 'playwright-core is not installed (npm ci installs the dev dependencies)'
    : false;
if (skip) process.stderr.write(`web-e2e: skipped: ${skip}\n`);

/** The server and training compute with the TypeScript kernels; the page with wasm when it is built (checked against the CLI on wasm). */
const JS_ENV = { ...process.env, S2S_KERNELS: 'js' };
const WASM_BUILT = existsSync(join(root, 'dist', 'wasm', 's2s-kernels.wasm')) && existsSync(join(root, 'dist', 'wasm', 's2s-kernels-mt.wasm'));
const PAGE_ENV = WASM_BUILT ? { ...process.env, S2S_KERNELS: 'wasm' } : JS_ENV;
/** What the page's engine line names. */
const PAGE_KERNELS = WASM_BUILT ? /in this browser · wasm kernels/ : /in this browser · TypeScript kernels/;

function s2s(args: string[], env: NodeJS.ProcessEnv = JS_ENV): string {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root, env, timeout: 300_000 });
  assert.equal(r.status, 0, `s2s ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.bin': 'application/octet-stream' };

/** A plain static host (like `python3 -m http.server`): files for GET, nothing else. */
function staticServer(folder: string): Promise<Server> {
  const server = createHttpServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = join(folder, ...path.split('/').filter((s) => s && s !== '..'));
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (req.method !== 'GET' || !existsSync(file)) {
      res.writeHead(req.method === 'GET' ? 404 : 501, { 'content-type': 'text/html' });
      res.end('<h1>not here</h1>');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

/** Types like a person and waits until the translation shown is of the whole text, by the given engine. */
async function typeAndTranslate(page: Page, text: string, engine: 'browser' | 'server'): Promise<string> {
  await page.locator('#source').fill('');
  await page.locator('#source').pressSequentially(text, { delay: 25 });
  return waitForTranslation(page, engine);
}

/** Which kernels the page's model runs on, whether the page is cross-origin isolated, the wasm memory kind, and the threads. */
async function pageKernels(page: Page): Promise<{ kernels: string; isolated: boolean; memory: string; threads: number }> {
  return page.evaluate(async () => {
    const web = await import(new URL('s2s-web.js', location.href).href) as { modelInfo(): { kernels: string; engine: string } };
    const info = web.modelInfo();
    const threads = Number(/(\d+) threads?\)$/.exec(info.engine)?.[1] ?? 0);
    return { kernels: info.kernels, isolated: crossOriginIsolated, memory: /shared memory/.test(info.engine) ? 'shared' : 'plain', threads };
  });
}

async function waitForTranslation(page: Page, engine: 'browser' | 'server'): Promise<string> {
  await page.waitForFunction((want) => {
    const out = document.getElementById('translation') as HTMLElement;
    const src = document.getElementById('source') as HTMLTextAreaElement;
    return out.dataset.state === 'done' && out.dataset.engine === want && out.dataset.source === src.value;
  }, engine, { timeout: 60_000 });
  return (await page.locator('#translation').textContent()) ?? '';
}

test('the page translates in Chromium, in the browser and on the server, exactly as s2s translate', { skip, timeout: 600_000 }, async () => {
  assert.ok(playwright);
  setKernels('js');
  const dir = mkdtempSync(join(tmpdir(), 's2s-web-e2e-'));
  const data = join(dir, 'pairs.tsv');
  writeFileSync(data, formatCorpusTsv(generateCorpus({ size: 600, seed: 5, maxSourceLength: 24 })));
  const model = join(dir, 'model');
  s2s(['train', '--data', data, '--out', model, '--samples', '300', '--epochs', '10', '--latent-dim', '32', '--attention', 'general',
    '--batch-size', '16', '--optimizer', 'adam', '--lr', '0.01', '--max-target-length', '40', '--examples', '0']);
  const site = join(dir, 'site');
  exportWeb(model, site);

  const sentence = 'Are you happy?';
  const withUnknown = 'Are you happy? Ω';
  const expected = s2s(['translate', '--model', model, sentence]).replace(/\n$/, '');
  const expectedUnknown = s2s(['translate', '--model', model, withUnknown]).replace(/\n$/, '');
  const pageExpected = s2s(['translate', '--model', model, sentence], PAGE_ENV).replace(/\n$/, '');
  const pageExpectedUnknown = s2s(['translate', '--model', model, withUnknown], PAGE_ENV).replace(/\n$/, '');
  assert.ok(expected.length > 0);

  const browser = await playwright.chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 's2s-chromium-')), {
    executablePath: chromiumPath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1200, height: 900 },
  });
  const errors: string[] = [];
  const posts: string[] = [];
  const statics = await staticServer(site);
  const served = createServer({ bundle: loadBundle(model), port: 0, webDir: site, log: () => {} });
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    // The server's Content-Security-Policy must not block anything the page does.
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) errors.push(m.text());
    });
    page.on('request', (r) => { if (r.method() === 'POST') posts.push(`${new URL(r.url()).pathname} ${r.postData() ?? ''}`); });

    // 1. A static host: no server, so no switch; the browser translates.
    await page.goto(`http://127.0.0.1:${(statics.address() as AddressInfo).port}/`);
    await page.waitForSelector('#s2s-app[data-ready="yes"]', { timeout: 60_000 });
    assert.equal(await page.locator('#s2s-app').getAttribute('data-server'), 'no');
    assert.equal(await page.locator('#mode').isVisible(), false, 'the browser/server switch is hidden on a static host');
    assert.equal(await typeAndTranslate(page, sentence, 'browser'), pageExpected);
    assert.match((await page.locator('#engine').textContent()) ?? '', PAGE_KERNELS);
    if (WASM_BUILT) assert.deepEqual(await pageKernels(page), { kernels: 'wasm', isolated: false, memory: 'plain', threads: 1 }, 'a static host without COOP/COEP: wasm over a plain memory, one thread');
    assert.match((await page.locator('#model-info').textContent()) ?? '', /LSTM, 1 × 32 units.*general.*Source vocabulary\d+ characters/s);
    assert.ok(await page.locator('#attention svg.heatmap rect.cell').count() > 0, 'attention map drawn');
    // Both drawings are src/plot/'s (the attention map's colour bar, the history plot's series), not page copies.
    assert.equal(await page.locator('#attention svg.heatmap g.colorbar').count(), 1, 'the attention map is plot/attention.ts');
    assert.ok(await page.locator('figure.curve svg g.series.train-loss circle.point').count() >= 2, 'the curves are plot/history.ts');
    // Markup in tokens (a server may send anything) stays text: no element is created from it.
    const hostile = await page.evaluate(async () => {
      const web = await import(new URL('s2s-web.js', location.href).href) as {
        attentionFigure(doc: Document, map: { sourceTokens: string[]; outputTokens: string[]; weights: number[][] }): SVGSVGElement;
      };
      const bad = '<img src=x onerror="window.__pwned = 1">';
      const svg = web.attentionFigure(document, { sourceTokens: [bad, '&amp;'], outputTokens: ['</text><script>window.__pwned = 2</script>'], weights: [[0.5, 0.5]] });
      document.body.appendChild(svg);
      const out = { imgs: svg.querySelectorAll('img, script').length, labels: [...svg.querySelectorAll('text.label')].map((t) => t.querySelector('title')?.textContent ?? t.textContent), pwned: (window as { __pwned?: number }).__pwned ?? 0 };
      svg.remove();
      return out;
    });
    assert.deepEqual(hostile, {
      imgs: 0,
      // Full tokens (long ones are cut in the label and whole in its tooltip), spaces made visible.
      labels: ['<img␣src=x␣onerror="window.__pwned␣=␣1">', '&amp;', '</text><script>window.__pwned␣=␣2</script>'],
      pwned: 0,
    });
    assert.equal(posts.length, 0, 'nothing was sent anywhere');

    // 2. s2s serve with the exported folder: both modes.
    await served.listen();
    await page.goto(served.url() + '/');
    await page.waitForSelector('#s2s-app[data-ready="yes"]', { timeout: 60_000 });
    assert.equal(await page.locator('#s2s-app').getAttribute('data-server'), 'yes');
    assert.equal(await page.locator('#mode').isVisible(), true, 'the switch is shown next to a server');
    assert.equal(await typeAndTranslate(page, sentence, 'browser'), pageExpected, 'browser mode');
    if (WASM_BUILT) {
      // s2s serve sends COOP/COEP: wasm over a shared memory, on worker threads (as many as Chromium reports CPUs, at most 4).
      const cpus = await page.evaluate(() => navigator.hardwareConcurrency);
      assert.deepEqual(await pageKernels(page), { kernels: 'wasm', isolated: true, memory: 'shared', threads: Math.min(4, cpus) }, 'wasm over a shared memory with threads');
    }
    assert.equal(posts.length, 0, 'browser mode does not ask the server');
    await page.locator('label[for="mode-server"]').click();
    assert.equal(await waitForTranslation(page, 'server'), expected, 'server mode, after switching');
    assert.equal(await typeAndTranslate(page, withUnknown, 'server'), expectedUnknown, 'server mode, typing');
    assert.ok(posts.some((p) => p.startsWith('/translate ') && JSON.parse(p.slice('/translate '.length)).text === withUnknown), `the server was asked: ${posts.join(' | ')}`);
    assert.match((await page.locator('#engine').textContent()) ?? '', /on the server/);
    assert.ok(await page.locator('#attention svg.heatmap rect.cell').count() > 0, 'attention map from the server');
    // The unknown character is marked in the text box and named for screen readers.
    assert.equal(await page.locator('#source-marks mark').textContent(), 'Ω');
    assert.match((await page.locator('#unknown').textContent()) ?? '', /Unknown to the model: Ω/);
    // And back to the browser, with the same text.
    await page.locator('label[for="mode-browser"]').click();
    assert.equal(await waitForTranslation(page, 'browser'), pageExpectedUnknown, 'browser mode, switched back');

    // 3. A hostile history.json on the static host (records without numeric losses, deep nesting): the page
    //    still loads and translates; the invalid records are dropped, so there is no chart instead of a stopped page.
    const deep = '['.repeat(20_000) + '1' + ']'.repeat(20_000);
    writeFileSync(join(site, 'model', 'history.json'), `[{"epoch":1,"step":1,"trainLoss":"NaN"},{"epoch":2,"step":2},${deep}]`);
    await page.goto(`http://127.0.0.1:${(statics.address() as AddressInfo).port}/`);
    await page.waitForSelector('#s2s-app[data-ready="yes"]', { timeout: 60_000 });
    assert.equal(await typeAndTranslate(page, sentence, 'browser'), pageExpected, 'translates with a hostile history');
    assert.equal(await page.locator('figure.curve').count(), 0, 'no chart for a history without valid records');
    assert.equal(await page.locator('#source').isDisabled(), false, 'the text box is usable');

    mkdirSync(join(root, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(root, 'test-artifacts', 'web-e2e.png'), fullPage: true });
    assert.deepEqual(errors, [], 'no script errors on the page');
  } finally {
    await browser.close();
    await served.close();
    await new Promise((ok) => statics.close(ok));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the page translates with a Transformer bundle in Chromium (browser and server), with its architecture and attention map', { skip, timeout: 600_000 }, async () => {
  assert.ok(playwright);
  setKernels('js');
  const dir = mkdtempSync(join(tmpdir(), 's2s-web-e2e-tf-'));
  const data = join(dir, 'pairs.tsv');
  writeFileSync(data, formatCorpusTsv(generateCorpus({ size: 400, seed: 5, maxSourceLength: 24 })));
  const model = join(dir, 'model');
  s2s(['train', '--data', data, '--out', model, '--samples', '300', '--epochs', '4', '--arch', 'transformer', '--model-dim', '32', '--heads', '4', '--ff-dim', '64',
    '--layers', '1', '--batch-size', '16', '--optimizer', 'adam', '--lr', '0.005', '--max-target-length', '40', '--examples', '0']);
  const site = join(dir, 'site');
  exportWeb(model, site);
  const sentence = 'Are you happy?';
  const expected = s2s(['translate', '--model', model, sentence]).replace(/\n$/, '');
  const pageExpected = s2s(['translate', '--model', model, sentence], PAGE_ENV).replace(/\n$/, '');
  assert.ok(expected.length > 0);

  const browser = await playwright.chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 's2s-chromium-')), {
    executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1200, height: 900 },
  });
  const errors: string[] = [];
  const statics = await staticServer(site);
  const served = createServer({ bundle: loadBundle(model), port: 0, webDir: site, log: () => {} });
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${(statics.address() as AddressInfo).port}/`);
    await page.waitForSelector('#s2s-app[data-ready="yes"]', { timeout: 60_000 });
    assert.equal(await typeAndTranslate(page, sentence, 'browser'), pageExpected, 'the browser translates as s2s translate on the same kernels');
    assert.match((await page.locator('#engine').textContent()) ?? '', PAGE_KERNELS);
    const info = (await page.locator('#model-info').textContent()) ?? '';
    assert.match(info, /Transformer, 1 \+ 1 layers × 32 \(d_model\), pre-LN/);
    assert.match(info, /4 heads of 8: self-attention, cross-attention/);
    assert.match(info, /Feed-forward64, ReLU/);
    assert.doesNotMatch(info, /LSTM|units/);
    assert.ok(await page.locator('#attention svg.heatmap rect.cell').count() > 0, 'attention map drawn');
    assert.match((await page.locator('#attention').textContent()) ?? '', /Cross-attention of the last decoder layer, averaged over its 4 heads/);

    await served.listen();
    await page.goto(served.url() + '/');
    await page.waitForSelector('#s2s-app[data-ready="yes"]', { timeout: 60_000 });
    await page.locator('label[for="mode-server"]').click();
    assert.equal(await typeAndTranslate(page, sentence, 'server'), expected, 'server mode');
    assert.ok(await page.locator('#attention svg.heatmap rect.cell').count() > 0, 'attention map from the server');
    mkdirSync(join(root, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: join(root, 'test-artifacts', 'web-e2e-transformer.png'), fullPage: true });
    assert.deepEqual(errors, [], 'no script errors on the page');
  } finally {
    await browser.close();
    await served.close();
    await new Promise((ok) => statics.close(ok));
    rmSync(dir, { recursive: true, force: true });
  }
});
