/**
 * Everything that works for RNN bundles works for a Transformer bundle: a
 * tiny Transformer trained through the library's train() is saved and
 * loaded with its checksums, served (translations, beam search and the
 * attention map over HTTP, /model), evaluated (`s2s eval`), drawn
 * (`s2s plot model`), translated with `--attention-svg` and exported
 * (`s2s export`) by the CLI.
 * The web page on the TypeScript kernels is in web-export.test.ts and
 * web-e2e.test.ts, the hostile bundle files in security-bundle.test.ts and
 * fuzz.test.ts, resume/early stopping/LR decay in reliability-kill.test.ts
 * and train.test.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { train } from '../src/train/run.js';
import { generateCorpus, formatCorpusTsv } from '../src/data/synthetic.js';
import { loadBundle, saveBundle, BundleError, type LoadedBundle } from '../src/bundle/bundle.js';
import { createServer, type S2SServer } from '../src/serve/index.js';
import { httpRequest, startServeProcess } from './helpers/http.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 's2s.js');

function s2s(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root, timeout: 300_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

let dir: string;
let data: string;
let modelDir: string;
let bundle: LoadedBundle;
let server: S2SServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 's2s-transformer-apps-'));
  data = join(dir, 'pairs.tsv');
  writeFileSync(data, formatCorpusTsv(generateCorpus({ size: 240, seed: 5, maxSourceLength: 24 })));
  modelDir = join(dir, 'model');
  await train({
    // Label smoothing from the recipe (tied embeddings are covered in web-export.test.ts: a tiny tied model learns too slowly here).
    data, out: modelDir, arch: 'transformer', modelDim: 24, heads: 2, ffDim: 48, layers: 1, dropout: 0.1, labelSmoothing: 0.1,
    epochs: 3, batchSize: 32, optimizer: 'adam', lr: 0.005, samples: 'all', maxTargetLength: 40, examples: 0, onLog: () => {},
  });
  bundle = loadBundle(modelDir);
  server = createServer({ bundle, port: 0, batchWindowMs: 5, log: () => {} });
  await server.listen();
});

after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const post = (body: unknown): ReturnType<typeof httpRequest> =>
  httpRequest(server.url(), 'POST', '/translate', JSON.stringify(body), { 'content-type': 'application/json' });

test('the bundle is a Transformer\'s, saved with checksums: a reloaded copy translates identically, a flipped byte is refused', () => {
  assert.equal(bundle.config.model.arch, 'transformer');
  assert.equal(bundle.model.hasAttention, true);
  assert.ok(bundle.model.parameters().some((p) => p.name === 'decoder/layer_0/cross_attention/kv_kernel'));
  const copy = join(dir, 'copy');
  saveBundle(copy, bundle);
  const again = loadBundle(copy);
  assert.deepEqual(again.config, bundle.config);
  const texts = ['I am happy.', 'Where is the cat?'];
  assert.deepEqual(again.translator.translate(texts, { beam: 3 }).map((t) => [t.text, t.logProb]), bundle.translator.translate(texts, { beam: 3 }).map((t) => [t.text, t.logProb]));
  const blob = readdirSync(copy).find((f) => /^weights-[0-9a-f]{8}\.bin$/.test(f)) as string;
  const bytes = readFileSync(join(copy, blob));
  bytes[bytes.length >> 1] ^= 0x10;
  writeFileSync(join(copy, blob), bytes);
  assert.throws(() => loadBundle(copy), (e: unknown) => e instanceof BundleError && /checksum|CRC/i.test((e as Error).message));
});

test('serve: translations, beam search and the attention map of a Transformer bundle', async () => {
  const texts = ['I am happy.', 'Where is the cat?', 'We see the dog.'];
  const expected = bundle.translator.translate(texts);
  const many = await post({ texts });
  assert.equal(many.status, 200, many.text);
  assert.deepEqual(many.json.translations.map((t: { text: string }) => t.text), expected.map((t) => t.text));
  const beam = await post({ texts, beam: 4 });
  assert.equal(beam.status, 200, beam.text);
  assert.deepEqual(beam.json.translations.map((t: { text: string }) => t.text), bundle.translator.translate(texts, { beam: 4 }).map((t) => t.text));

  // Cross-attention of the last decoder block, averaged over heads: a distribution over the source per output token.
  const att = await post({ text: texts[1], attention: true });
  assert.equal(att.status, 200, att.text);
  const map = att.json.translations[0].attention as { sourceTokens: string[]; outputTokens: string[]; weights: number[][] };
  const [want] = bundle.translator.translate([texts[1]], { attention: true });
  assert.ok(map && want.attention, 'attention returned');
  assert.deepEqual(map.sourceTokens, Array.from(texts[1]));
  assert.deepEqual(map.outputTokens, want.attention.outputTokens);
  assert.equal(map.outputTokens.at(-1), want.finished ? '</s>' : map.outputTokens.at(-1));
  assert.equal(map.weights.length, map.outputTokens.length);
  const flatWant = want.attention.weights.flat();
  map.weights.forEach((row, r) => {
    assert.equal(row.length, map.sourceTokens.length, `row ${r} length`);
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) <= 5e-5 * row.length + 1e-6, `row ${r} sums to 1`);
  });
  map.weights.flat().forEach((w, i) => assert.ok(Math.abs(w - flatWant[i]) <= 5e-5 + 1e-6, `weight ${i}: ${w} vs ${flatWant[i]}`));
  // The rows are not uniform: the model looks somewhere.
  assert.ok(map.weights.some((row) => Math.max(...row) > 1.5 / row.length), 'attention is not uniform');

  const m = await httpRequest(server.url(), 'GET', '/model');
  assert.equal(m.status, 200);
  assert.equal(m.json.model.arch, 'transformer');
  assert.equal(m.json.model.modelDim, 24);
  assert.equal(m.json.parameters, bundle.model.parameterCount());
});

test('s2s eval, s2s translate --attention-svg, s2s plot model and s2s export on a Transformer bundle', () => {
  const ev = s2s(['eval', '--model', modelDir, '--json', '--beam', '2']);
  assert.equal(ev.code, 0, ev.err);
  const r = JSON.parse(ev.out) as { sentences: number; bleu: { score: number; signature: string }; chrf: { score: number }; exactMatch: number; failed: unknown[] };
  assert.ok(r.sentences > 0);
  assert.ok(Number.isFinite(r.bleu.score) && r.bleu.score >= 0);
  assert.ok(Number.isFinite(r.chrf.score) && r.chrf.score > 0, 'a model that learned something scores chrF > 0');
  assert.deepEqual(r.failed, []);

  const svg = join(dir, 'att.svg');
  const tr = s2s(['translate', '--model', modelDir, '--attention-svg', svg, 'Where is the cat?']);
  assert.equal(tr.code, 0, tr.err);
  assert.equal(tr.out.trim(), bundle.translator.translate(['Where is the cat?'])[0].text.trim());
  assert.match(readFileSync(svg, 'utf8'), /<rect[^>]*class="cell"/);

  const plots = join(dir, 'plots') + '/';
  const p = s2s(['plot', 'model', '--model', modelDir, '--out', plots]);
  assert.equal(p.code, 0, p.err);
  const training = readFileSync(join(plots, 'model-training.svg'), 'utf8');
  const V = bundle.config.model.tgtVocabSize;
  for (const s of ['MultiHeadAttention(2 × 12)', 'MaskedMultiHeadAttention(2 × 12)', 'Dense(48, relu)', 'LayerNorm(24)', '× 1 encoder layer', '(None, None, 24)', `Dense(${V})`, `Embedding(${V}, 24)`, 'output · softmax']) {
    assert.ok(training.includes(s), `training diagram lacks ${s}`);
  }
  assert.ok(readFileSync(join(plots, 'model-decoder.svg'), 'utf8').includes('self_cache_out'));
  assert.ok(existsSync(join(plots, 'model-encoder.svg')));

  // s2s export: the clean folder to ship translates exactly as the training output.
  const shipped = join(dir, 'shipped');
  const ex = s2s(['export', '--model', modelDir, '--out', shipped]);
  assert.equal(ex.code, 0, ex.err);
  assert.ok(!existsSync(join(shipped, 'checkpoints')));
  const texts = ['I am happy.', 'We see the dog.'];
  assert.deepEqual(loadBundle(shipped).translator.translate(texts, { beam: 2 }).map((t) => t.text), bundle.translator.translate(texts, { beam: 2 }).map((t) => t.text));
});

test('s2s serve (the process) logs the Transformer architecture and answers /translate and the page at /', async () => {
  const server = await startServeProcess(bin, ['--model', modelDir], { cwd: root, env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache') } });
  const { url } = server;
  try {
    assert.match(server.stderr(), /model .*\(Transformer 1\+1 layers, d 24, 2 heads, ff 48, [\d,]+ parameters\)/);
    const r = await httpRequest(url, 'POST', '/translate', JSON.stringify({ text: 'Where is the cat?', attention: true }), { 'content-type': 'application/json' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.translation, bundle.translator.translate(['Where is the cat?'])[0].text);
    assert.ok(r.json.translations[0].attention.weights.length > 0);
    const page = await httpRequest(url, 'GET', '/');
    assert.equal(page.status, 200);
    assert.match(page.text, /s2s-web\.js/);
  } finally {
    await server.stop();
  }
});
