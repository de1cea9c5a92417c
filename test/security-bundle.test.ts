/**
 * Issue 11, bundle side: hostile bundles and checkpoints, planted symlinks in
 * export folders. Each test reproduces an attack and passes only with its
 * defence: symlinked bundle files are refused (never followed, never copied);
 * exported files are the parsed, validated content; optimizer slot names
 * cannot reach Object.prototype; paths of the training machine are stripped;
 * a malformed history is sanitised; writes never go through links and their
 * temporaries are exclusive and unpredictable; file sizes are capped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdtempSync, readFileSync, writeFileSync, symlinkSync, existsSync, readdirSync, mkdirSync, truncateSync, rmSync, lstatSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveBundle, loadBundle, BundleError, MAX_BUNDLE_JSON_BYTES } from '../src/bundle/bundle.js';
import { temporaryPath, openTemporary, writeFileAtomic } from '../src/bundle/atomic.js';
import { saveCheckpoint, loadLatestCheckpoint, checkpointsDir } from '../src/train/checkpoint.js';
import { serializeWeights, Tensor, crc32 } from '../src/engine/index.js';
import { quantizeBundle } from '../src/bundle/quantize.js';
import { Trainer } from '../src/train/trainer.js';
import { train, type TrainRunOptions } from '../src/train/run.js';
import { exportWeb, cachedWebFolder, defaultWebFolder } from '../src/web/export.js';
import { createServer } from '../src/serve/server.js';
import { tinySetup, bundlePartsFor } from './helpers/tiny.js';
import { tinyTransformerSetup, transformerBundleParts } from './helpers/tiny-transformer.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 's2s-sec-'));
const SECRET = 'TOP-SECRET-7f3a9c';

function saveTiny(dir: string, data: Parameters<typeof bundlePartsFor>[1] = {}): ReturnType<typeof tinySetup> {
  const setup = tinySetup(12);
  saveBundle(dir, bundlePartsFor(setup, { maxTargetLength: 30, ...data }));
  return setup;
}

/** Every file under dir (following nothing), with its bytes. */
function treeText(dir: string): string {
  let all = '';
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, f);
    if (lstatSync(p).isFile()) all += readFileSync(p, 'latin1');
  }
  return all;
}

// ---- 2. symlinked bundle files ------------------------------------------------

test('a bundle file that is a symlink (history.json → a secret) is refused by loadBundle, export-web and the web cache', () => {
  const dir = tmp();
  const secret = join(dir, 'secret.txt');
  writeFileSync(secret, `[${JSON.stringify(SECRET)}]`);
  const model = join(dir, 'evil');
  saveTiny(model);
  rmSync(join(model, 'history.json'));
  symlinkSync(secret, join(model, 'history.json'));
  assert.throws(() => loadBundle(model), (e: Error) => e instanceof BundleError && /history\.json: is a symbolic link/.test(e.message));
  const out = join(dir, 'web');
  assert.throws(() => exportWeb(model, out), /history\.json: is a symbolic link/);
  if (existsSync(out)) assert.ok(!treeText(out).includes(SECRET));
  const cacheRoot = join(dir, 'cache');
  const logs: string[] = [];
  assert.equal(defaultWebFolder(model, (l) => void logs.push(l), { cacheRoot }), null);
  assert.match(logs.join('\n'), /history\.json: is a symbolic link/);
  if (existsSync(cacheRoot)) assert.ok(!treeText(cacheRoot).includes(SECRET));
  rmSync(dir, { recursive: true });
});

test('every bundle file is refused when it is a symlink or not a regular file', () => {
  const dir = tmp();
  const model = join(dir, 'm');
  saveTiny(model);
  const blob = readdirSync(model).find((f) => f.endsWith('.bin')) as string;
  for (const f of ['config.json', 'vocab.json', 'weights.json', blob]) {
    const copy = join(dir, `case-${f}`);
    saveTiny(copy);
    const real = join(dir, `real-${f}`);
    writeFileSync(real, readFileSync(join(copy, f)));
    rmSync(join(copy, f));
    symlinkSync(real, join(copy, f));
    assert.throws(() => loadBundle(copy), new RegExp(`${f.replace('.', '\\.')}: is a symbolic link`), f);
  }
  const dev = join(dir, 'dev');
  saveTiny(dev);
  rmSync(join(dev, 'history.json'));
  symlinkSync('/dev/zero', join(dev, 'history.json'));
  assert.throws(() => loadBundle(dev), /history\.json: is a symbolic link/);
  const fifoLike = join(dir, 'dirhist');
  saveTiny(fifoLike);
  rmSync(join(fifoLike, 'history.json'));
  mkdirSync(join(fifoLike, 'history.json'));
  assert.throws(() => loadBundle(fifoLike), /history\.json: not a regular file/);
  rmSync(dir, { recursive: true });
});

// ---- 2/5/6. what export-web and the web cache write: parsed content, no paths ---

function hostileHistory(): unknown[] {
  let deep: unknown = SECRET;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  return [
    { epoch: 1, step: 4, trainLoss: 2.5, valLoss: null, valAccuracy: 0.1, valBleu: null, seconds: 1, tokensPerSecond: 10, learningRate: 0.01, secret: SECRET },
    { epoch: 2, step: 8, trainLoss: 'NaN', valLoss: {}, seconds: 1 },
    deep,
    { epoch: 3, step: 12, trainLoss: 1.5, valLoss: 1.7, valAccuracy: 0.2, valBleu: 3, seconds: 1, tokensPerSecond: 10, learningRate: 0.01, nested: [[[SECRET]]] },
  ];
}

/** JSON.stringify cannot write 100,000 levels; the text is built by hand. */
function hostileHistoryText(): string {
  const [a, b, , d] = hostileHistory();
  return `[${JSON.stringify(a)},${JSON.stringify(b)},${'['.repeat(100_000)}${JSON.stringify(SECRET)}${']'.repeat(100_000)},${JSON.stringify(d)}]`;
}

test('a malformed history.json (deep nesting, non-numeric losses, extra fields) loads as its valid records only', () => {
  const dir = tmp();
  const model = join(dir, 'm');
  saveTiny(model);
  writeFileSync(join(model, 'history.json'), hostileHistoryText());
  const b = loadBundle(model);
  assert.equal(b.history.length, 2);
  assert.deepEqual(b.history.map((h) => h.epoch), [1, 3]);
  assert.ok(!JSON.stringify(b.history).includes(SECRET));
  for (const h of b.history) assert.equal(typeof h.trainLoss, 'number');
  writeFileSync(join(model, 'history.json'), '{"not": "an array"}');
  assert.deepEqual(loadBundle(model).history, []);
  rmSync(dir, { recursive: true });
});

test('export-web, the web cache and a server write and serve the parsed bundle: no secret, no machine paths, /model answers', async () => {
  const dir = tmp();
  const model = join(dir, 'm');
  saveTiny(model, { corpus: '/home/alice/private/corpus.tsv', validData: '/home/alice/private/valid.tsv', testData: '/srv/x/test.tsv' } as never);
  const cfg = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as { data: Record<string, unknown> };
  cfg.data.corpus = '/home/alice/private/corpus.tsv';
  writeFileSync(join(model, 'config.json'), JSON.stringify(cfg));
  writeFileSync(join(model, 'history.json'), hostileHistoryText());

  const out = join(dir, 'web');
  exportWeb(model, out);
  const cacheRoot = join(dir, 'cache');
  const cached = cachedWebFolder(model, { cacheRoot });
  for (const folder of [out, cached]) {
    const text = treeText(folder);
    assert.ok(!text.includes(SECRET), `${folder} holds the secret`);
    assert.ok(!text.includes('/home/alice') && !text.includes('/srv/x'), `${folder} holds a path of the training machine`);
    const data = (JSON.parse(readFileSync(join(folder, 'model', 'config.json'), 'utf8')) as { data: Record<string, unknown> }).data;
    assert.equal(data.corpus, 'corpus.tsv');
    assert.equal(data.validData, 'valid.tsv');
    assert.equal(data.testData, 'test.tsv');
    assert.equal((JSON.parse(readFileSync(join(folder, 'model', 'history.json'), 'utf8')) as unknown[]).length, 2);
  }

  const s = createServer({ bundle: loadBundle(model), port: 0, host: '127.0.0.1', webDir: cached, log: () => {} });
  await s.listen();
  try {
    const info = await fetch(`${s.url()}/model`);
    assert.equal(info.status, 200);
    const body = await info.text();
    assert.ok(!body.includes(SECRET));
    const hist = await fetch(`${s.url()}/model/history.json`);
    assert.equal(hist.status, 200);
    assert.ok(!(await hist.text()).includes(SECRET));
    const conf = await (await fetch(`${s.url()}/model/config.json`)).text();
    assert.ok(!conf.includes('/home/alice'));
  } finally {
    await s.close();
  }
  rmSync(dir, { recursive: true });
});

// ---- 3. prototype pollution on resume -----------------------------------------

async function checkpointWithAdam(dir: string): Promise<string> {
  const setup = tinySetup(12);
  const trainer = new Trainer(setup.model, { train: setup.examples, validation: [] }, { epochs: 1, batchSize: 4, optimizer: 'adam' });
  await trainer.run();
  return saveCheckpoint(dir, bundlePartsFor(setup), trainer.snapshot());
}

test('optimizer.json naming __proto__#x or constructor#x is a BundleError and pollutes nothing', async () => {
  const dir = tmp();
  const path = await checkpointWithAdam(join(dir, 'run'));
  const real = loadLatestCheckpoint(join(dir, 'run')) as NonNullable<ReturnType<typeof loadLatestCheckpoint>>;
  const last = real.bundle.model.parameters().at(-1) as Tensor;
  for (const name of ['__proto__#x', 'constructor#x', `${last.name}#__proto__`, 'not/a/parameter#m', 'hasOwnProperty#v']) {
    const size = name.startsWith(last.name as string) ? last.size : 4;
    const { index, blob } = serializeWeights([new Tensor(new Float32Array(size).fill(1), [size], false, name)]);
    writeFileSync(join(path, 'optimizer.bin'), blob);
    writeFileSync(join(path, 'optimizer.json'), JSON.stringify(index));
    assert.throws(() => loadLatestCheckpoint(join(dir, 'run')),
      (e: Error) => e instanceof BundleError && /optimizer\.json/.test(e.message) && e.message.includes(JSON.stringify(name)), name);
    assert.equal(({} as Record<string, unknown>).x, undefined);
    assert.equal((Object as unknown as Record<string, unknown>).x, undefined);
    assert.equal(Object.getPrototypeOf({}), Object.prototype);
  }
  rmSync(dir, { recursive: true });
});

test('a real checkpoint still resumes its optimizer slots (null-prototype maps keyed by parameter name)', async () => {
  const dir = tmp();
  await checkpointWithAdam(join(dir, 'run'));
  const c = loadLatestCheckpoint(join(dir, 'run')) as NonNullable<ReturnType<typeof loadLatestCheckpoint>>;
  const slots = c.state.optimizer?.slots as Record<string, Record<string, Float32Array>>;
  assert.equal(Object.getPrototypeOf(slots), null);
  const names = c.bundle.model.parameters().map((p) => p.name as string);
  assert.ok(Object.keys(slots).length > 0 && Object.keys(slots).every((k) => names.includes(k)));
  for (const s of Object.values(slots)) assert.deepEqual(Object.keys(s).sort(), ['m', 'v']);
  rmSync(dir, { recursive: true });
});

// ---- 7. unsafe writes ---------------------------------------------------------

test('export-web replaces symlinks planted in the output folder instead of writing through them', () => {
  const dir = tmp();
  const model = join(dir, 'm');
  saveTiny(model);
  const victim = join(dir, 'victim.txt');
  writeFileSync(victim, 'untouched');
  const out = join(dir, 'web');
  mkdirSync(join(out, 'model'), { recursive: true });
  symlinkSync(victim, join(out, 'index.html'));
  symlinkSync(victim, join(out, 's2s-web.js'));
  symlinkSync(victim, join(out, 'model', 'config.json'));
  symlinkSync(victim, join(out, 'model', 'history.json'));
  exportWeb(model, out);
  assert.equal(readFileSync(victim, 'utf8'), 'untouched');
  for (const f of ['index.html', 's2s-web.js', 'model/config.json', 'model/history.json']) assert.ok(lstatSync(join(out, f)).isFile(), f);
  rmSync(dir, { recursive: true });
});

test('export-web refuses an OUT/model that is a symlink or holds files it did not write', () => {
  const dir = tmp();
  const model = join(dir, 'm');
  saveTiny(model);
  const elsewhere = join(dir, 'elsewhere');
  mkdirSync(elsewhere);
  writeFileSync(join(elsewhere, 'keep.txt'), 'mine');
  const out1 = join(dir, 'web1');
  mkdirSync(out1);
  symlinkSync(elsewhere, join(out1, 'model'));
  assert.throws(() => exportWeb(model, out1), /model: is a symbolic link/);
  const out2 = join(dir, 'web2');
  mkdirSync(join(out2, 'model'), { recursive: true });
  writeFileSync(join(out2, 'model', 'notes.txt'), 'mine');
  assert.throws(() => exportWeb(model, out2), /not empty \(notes\.txt\)/);
  assert.equal(readFileSync(join(out2, 'model', 'notes.txt'), 'utf8'), 'mine');
  assert.equal(readFileSync(join(elsewhere, 'keep.txt'), 'utf8'), 'mine');
  // An earlier export (bundle files only) is replaced, and the replacement is reported.
  const out3 = join(dir, 'web3');
  exportWeb(model, out3);
  const again = exportWeb(model, out3);
  assert.ok(again.replaced.length > 0 && again.replaced.includes('model/config.json'), JSON.stringify(again.replaced));
  rmSync(dir, { recursive: true });
});

test('atomic writes use unpredictable temporary names (with the pid) and create them exclusively', () => {
  const dir = tmp();
  const target = join(dir, 'file.json');
  const a = temporaryPath(target), b = temporaryPath(target);
  assert.notEqual(a, b);
  const pattern = new RegExp(`^\\.file\\.json\\.${process.pid}\\.[0-9a-f]{16}\\.tmp$`);
  assert.match(a.slice(dir.length + 1), pattern);
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'untouched');
  symlinkSync(victim, a);
  assert.throws(() => openTemporary(a), (e: NodeJS.ErrnoException) => e.code === 'EEXIST');
  assert.equal(readFileSync(victim, 'utf8'), 'untouched');
  symlinkSync(victim, target);
  writeFileAtomic(target, 'new');
  assert.equal(readFileSync(victim, 'utf8'), 'untouched');
  assert.equal(readFileSync(target, 'utf8'), 'new');
  rmSync(dir, { recursive: true });
});

// ---- 9. size limits and the corpus of an untrusted checkpoint ------------------

test('bundle JSON files above the named cap are refused before reading', () => {
  const dir = tmp();
  const model = join(dir, 'm');
  saveTiny(model);
  assert.equal(MAX_BUNDLE_JSON_BYTES, 32 * 1024 * 1024);
  truncateSync(join(model, 'vocab.json'), MAX_BUNDLE_JSON_BYTES + 1);
  assert.throws(() => loadBundle(model), /vocab\.json: \d+ bytes is more than the 32 MiB limit for bundle JSON files/);
  rmSync(dir, { recursive: true });
});

test('LATEST, trainer.json and optimizer.json are read with size limits', async () => {
  const dir = tmp();
  const path = await checkpointWithAdam(join(dir, 'run'));
  const root = checkpointsDir(join(dir, 'run'));
  const latest = readFileSync(join(root, 'LATEST'));
  truncateSync(join(root, 'LATEST'), 1024 * 1024);
  assert.throws(() => loadLatestCheckpoint(join(dir, 'run')), /LATEST: \d+ bytes is more than the 1 KiB limit/);
  writeFileSync(join(root, 'LATEST'), latest);
  for (const f of ['trainer.json', 'optimizer.json']) {
    const keep = readFileSync(join(path, f));
    truncateSync(join(path, f), MAX_BUNDLE_JSON_BYTES + 1);
    assert.throws(() => loadLatestCheckpoint(join(dir, 'run')), new RegExp(`${f.replace('.', '\\.')}: \\d+ bytes is more than the 32 MiB limit`), f);
    writeFileSync(join(path, f), keep);
    rmSync(join(path, f));
    symlinkSync(join(dir, 'nowhere'), join(path, f));
    assert.throws(() => loadLatestCheckpoint(join(dir, 'run')), new RegExp(`${f.replace('.', '\\.')}: is a symbolic link`), f);
    rmSync(join(path, f));
    writeFileSync(join(path, f), keep);
  }
  assert.ok(loadLatestCheckpoint(join(dir, 'run')));
  rmSync(dir, { recursive: true });
});

const TINY: TrainRunOptions = { samples: 200, latentDim: 8, embeddingDim: 4, attention: 'none', batchSize: 32, epochs: 2, maxTargetLength: 30, examples: 0, seed: 5 } as TrainRunOptions;

test('resume reads the corpus the checkpoint records only if it is a regular file, and says which file it reads', async () => {
  const dir = tmp();
  const corpus = join(dir, 'corpus.tsv');
  writeFileSync(corpus, Array.from({ length: 200 }, (_, i) => `go ${i}.\tva ${i}.`).join('\n') + '\n');
  const out = join(dir, 'run');
  const stop = new AbortController();
  await train({ ...TINY, data: corpus, out, signal: stop.signal, onBatch: (p) => { if (p.step === 2) stop.abort(); } });
  const root = checkpointsDir(out);
  const latest = readFileSync(join(root, 'LATEST'), 'utf8').trim();
  const configPath = join(root, latest, 'config.json');
  const original = readFileSync(configPath, 'utf8');
  for (const hostile of ['/dev/zero', dir]) {
    const cfg = JSON.parse(original) as { data: Record<string, unknown> };
    cfg.data.corpus = hostile;
    writeFileSync(configPath, JSON.stringify(cfg));
    await assert.rejects(train({ resume: out }), (e: Error) => e.message.includes(`${hostile}: not a regular file`) && /recorded in the checkpoint/.test(e.message), hostile);
  }
  writeFileSync(configPath, original);
  const logs: string[] = [];
  await train({ resume: out, onLog: (l) => void logs.push(l) });
  assert.ok(logs.some((l) => l.includes(`resume reads the corpus recorded in the checkpoint: ${corpus}`)), logs.join('\n'));
  rmSync(dir, { recursive: true });
});

// ---- issue 12: hostile Transformer configs -------------------------------------

test('a Transformer config.json with hostile fields is a BundleError naming the field, before anything big is allocated', () => {
  const dir = tmp();
  const model = join(dir, 'tf');
  const setup = tinyTransformerSetup(12);
  saveBundle(model, transformerBundleParts(setup, { maxTargetLength: 30 }));
  const good = readFileSync(join(model, 'config.json'), 'utf8');
  assert.equal(loadBundle(model).config.model.arch, 'transformer');
  const V = setup.vocabs.source.size;
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ heads: 3 }, /"modelDim" \(16\) must be a multiple of "heads" \(3\)/],
    [{ heads: 0 }, /"heads" must be an integer/],
    [{ modelDim: 16384, heads: 1 }, /needs at least \d+ parameters but the weights blob holds/],
    [{ ffDim: 65536 }, /needs at least/],
    [{ encoderLayers: 64, decoderLayers: 64 }, /needs at least/],
    [{ encoderLayers: 65 }, /"encoderLayers" must be an integer in \[0, 64\]/],
    [{ positions: 'learned', maxPositions: 1_000_000 }, /needs at least/],
    [{ maxPositions: 1e12 }, /"maxPositions" must be an integer/],
    [{ arch: 'transformer-xl' }, /"arch" must be "rnn" or "transformer"/],
    [{ activation: 'swish' }, /"activation" must be "relu" or "gelu"/],
    [{ positions: 'rotary' }, /"positions" must be "sinusoidal" or "learned"/],
    [{ postNorm: 'yes' }, /"postNorm" must be true or false/],
    [{ attentionDropout: 1 }, /"attentionDropout" must be in \[0, 1\)/],
    [{ tieEmbeddings: true, srcVocabSize: V, tgtVocabSize: V + 1 }, /vocabulary sizes|"tieEmbeddings" needs one vocabulary/],
    [{ tieEmbeddings: true }, /tieEmbeddings|weights|tensor/],
  ];
  for (const [patch, want] of cases) {
    const c = JSON.parse(good) as { model: Record<string, unknown> };
    Object.assign(c.model, patch);
    writeFileSync(join(model, 'config.json'), JSON.stringify(c));
    const before = process.memoryUsage().arrayBuffers;
    assert.throws(() => loadBundle(model), (e: unknown) => e instanceof BundleError && want.test((e as Error).message) && (e as Error).message.includes(model),
      `${JSON.stringify(patch)}: expected a BundleError matching ${want}`);
    assert.ok(process.memoryUsage().arrayBuffers - before < 32 * 2 ** 20, `${JSON.stringify(patch)}: allocated ${process.memoryUsage().arrayBuffers - before} bytes`);
  }
  // Sinusoids are computed for the lengths seen, so a huge maxPositions costs nothing (1e6 × 16 floats would be 64 MB).
  const c = JSON.parse(good) as { model: Record<string, unknown> };
  c.model.maxPositions = 1_000_000;
  writeFileSync(join(model, 'config.json'), JSON.stringify(c));
  const before = process.memoryUsage().arrayBuffers;
  const b = loadBundle(model);
  assert.equal(typeof b.translator.translate(['I am happy.'])[0].text, 'string');
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 2 ** 20, `a sinusoidal maxPositions of 1e6 allocated ${process.memoryUsage().arrayBuffers - before} bytes`);
  rmSync(dir, { recursive: true });
});

test('learned positions shorter than maxSourceLength: a longer input is still translated (positions clamped), by the library and by serve', async () => {
  const dir = tmp();
  const model = join(dir, 'tf');
  saveBundle(model, transformerBundleParts(tinyTransformerSetup(12, { positions: 'learned', maxPositions: 8 }), { maxSourceLength: 200, maxTargetLength: 30 }));
  const b = loadBundle(model);
  const long = 'I am happy now, and so are you.';
  assert.equal(typeof b.translator.translate([long])[0].text, 'string');
  const s = createServer({ bundle: b, port: 0, log: () => {} });
  await s.listen();
  try {
    const r = await fetch(`${s.url()}/translate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: long, attention: true }) });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { translation: string; translations: { attention: { sourceTokens: string[] } }[] };
    assert.equal(body.translation, b.translator.translate([long])[0].text);
    assert.equal(body.translations[0].attention.sourceTokens.length, [...long].length);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true });
  }
});

/** An int8 bundle (s2s quantize) whose blob and index are edited, checksums recomputed so only the int8 checks can refuse it. */
function editedInt8Bundle(edit: (index: Int8Index, blob: Buffer) => Buffer | number | void): string {
  const dir = tmp();
  saveTiny(join(dir, 'f32'));
  quantizeBundle(join(dir, 'f32'), join(dir, 'i8'));
  const indexPath = join(dir, 'i8', 'weights.json');
  const index = JSON.parse(readFileSync(indexPath, 'utf8')) as Int8Index;
  const blobPath = join(dir, 'i8', index.file);
  const read: Buffer = readFileSync(blobPath);
  const edited = edit(index, read);
  const blob: Buffer = Buffer.isBuffer(edited) ? edited : read;
  for (const t of index.tensors) {
    const bytes = t.dtype === 'int8' ? t.length : t.length * 4;
    if (t.offset + bytes <= blob.length) t.crc32 = crc32(blob.subarray(t.offset, t.offset + bytes));
    const n = t.dtype === 'int8' ? t.shape[t.scaleAxis as number] * 4 : 0;
    if (n && (t.scaleOffset as number) + n <= blob.length) t.scaleCrc32 = crc32(blob.subarray(t.scaleOffset as number, (t.scaleOffset as number) + n));
  }
  index.byteLength = blob.length;
  index.crc32 = crc32(blob);
  writeFileSync(blobPath, blob);
  writeFileSync(indexPath, JSON.stringify(index));
  return join(dir, 'i8');
}

interface Int8Index {
  file: string;
  byteLength: number;
  crc32: number;
  tensors: { name: string; shape: number[]; dtype: string; offset: number; length: number; crc32: number; scaleAxis?: number; scaleOffset?: number; scaleCrc32?: number }[];
}

const firstInt8 = (index: Int8Index): Int8Index['tensors'][number] => index.tensors.find((t) => t.dtype === 'int8') as Int8Index['tensors'][number];

test('corrupt int8 bundles are refused even with consistent checksums: NaN, infinite and negative scales, −128 values, scales of the wrong count, cut int8 data', () => {
  const cases: [string, (index: Int8Index, blob: Buffer) => Buffer | number | void, RegExp][] = [
    ['a NaN scale', (index, blob) => blob.writeFloatLE(NaN, firstInt8(index).scaleOffset as number), /scale 0 is NaN; scales must be finite and non-negative/],
    ['an infinite scale', (index, blob) => blob.writeFloatLE(Infinity, (firstInt8(index).scaleOffset as number) + 4), /scale 1 is Infinity/],
    ['a negative scale', (index, blob) => blob.writeFloatLE(-0.5, firstInt8(index).scaleOffset as number), /scale 0 is -0\.5/],
    ['a −128 value', (index, blob) => blob.writeInt8(-128, firstInt8(index).offset + 3), /value 3 is −128; symmetric int8 weights lie in \[−127, 127\]/],
    ['scales counted along a transposed shape (wrong number of scales for the model)', (index) => {
      const t = firstInt8(index);
      t.shape = [t.shape[1], t.shape[0]];
    }, /scales must be finite and non-negative|overlap the previous tensor|has shape \[\d+, \d+\] but the model expects/],
    ['int8 data cut short (the blob ends inside the last int8 tensor)', (index, blob) => {
      const last = [...index.tensors].reverse().find((t) => t.dtype === 'int8') as Int8Index['tensors'][number];
      return blob.subarray(0, last.offset + Math.floor(last.length / 2));
    }, /lie outside the \d+-byte blob/],
  ];
  for (const [what, edit, expected] of cases) {
    const dir = editedInt8Bundle(edit);
    assert.throws(() => loadBundle(dir), (err: unknown) => {
      assert.ok(err instanceof BundleError && (err as Error).message.includes(dir), `${what}: ${(err as Error).message}`);
      assert.match((err as Error).message, expected, what);
      return true;
    }, what);
  }
});

test('an int8 bundle names its version so an s2s that reads only version 1 refuses it at config.json with a clear message', () => {
  const dir = editedInt8Bundle(() => undefined);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { version: number };
  assert.equal(config.version, 2);
  // What s2s before int8 bundles prints (its validateBundleConfig, reading only version 1), reproduced:
  const old = `${dir}/config.json: bundle format version ${JSON.stringify(config.version)} is not supported by this s2s (it reads version 1)`;
  assert.match(old, /bundle format version 2 is not supported by this s2s \(it reads version 1\)/);
  // This s2s: newer versions are named as such.
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, version: 3 }));
  assert.throws(() => loadBundle(dir), /bundle format version 3 is not supported by this s2s 0\.1\.0 \(it reads versions 1 and 2\); it was written by a newer s2s \("test"\): upgrade s2s to load it/);
});
