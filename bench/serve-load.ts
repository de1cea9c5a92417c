/**
 * Load test for `s2s serve`: runs the server as a child process and sends
 * POST /translate requests (one sentence each) from this process with a
 * keep-alive http.Agent at several concurrency levels, with batching on
 * (5 ms window, 32 sentences per call) and off (window 0, batch 1).
 * During every measured row a prober asks GET /health every 250 ms on a new
 * connection (as a kubelet probe does) and records how long the answer took:
 * a translate batch holds the event loop, so this is what a liveness probe's
 * timeout must allow for.
 *
 *   npm run bench:serve -- [--model DIR] [--duration 5] [--concurrency 1,8,64] [--texts 1]
 *
 * Without --model, a small model is trained first on the built-in corpus
 * (1 epoch, latent dim 64, outputs capped at 60 characters; ~30 s). Sentences:
 * 400 evenly spaced ones of fra.txt's test split when the model was trained on
 * ../shared/data/fra-eng/fra.txt and that file exists, else the built-in
 * corpus. --texts N sends N sentences per request.
 */
import http from 'node:http';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCorpus } from '../src/data/synthetic.js';
import { readSplit } from '../src/data/read-split.js';
import { readBundleJson } from '../src/bundle/bundle.js';
import { validateBundleConfig } from '../src/bundle/format.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 's2s.js');
const FRA = resolve(root, '..', 'shared', 'data', 'fra-eng', 'fra.txt');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface Mode {
  name: string;
  window: number;
  maxBatch: number;
}

interface Result {
  mode: string;
  concurrency: number;
  seconds: number;
  latencies: number[];
  ok: number;
  busy: number;
  other: number;
  errors: number;
  /** Latencies of GET /health probes (new connection each) during the row, ms. */
  probes: number[];
}

function startServer(model: string, mode: Mode): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [bin, 'serve', '--model', model, '--port', '0', '--batch-window', String(mode.window), '--max-batch', String(mode.maxBatch), '--max-queue', '256'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  return new Promise((resolveStart, rejectStart) => {
    let err = '';
    const onData = (c: Buffer): void => {
      err += c;
      const m = /on (http:\/\/\S+)/.exec(err);
      if (m) {
        child.stderr?.off('data', onData);
        child.stderr?.resume();
        resolveStart({ child, url: m[1] });
      }
    };
    child.stderr?.on('data', onData);
    child.on('exit', (code) => rejectStart(new Error(`server exited with ${code}: ${err}`)));
  });
}

function stopServer(child: ChildProcess): Promise<number | null> {
  return new Promise((resolveStop) => {
    child.removeAllListeners('exit');
    child.on('exit', (code) => resolveStop(code));
    child.kill('SIGTERM');
  });
}

function post(agent: http.Agent, url: URL, body: string): Promise<number> {
  return new Promise((resolvePost, rejectPost) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path: '/translate', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolvePost(res.statusCode ?? 0));
        res.on('error', rejectPost);
      },
    );
    req.on('error', rejectPost);
    req.end(body);
  });
}

function probe(url: URL): Promise<number> {
  return new Promise((resolveProbe) => {
    const t0 = performance.now();
    const req = http.get({ host: url.hostname, port: url.port, path: '/health', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolveProbe(res.statusCode === 200 ? performance.now() - t0 : Infinity));
    });
    req.on('error', () => resolveProbe(Infinity));
  });
}

async function load(url: string, mode: string, concurrency: number, seconds: number, sentences: string[], textsPerRequest: number): Promise<Result> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(url);
  const r: Result = { mode, concurrency, seconds: 0, latencies: [], ok: 0, busy: 0, other: 0, errors: 0, probes: [] };
  let next = 0;
  const nextBody = (): string => {
    if (textsPerRequest === 1) return JSON.stringify({ text: sentences[next++ % sentences.length] });
    return JSON.stringify({ texts: Array.from({ length: textsPerRequest }, () => sentences[next++ % sentences.length]) });
  };
  const worker = async (deadline: number, record: boolean): Promise<void> => {
    while (performance.now() < deadline) {
      const body = nextBody();
      const t0 = performance.now();
      try {
        const status = await post(agent, target, body);
        if (!record) continue;
        if (status === 200) {
          r.ok++;
          r.latencies.push(performance.now() - t0);
        } else if (status === 503) {
          r.busy++;
          await new Promise((w) => setTimeout(w, 10));
        } else r.other++;
      } catch {
        if (record) r.errors++;
      }
    }
  };
  // Short warm-up (connections, JIT), then the measured run.
  await Promise.all(Array.from({ length: concurrency }, () => worker(performance.now() + 300, false)));
  const start = performance.now();
  const prober = async (deadline: number): Promise<void> => {
    while (performance.now() < deadline) {
      r.probes.push(await probe(target));
      await new Promise((w) => setTimeout(w, 250));
    }
  };
  await Promise.all([prober(start + seconds * 1000), ...Array.from({ length: concurrency }, () => worker(start + seconds * 1000, true))]);
  r.seconds = (performance.now() - start) / 1000;
  agent.destroy();
  return r;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const seconds = Number(arg('duration') ?? 5);
  const levels = (arg('concurrency') ?? '1,8,64').split(',').map(Number);
  let model = arg('model');
  let tmp: string | null = null;
  if (!model) {
    tmp = mkdtempSync(join(tmpdir(), 's2s-bench-serve-'));
    model = join(tmp, 'model');
    process.stderr.write(`no --model: training a small model on the built-in corpus into ${model} …\n`);
    const t = spawnSync(process.execPath, [bin, 'train', '--out', model, '--epochs', '1', '--latent-dim', '64', '--max-target-length', '60', '--examples', '0'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    if (t.status !== 0) throw new Error('training failed');
  }
  const textsPerRequest = Number(arg('texts') ?? 1);
  let sentences = generateCorpus({ size: 400, seed: 99 }).map((p) => p.source);
  let source = 'built-in corpus (400 sentences)';
  const configPath = join(model, 'config.json');
  const data = validateBundleConfig(readBundleJson(configPath), configPath).data;
  if (existsSync(FRA) && /fra\.txt$/.test(String(data.corpus))) {
    const test = readSplit(FRA, data).split.test.map((p) => p.source);
    const step = Math.max(1, Math.floor(test.length / 400));
    sentences = test.filter((_, i) => i % step === 0).slice(0, 400);
    source = `fra.txt test split (${sentences.length} evenly spaced sentences)`;
  }
  const load0 = loadavg();
  const modes: Mode[] = [
    { name: 'batched (5 ms, ≤32)', window: 5, maxBatch: 32 },
    { name: 'unbatched (0 ms, 1)', window: 0, maxBatch: 1 },
  ];
  const results: Result[] = [];
  for (const mode of modes) {
    const { child, url } = await startServer(model, mode);
    for (const c of levels) {
      process.stderr.write(`${mode.name}, concurrency ${c}: ${seconds} s …\n`);
      results.push(await load(url, mode.name, c, seconds, sentences, textsPerRequest));
    }
    const code = await stopServer(child);
    if (code !== 0) process.stderr.write(`warning: server exited with ${code}\n`);
  }
  const header = ['mode', 'conc', 'req/s', 'sent/s', 'p50 ms', 'p99 ms', '200', '503', 'other', 'errors', '/health p50 ms', '/health max ms'];
  const rows = results.map((r) => {
    const sorted = [...r.latencies].sort((a, b) => a - b);
    const probes = [...r.probes].sort((a, b) => a - b);
    return [r.mode, String(r.concurrency), (r.ok / r.seconds).toFixed(1), ((r.ok * textsPerRequest) / r.seconds).toFixed(1), percentile(sorted, 50).toFixed(1), percentile(sorted, 99).toFixed(1),
      String(r.ok), String(r.busy), String(r.other), String(r.errors), percentile(probes, 50).toFixed(1), (probes.at(-1) ?? NaN).toFixed(1)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => (i < 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  const load1 = loadavg();
  const la = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ');
  console.log(`\nPOST /translate, ${textsPerRequest} sentence(s) per request, ${seconds} s per row (latency of 200 answers); model ${model}; sentences: ${source}`);
  console.log(`conditions: ${availableParallelism()} cores, OPENBLAS_NUM_THREADS=${process.env.OPENBLAS_NUM_THREADS ?? '(unset)'}, load average ${la(load0)} before, ${la(load1)} after; /health probed every 250 ms on a new connection`);
  console.log(line(header));
  console.log('|' + widths.map((w, i) => (i < 1 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|');
  for (const row of rows) console.log(line(row));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
