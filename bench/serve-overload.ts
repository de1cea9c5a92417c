/**
 * Overload test for `s2s serve`: the server runs as a child process and this
 * process loads it over loopback, in two phases.
 *
 * 1. Sustainable throughput: a closed loop with as many clients as the queue
 *    holds (--max-queue). Each client sends one sentence, waits for the answer
 *    and sends the next. Every batch is full and no request is refused: this
 *    is the most the server answers per second without refusing anything.
 * 2. Overload: an open loop. Requests are fired at a fixed rate (--factor ×
 *    the sustainable rate, 10 by default) whatever the answers, with at most
 *    256 requests open. A request due while that many are open is not sent
 *    and is counted as skipped. Three requests in four share a keep-alive
 *    agent; every fourth opens a new connection, as a client without
 *    keep-alive would. If a whole second passes without a 503, the rate
 *    doubles.
 *
 * The server's resident memory (VmRSS in /proc/PID/status) is read after
 * start-up and after phase 1, and every 250 ms during phase 2. When the load stops, the
 * requests still open are answered ("drain"), then one new request on a new
 * connection is timed.
 *
 * Bound on the latency of accepted requests. A request that is accepted finds
 * fewer than --max-queue sentences queued. The batcher takes them oldest first,
 * --max-batch per translate call. So before the request's own answer is sent,
 * at most ceil(maxQueue / maxBatch) batches run (the last of them holds the
 * request), plus the batch that was running when it arrived. Under overload
 * every batch is full. One batch cycle (translate call, HTTP work, batching
 * window) therefore takes T = maxBatch / (accepted requests per second).
 * The bound is safety × (ceil(maxQueue / maxBatch) + 2) × T, with a safety
 * factor of 4. The +2 is the running batch plus one cycle of slack for the
 * window and the answer. The rest of the margin covers a connection that
 * waits in the kernel's listen backlog before the server accepts it, and
 * pauses when the machine is busy. Measuring T in the same run ties the bound
 * to this machine's speed; no absolute time is assumed.
 *
 *   npm run bench:overload -- [--model DIR] [--seconds 8] [--factor 10] [--max-queue 32] [--max-batch 16]
 *
 * Without --model, an untrained bundle is written to a temporary folder
 * (character LSTM, 384 units, dot attention, outputs capped at 60 characters).
 * An untrained model seldom stops early, so each sentence costs a full
 * decode and translation time dominates HTTP handling. Training takes no time.
 */
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCorpus } from '../src/data/synthetic.js';
import { CharTokenizer } from '../src/data/char.js';
import { Vocab } from '../src/data/vocab.js';
import { Seq2Seq } from '../src/model/seq2seq.js';
import { PRESETS } from '../src/train/options.js';
import { saveBundle, loadBundle } from '../src/bundle/bundle.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 's2s.js');

/** Writes an untrained character bundle that is slow enough per sentence to be overloaded from one client process. */
export function writeSyntheticBundle(dir: string, options: { latentDim?: number; maxTargetLength?: number } = {}): void {
  const pairs = generateCorpus({ size: 200, seed: 7, maxSourceLength: 40 });
  const tok = new CharTokenizer();
  const vocabs = {
    source: Vocab.build(pairs.map((p) => tok.tokenize(p.source))),
    target: Vocab.build(pairs.map((p) => tok.tokenize(p.target))),
  };
  const model = new Seq2Seq({ latentDim: options.latentDim ?? 384, attention: 'dot', srcVocabSize: vocabs.source.size, tgtVocabSize: vocabs.target.size }, 3);
  saveBundle(dir, {
    config: {
      format: 's2s-model', version: 1, model: model.config,
      tokenizers: { source: { level: 'char' }, target: { level: 'char' } },
      data: { ...PRESETS.seed.data, maxSourceLength: 40, maxTargetLength: options.maxTargetLength ?? 60, corpus: '<built-in>' },
      train: { ...PRESETS.seed.train, epochs: 1 },
      createdBy: 'bench/serve-overload',
    },
    vocabs,
    model,
    history: [],
  });
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything the server wrote to stderr. */
  stderr(): string;
  /** SIGTERM; resolves with the exit code (null if it had to be SIGKILLed after timeoutMs). */
  stop(timeoutMs?: number): Promise<number | null>;
}

export function startServer(model: string, o: { maxQueue: number; maxBatch: number; batchWindowMs: number; webDir: string }): Promise<ServerProcess> {
  const args = [bin, 'serve', '--model', model, '--port', '0', '--web', o.webDir,
    '--max-queue', String(o.maxQueue), '--max-batch', String(o.maxBatch), '--batch-window', String(o.batchWindowMs)];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (c: Buffer) => void (err += c));
  return new Promise((resolveStart, rejectStart) => {
    const onExit = (code: number | null): void => rejectStart(new Error(`s2s serve exited with ${code} before listening: ${err}`));
    child.on('exit', onExit);
    const poll = setInterval(() => {
      const m = /on (http:\/\/\S+)/.exec(err);
      if (!m) return;
      clearInterval(poll);
      child.off('exit', onExit);
      resolveStart({
        child,
        url: m[1],
        stderr: () => err,
        stop: (timeoutMs = 10_000) => new Promise((resolveStop) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolveStop(child.exitCode);
          const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
          child.once('exit', (code) => {
            clearTimeout(kill);
            resolveStop(code);
          });
          child.kill('SIGTERM');
        }),
      });
    }, 20);
    child.once('exit', () => clearInterval(poll));
  });
}

/** Resident memory of a process in MB (VmRSS), or NaN where /proc is not available. */
export function rssMB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU time (user + system) of a process in seconds, or NaN where /proc is not available. Assumes 100 clock ticks per second. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

const ownCpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

export interface Outcome {
  /** HTTP status; 0 for a socket error or timeout. */
  status: number;
  ms: number;
  retryAfter?: string;
  body: string;
  /** Socket error code, or 'timeout'. */
  error?: string;
}

/** POST /translate {"text": …}; never rejects. */
export function postText(agent: http.Agent | false, url: URL, text: string, timeoutMs = 30_000): Promise<Outcome> {
  const body = JSON.stringify({ text });
  const t0 = performance.now();
  return new Promise((done) => {
    let settled = false;
    const finish = (o: Omit<Outcome, 'ms'>): void => {
      if (settled) return;
      settled = true;
      done({ ...o, ms: performance.now() - t0 });
    };
    const req = http.request(
      { host: url.hostname, port: url.port, path: '/translate', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const ra = res.headers['retry-after'];
          finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ...(ra !== undefined ? { retryAfter: String(ra) } : {}) });
        });
        res.on('error', (e: NodeJS.ErrnoException) => finish({ status: 0, body: '', error: e.code ?? e.message }));
      },
    );
    req.setTimeout(timeoutMs, () => {
      finish({ status: 0, body: '', error: 'timeout' });
      req.destroy();
    });
    req.on('error', (e: NodeJS.ErrnoException) => finish({ status: 0, body: '', error: e.code ?? e.message }));
    req.end(body);
  });
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const median = (values: number[]): number => percentile(values, 50);

/** Counts of what came back, and the checks made on every answer. */
export interface Tally {
  sent: number;
  statuses: Record<string, number>;
  errors: Record<string, number>;
  /** Latencies of 200 answers, ms. */
  latencies: number[];
  /** 503 answers without a Retry-After header. */
  missingRetryAfter: number;
  /** 200 answers whose translation differs from the one computed in this process. */
  wrongTranslations: number;
}

const newTally = (): Tally => ({ sent: 0, statuses: {}, errors: {}, latencies: [], missingRetryAfter: 0, wrongTranslations: 0 });

function record(t: Tally, o: Outcome, expected: string | undefined): void {
  if (o.status === 0) {
    const k = o.error ?? 'error';
    t.errors[k] = (t.errors[k] ?? 0) + 1;
    return;
  }
  t.statuses[o.status] = (t.statuses[o.status] ?? 0) + 1;
  if (o.status === 200) {
    t.latencies.push(o.ms);
    if (expected !== undefined) {
      let got: unknown;
      try {
        got = (JSON.parse(o.body) as { translation?: unknown }).translation;
      } catch {
        got = undefined;
      }
      if (got !== expected) t.wrongTranslations++;
    }
  } else if (o.status === 503 && !o.retryAfter) t.missingRetryAfter++;
}

export interface OverloadOptions {
  model: string;
  maxQueue?: number;
  maxBatch?: number;
  batchWindowMs?: number;
  /** Closed-loop phase, seconds (after a 0.5 s warm-up). Default 3. */
  measureSeconds?: number;
  /** Open-loop phase, seconds. Default 8. */
  overloadSeconds?: number;
  /** Offered rate as a multiple of the sustainable rate. Default 10. */
  factor?: number;
  /** Open requests (sockets) at most during the overload. Default 256. */
  maxInflight?: number;
  /** Every n-th overload request goes on a new connection (no keep-alive), the others share a keep-alive agent. Default 4. */
  freshEvery?: number;
  /** RSS sampling interval, ms. Default 250. */
  rssIntervalMs?: number;
  /** Progress lines. Default: none. */
  log?: (line: string) => void;
}

export interface OverloadReport {
  config: { maxQueue: number; maxBatch: number; batchWindowMs: number; factor: number; maxInflight: number; freshEvery: number };
  sustainable: { concurrency: number; seconds: number; reqPerSec: number; p50: number; p99: number; tally: Tally; serverCpuPercent: number };
  overload: {
    seconds: number;
    /** factor × sustainable req/s. */
    targetRate: number;
    /** The rate in force at the end (higher than targetRate if it had to be doubled). */
    finalRate: number;
    /** Requests due per second (sent + skipped) / seconds. */
    offeredPerSec: number;
    /** Requests actually sent per second. */
    sentPerSec: number;
    skipped: number;
    /** Most requests open at once. */
    peakInflight: number;
    acceptedPerSec: number;
    p50: number;
    p99: number;
    max: number;
    /** One batch cycle under overload: maxBatch / accepted per second, ms. */
    cycleMs: number;
    /** safety × (ceil(maxQueue / maxBatch) + 2) × cycleMs. */
    boundMs: number;
    tally: Tally;
    /** CPU time over wall time, % of one core. */
    serverCpuPercent: number;
    clientCpuPercent: number;
  };
  rss: {
    startupMB: number;
    afterSustainableMB: number;
    /** Samples during the overload phase, MB. */
    samples: number[];
    min: number;
    median: number;
    max: number;
    firstQuarterMedian: number;
    lastQuarterMedian: number;
    afterMB: number;
  };
  postLoad: {
    /** From the last request fired to the last open request answered, ms. */
    drainMs: number;
    status: number;
    ms: number;
    /** The new request's translation equals the one computed in this process. */
    correct: boolean;
  };
  serverStderr: string;
  serverExitCode: number | null;
}

export const BOUND_SAFETY = 4;

/** The latency bound for accepted requests; see the header comment. */
export function latencyBoundMs(maxQueue: number, maxBatch: number, cycleMs: number, safety = BOUND_SAFETY): number {
  return safety * (Math.ceil(maxQueue / maxBatch) + 2) * cycleMs;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runOverload(options: OverloadOptions): Promise<OverloadReport> {
  const maxQueue = options.maxQueue ?? 32;
  const maxBatch = options.maxBatch ?? 16;
  const batchWindowMs = options.batchWindowMs ?? 5;
  const measureSeconds = options.measureSeconds ?? 3;
  const overloadSeconds = options.overloadSeconds ?? 8;
  const factor = options.factor ?? 10;
  const maxInflight = options.maxInflight ?? 256;
  const freshEvery = options.freshEvery ?? 4;
  const rssIntervalMs = options.rssIntervalMs ?? 250;
  const log = options.log ?? (() => {});

  // The expected translations, computed here once.
  const bundle = loadBundle(options.model);
  const maxLen = bundle.config.data.maxSourceLength;
  const sentences = [...new Set(generateCorpus({ size: 200, seed: 99, maxSourceLength: Math.min(40, maxLen) }).map((p) => p.source))].slice(0, 48);
  const expected = new Map(sentences.map((s) => [s, bundle.translator.translate([s])[0].text] as const));

  const webDir = mkdtempSync(join(tmpdir(), 's2s-overload-web-'));
  const server = await startServer(options.model, { maxQueue, maxBatch, batchWindowMs, webDir });
  const pid = server.child.pid as number;
  const target = new URL(server.url);
  let stopped = false;
  try {
    const startupMB = rssMB(pid);
    log(`server ${server.url} (pid ${pid}), ${startupMB.toFixed(1)} MB after start-up`);

    // Phase 1: closed loop, maxQueue clients.
    const concurrency = maxQueue;
    const sustained = newTally();
    let s1seconds: number;
    let s1cpu: number;
    {
      const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
      let next = 0;
      const worker = async (until: number, t: Tally | null): Promise<void> => {
        while (performance.now() < until) {
          const text = sentences[next++ % sentences.length];
          const o = await postText(agent, target, text);
          if (t) {
            t.sent++;
            record(t, o, expected.get(text));
          }
          if (o.status !== 200) await sleep(5);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, () => worker(performance.now() + 500, null)));
      const t0 = performance.now();
      const cpu0 = cpuSeconds(pid);
      await Promise.all(Array.from({ length: concurrency }, () => worker(t0 + measureSeconds * 1000, sustained)));
      s1seconds = (performance.now() - t0) / 1000;
      s1cpu = (100 * (cpuSeconds(pid) - cpu0)) / s1seconds;
      agent.destroy();
    }
    const reqPerSec = (sustained.statuses['200'] ?? 0) / s1seconds;
    const afterSustainableMB = rssMB(pid);
    log(`sustainable: ${reqPerSec.toFixed(1)} req/s with ${concurrency} clients, p50 ${percentile(sustained.latencies, 50).toFixed(1)} ms`);

    // Phase 2: open loop at factor × the sustainable rate.
    const targetRate = factor * reqPerSec;
    const overload = newTally();
    const rss: number[] = [];
    let rate = targetRate;
    let skipped = 0, due = 0, inflight = 0, peakInflight = 0, busyInWindow = 0;
    const maxRate = 100 * targetRate;
    const agent = new http.Agent({ keepAlive: true, maxSockets: maxInflight, maxFreeSockets: maxInflight });
    const open = new Set<Promise<void>>();
    const t0 = performance.now();
    const end = t0 + overloadSeconds * 1000;
    let base = t0, baseDue = 0, windowStart = t0;
    let lastFired = t0;
    const rssTimer = setInterval(() => rss.push(rssMB(pid)), rssIntervalMs);
    const serverCpu0 = cpuSeconds(pid), clientCpu0 = ownCpuSeconds();
    log(`overload: ${targetRate.toFixed(0)} req/s for ${overloadSeconds} s, at most ${maxInflight} open`);
    await new Promise<void>((phaseDone) => {
      const tick = setInterval(() => {
        const now = performance.now();
        if (now - windowStart >= 1000) {
          if (busyInWindow === 0 && rate < maxRate) {
            rate = Math.min(maxRate, rate * 2);
            base = now;
            baseDue = due;
            log(`no 503 in the last second: rate doubled to ${rate.toFixed(0)} req/s`);
          }
          windowStart = now;
          busyInWindow = 0;
        }
        const upTo = now >= end ? baseDue + Math.floor(((end - base) / 1000) * rate) : baseDue + Math.floor(((now - base) / 1000) * rate);
        while (due < upTo) {
          due++;
          if (inflight >= maxInflight) {
            skipped++;
            continue;
          }
          const text = sentences[due % sentences.length];
          inflight++;
          peakInflight = Math.max(peakInflight, inflight);
          overload.sent++;
          lastFired = performance.now();
          const p = postText(due % freshEvery === 0 ? false : agent, target, text).then((o) => {
            inflight--;
            if (o.status === 503) busyInWindow++;
            record(overload, o, expected.get(text));
            open.delete(p);
          });
          open.add(p);
        }
        if (now >= end) {
          clearInterval(tick);
          phaseDone();
        }
      }, 1);
    });
    const seconds = (performance.now() - t0) / 1000;
    const serverCpuPercent = (100 * (cpuSeconds(pid) - serverCpu0)) / seconds;
    const clientCpuPercent = (100 * (ownCpuSeconds() - clientCpu0)) / seconds;
    // The load has stopped: wait for the open requests, then one new request.
    await Promise.all([...open]);
    const drainMs = performance.now() - lastFired;
    clearInterval(rssTimer);
    agent.destroy();
    const probe = sentences[0];
    const post = await postText(false, target, probe);
    const afterMB = rssMB(pid);
    let postTranslation: unknown;
    try {
      postTranslation = (JSON.parse(post.body) as { translation?: unknown }).translation;
    } catch {
      postTranslation = undefined;
    }

    const accepted = overload.statuses['200'] ?? 0;
    const acceptedPerSec = accepted / seconds;
    const cycleMs = (maxBatch / acceptedPerSec) * 1000;
    const q = Math.max(1, Math.floor(rss.length / 4));
    stopped = true;
    const serverExitCode = await server.stop();
    rmSync(webDir, { recursive: true, force: true });
    return {
      config: { maxQueue, maxBatch, batchWindowMs, factor, maxInflight, freshEvery },
      sustainable: { concurrency, seconds: s1seconds, reqPerSec, p50: percentile(sustained.latencies, 50), p99: percentile(sustained.latencies, 99), tally: sustained, serverCpuPercent: s1cpu },
      overload: {
        seconds,
        targetRate,
        finalRate: rate,
        offeredPerSec: due / seconds,
        sentPerSec: overload.sent / seconds,
        skipped,
        peakInflight,
        acceptedPerSec,
        p50: percentile(overload.latencies, 50),
        p99: percentile(overload.latencies, 99),
        max: overload.latencies.length ? Math.max(...overload.latencies) : NaN,
        cycleMs,
        boundMs: latencyBoundMs(maxQueue, maxBatch, cycleMs),
        tally: overload,
        serverCpuPercent,
        clientCpuPercent,
      },
      rss: {
        startupMB,
        afterSustainableMB,
        samples: rss,
        min: Math.min(...rss),
        median: median(rss),
        max: Math.max(...rss),
        firstQuarterMedian: median(rss.slice(0, q)),
        lastQuarterMedian: median(rss.slice(rss.length - q)),
        afterMB,
      },
      postLoad: { drainMs, status: post.status, ms: post.ms, correct: postTranslation === expected.get(probe) },
      serverStderr: server.stderr(),
      serverExitCode,
    };
  } finally {
    if (!stopped) {
      await server.stop();
      rmSync(webDir, { recursive: true, force: true });
    }
  }
}

const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '—');

export function formatReport(r: OverloadReport): string {
  const o = r.overload, s = r.sustainable;
  const counts = (t: Tally): string =>
    `200: ${t.statuses['200'] ?? 0}, 503: ${t.statuses['503'] ?? 0}` +
    `, other statuses: ${Object.entries(t.statuses).filter(([k]) => k !== '200' && k !== '503').map(([k, v]) => `${k}×${v}`).join(' ') || 0}` +
    `, socket errors: ${Object.entries(t.errors).map(([k, v]) => `${k}×${v}`).join(' ') || 0}`;
  return [
    `s2s serve under overload: max queue ${r.config.maxQueue}, max batch ${r.config.maxBatch}, batch window ${r.config.batchWindowMs} ms, one sentence per request`,
    ``,
    `sustainable (closed loop, ${s.concurrency} clients, ${fmt(s.seconds)} s): ${fmt(s.reqPerSec)} req/s, p50 ${fmt(s.p50)} ms, p99 ${fmt(s.p99)} ms; ${counts(s.tally)}; server CPU ${fmt(s.serverCpuPercent, 0)}%`,
    `overload (open loop, ${fmt(o.seconds)} s): target ${fmt(o.targetRate, 0)} req/s (${r.config.factor}×), final rate ${fmt(o.finalRate, 0)} req/s`,
    `  offered ${fmt(o.offeredPerSec, 0)} req/s = ${fmt(o.offeredPerSec / s.reqPerSec)}× sustainable; sent ${fmt(o.sentPerSec, 0)} req/s (1 in ${r.config.freshEvery} on a new connection), skipped (≥ ${r.config.maxInflight} open) ${o.skipped}, peak open ${o.peakInflight}`,
    `  ${counts(o.tally)}; 503 without Retry-After: ${o.tally.missingRetryAfter}; wrong translations: ${o.tally.wrongTranslations}`,
    `  accepted ${fmt(o.acceptedPerSec)} req/s (${fmt((100 * o.acceptedPerSec) / s.reqPerSec, 0)}% of sustainable); batch cycle ${fmt(o.cycleMs)} ms; server CPU ${fmt(o.serverCpuPercent, 0)}%, load generator CPU ${fmt(o.clientCpuPercent, 0)}%`,
    `  latency of 200s: p50 ${fmt(o.p50)} ms, p99 ${fmt(o.p99)} ms, max ${fmt(o.max)} ms; bound ${BOUND_SAFETY} × (⌈${r.config.maxQueue}/${r.config.maxBatch}⌉ + 2) × ${fmt(o.cycleMs)} ms = ${fmt(o.boundMs, 0)} ms`,
    `server RSS: ${fmt(r.rss.startupMB)} MB after start-up, ${fmt(r.rss.afterSustainableMB)} MB after the closed loop; during overload (${r.rss.samples.length} samples) min ${fmt(r.rss.min)} / median ${fmt(r.rss.median)} / max ${fmt(r.rss.max)} MB, first-quarter median ${fmt(r.rss.firstQuarterMedian)}, last-quarter median ${fmt(r.rss.lastQuarterMedian)}; ${fmt(r.rss.afterMB)} MB after`,
    `after the load: open requests answered ${fmt(r.postLoad.drainMs)} ms after the last one was sent; then a new request: ${r.postLoad.status} in ${fmt(r.postLoad.ms)} ms, translation ${r.postLoad.correct ? 'correct' : 'WRONG'}`,
    `server exit code after SIGTERM: ${r.serverExitCode}`,
  ].join('\n');
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  let model = arg('model');
  let tmp: string | null = null;
  if (!model) {
    tmp = mkdtempSync(join(tmpdir(), 's2s-bench-overload-'));
    model = join(tmp, 'model');
    process.stderr.write(`no --model: writing an untrained bundle (LSTM 384, dot attention, outputs ≤ 60 characters) to ${model}\n`);
    writeSyntheticBundle(model);
  }
  try {
    const report = await runOverload({
      model,
      overloadSeconds: Number(arg('seconds') ?? 8),
      factor: Number(arg('factor') ?? 10),
      maxQueue: Number(arg('max-queue') ?? 32),
      maxBatch: Number(arg('max-batch') ?? 16),
      log: (l) => void process.stderr.write(l + '\n'),
    });
    console.log('\n' + formatReport(report));
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
