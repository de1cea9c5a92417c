import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, Rng, Tensor } from '../src/engine/index.js';
import { makeSourceBatch } from '../src/data/batching.js';
import { BOS_ID, EOS_ID } from '../src/data/vocab.js';
import { greedyDecode } from '../src/decode/greedy.js';
import { beamSearch, lengthPenalty, topCandidates, type StepModel, type ScoredHypothesis } from '../src/decode/beam.js';
import { Translator } from '../src/decode/translator.js';
import type { IdBatch, Seq2Seq } from '../src/model/seq2seq.js';
import { tinySetup, type TinySetup } from './helpers/tiny.js';
import { assertGreedyTie, assertSameGreedy, assertSameHypothesisLists, assertSameTranslations, TIE_NATS, type TranslationTieJudge } from './helpers/same-translation.js';

// ------------------------------------------------------------------ helpers

const A = 3, B = 4; // content tokens of the hand-written models (0 PAD, 1 BOS, 2 EOS)

interface FakeRow {
  src: number;
  /** Tokens fed after BOS; null before BOS. */
  prefix: number[] | null;
}

/**
 * A model whose next-token distribution is a function of (first source id,
 * output prefix) that the test writes down. The state is the list of rows;
 * every decodeStep records how many rows it was given.
 */
class TableModel implements StepModel<FakeRow[]> {
  readonly calls: number[] = [];
  constructor(readonly V: number, readonly probs: (src: number, prefix: readonly number[]) => ArrayLike<number>) {}

  encode(src: IdBatch): FakeRow[] {
    return Array.from(src.lengths, (_, b) => ({ src: src.ids[b * src.maxLen], prefix: null }));
  }

  decodeStep(tokens: Int32Array, state: FakeRow[]): { logits: Tensor; state: FakeRow[] } {
    assert.equal(tokens.length, state.length);
    this.calls.push(tokens.length);
    if (this.calls.length === 1) assert.ok(tokens.every((t) => t === BOS_ID), 'the first step feeds BOS');
    const rows = state.map((r, i) => ({ src: r.src, prefix: r.prefix ? [...r.prefix, tokens[i]] : [] }));
    const logits = new Float32Array(rows.length * this.V);
    rows.forEach((r, i) => {
      const p = this.probs(r.src, r.prefix);
      assert.equal(p.length, this.V);
      for (let j = 0; j < this.V; j++) logits[i * this.V + j] = Math.log(p[j]);
    });
    return { logits: new Tensor(logits, [rows.length, this.V]), state: rows };
  }

  selectState(state: FakeRow[], index: Int32Array): FakeRow[] {
    return Array.from(index, (i) => state[i]);
  }
}

/** Probabilities over [PAD, BOS, EOS, A, B] from the three that matter. */
function dist(eos: number, a: number, b: number): number[] {
  const rest = 1 - eos - a - b;
  assert.ok(rest > 0);
  return [rest / 2, rest / 2, eos, a, b];
}

/** A one-sentence source batch whose first id selects the fake model's table. */
function sources(...firsts: number[]): IdBatch {
  return { ids: Int32Array.from(firsts), lengths: new Int32Array(firsts.length).fill(1), maxLen: 1 };
}

function idBatch(srcs: readonly Int32Array[]): { src: IdBatch; order: Int32Array } {
  const b = makeSourceBatch(srcs);
  return { src: { ids: b.srcIds, lengths: b.srcLengths, maxLen: b.srcMaxLen }, order: b.order };
}

/**
 * An untrained tiny model made peaky (scaled output layer, EOS bias) so that
 * outputs end at varied lengths instead of uniformly noisy ones.
 */
function peakyModel(seed: number, model: Parameters<typeof tinySetup>[1] = {}, scale = 4, eosBias = 0.3): TinySetup {
  const s = tinySetup(12, model, seed);
  for (let i = 0; i < s.model.outputKernel.data.length; i++) s.model.outputKernel.data[i] *= scale;
  s.model.outputBias.data[EOS_ID] = eosBias;
  return s;
}

/** Log-probability of `ids` (+ EOS when finished) for one source, one token at a time through decodeStep. */
function teacherForced(model: Seq2Seq, source: Int32Array, ids: Int32Array, finished: boolean): number {
  return noGrad(() => {
    let state = model.encode(idBatch([source]).src);
    const targets = finished ? [...ids, EOS_ID] : [...ids];
    let prev = BOS_ID, sum = 0;
    for (const t of targets) {
      const r = model.decodeStep(Int32Array.of(prev), state);
      const d = r.logits.data;
      let max = -Infinity;
      for (const x of d) max = Math.max(max, x);
      let z = 0;
      for (const x of d) z += Math.exp(x - max);
      sum += d[t] - max - Math.log(z);
      state = r.state;
      prev = t;
    }
    return sum;
  });
}

function key(h: { ids: Int32Array }): string {
  return Array.from(h.ids).join(' ');
}

function assertRanked(list: ScoredHypothesis[]): void {
  for (let i = 1; i < list.length; i++) {
    const a = list[i - 1], b = list[i];
    assert.ok(a.finished >= b.finished && (a.finished !== b.finished || a.score >= b.score), `rank ${i - 1} vs ${i}`);
  }
  assert.equal(new Set(list.map(key)).size, list.length, 'hypotheses are distinct');
}

// --------------------------------------------------------------------- tests

const ARCHS = [
  { name: 'lstm', model: {} },
  { name: 'gru', model: { cell: 'gru' as const } },
  { name: 'stacked lstm with embeddings', model: { layers: 2, embeddingDim: 8 } },
  { name: 'dot attention', model: { attention: 'dot' as const } },
  { name: 'bidirectional gru, additive attention', model: { cell: 'gru' as const, bidirectional: true, attention: 'additive' as const, embeddingDim: 8 } },
];

for (const arch of ARCHS) {
  // Beam search drops finished sentences from its batch, greedy decoding keeps
  // every row: the products have different row counts, so the same tokens and
  // log-probabilities within LOG_PROB_ATOL, not the same bits.
  test(`${arch.name}: beam size 1 is greedy decoding (same tokens), whatever the length penalty`, () => {
    for (const seed of [1, 2, 3]) {
      for (const [scale, eosBias] of [[1, 0], [4, 0.3], [6, 0.5]]) {
        const s = peakyModel(seed, arch.model, scale, eosBias);
        const { src } = idBatch(s.examples.map((e) => e.src)); // varied source lengths
        const judge = (row: number) => ({ model: s.model, source: src.ids.slice(row * src.maxLen, row * src.maxLen + src.lengths[row]) });
        for (const maxLength of [0, 3, 25]) {
          const g = greedyDecode(s.model, src, { maxLength });
          for (const alpha of [0, 0.6, 2]) {
            const b = beamSearch(s.model, src, { beamSize: 1, maxLength, lengthPenalty: alpha });
            assert.equal(b.length, g.length);
            b.forEach((list, i) => {
              assert.equal(list.length, 1);
              const { score: _score, ...hypothesis } = list[0];
              assertSameGreedy(hypothesis, g[i], `seed ${seed}, scale ${scale}, maxLength ${maxLength}, α ${alpha}, row ${i}`, judge(i));
            });
          }
        }
      }
    }
  });
}

test('greedy outputs may differ across shapes only at a near-tie: the tie judge accepts one and rejects a real difference', () => {
  // This untrained fixture has near-ties on its greedy paths (found by search, gaps < TIE_NATS).
  const s = peakyModel(1, ARCHS[4].model, 1, 0);
  let found = false;
  noGrad(() => {
    for (const e of s.examples) {
      const [g] = greedyDecode(s.model, idBatch([e.src]).src, { maxLength: 25 });
      let state = s.model.encode(idBatch([e.src]).src);
      for (let k = 0; k < g.ids.length && !found; k++) {
        const r = s.model.decodeStep(Int32Array.of(k === 0 ? BOS_ID : g.ids[k - 1]), state);
        state = r.state;
        const row = Array.from(r.logits.data);
        const order = row.map((_, j) => j).sort((a, b) => row[b] - row[a]);
        if (row[order[0]] - row[order[1]] > TIE_NATS / 2) continue;
        found = true;
        const judge = { model: s.model, source: e.src };
        const runnerUp = [...g.ids.slice(0, k), order[order[0] === g.ids[k] ? 1 : 0]];
        assert.match(assertGreedyTie(judge, runnerUp, g.ids, 'runner-up'), new RegExp(`tie at token ${k}`));
        const worst = [...g.ids.slice(0, k), order[order.length - 1]];
        assert.throws(() => assertGreedyTie(judge, worst, g.ids, 'worst'), /no tie/);
        assert.throws(() => assertGreedyTie(judge, g.ids, g.ids, 'same'), /do not differ/);
      }
    }
  });
  assert.ok(found, 'the fixture has a near-tie to test the judge on');
  // n-best lists: another hypothesis at a rank only at a tied score.
  const h = (ids: number[], score: number): ScoredHypothesis => ({ ids: Int32Array.from(ids), logProb: score, score, finished: true });
  assertSameHypothesisLists([[h([A], -1), h([B], -1 - TIE_NATS / 2)]], [[h([B], -1), h([A], -1)]], 'tied');
  assert.throws(() => assertSameHypothesisLists([[h([A], -1), h([B], -1.01)]], [[h([B], -1.01), h([A], -1)]], 'swapped'), /no tie/);
});

test('a constructed case where greedy is worse: beam 2 finds the more probable sequence', () => {
  // After BOS: A .5, B .4; after A: A .4 (EOS .3); after AA: EOS .99; after B: EOS .9.
  // Greedy: A A EOS = .5 · .4 · .99 = .198. Best: B EOS = .4 · .9 = .36.
  const table = (_src: number, p: readonly number[]): number[] => {
    const s = p.join(',');
    if (s === '') return dist(0.08, 0.5, 0.4);
    if (s === `${A}`) return dist(0.3, 0.4, 0.28);
    if (s === `${A},${A}`) return dist(0.99, 0.004, 0.004);
    if (s === `${B}`) return dist(0.9, 0.04, 0.04);
    return dist(0.5, 0.2, 0.2);
  };
  const g = greedyDecode(new TableModel(5, table) as unknown as Seq2Seq, sources(7), { maxLength: 10 });
  assert.deepEqual(Array.from(g[0].ids), [A, A]);
  assert.ok(Math.abs(g[0].logProb - Math.log(0.5 * 0.4 * 0.99)) < 1e-6);

  const [best] = beamSearch(new TableModel(5, table), sources(7), { beamSize: 2, maxLength: 10, lengthPenalty: 0 });
  assert.equal(best.length, 1);
  assert.deepEqual(Array.from(best[0].ids), [B]);
  assert.ok(Math.abs(best[0].logProb - Math.log(0.4 * 0.9)) < 1e-6);
  assert.equal(best[0].finished, true);

  // The 2-best list holds both, the greedy one second; score = logProb when α = 0.
  const [two] = beamSearch(new TableModel(5, table), sources(7), { beamSize: 2, maxLength: 10, lengthPenalty: 0, nBest: 2 });
  assert.deepEqual(two.map((h) => Array.from(h.ids)), [[B], [A, A]]);
  assert.ok(Math.abs(two[1].logProb - Math.log(0.198)) < 1e-6);
  for (const h of two) assert.equal(h.score, h.logProb);
});

test('length penalty: α = 0 prefers the short sequence, a larger α the longer, more normalised one', () => {
  // EOS at once: .35 (|Y| = 1). A A A EOS: .5 · .8 · .8 · .8 = .256 (|Y| = 4).
  const table = (_src: number, p: readonly number[]): number[] => {
    if (p.length === 0) return dist(0.35, 0.5, 0.1);
    if (p.length < 3 && p.every((t) => t === A)) return dist(0.1, 0.8, 0.05);
    if (p.length === 3 && p.every((t) => t === A)) return dist(0.8, 0.1, 0.05);
    return dist(0.5, 0.2, 0.2);
  };
  const run = (alpha: number, nBest = 1) =>
    beamSearch(new TableModel(5, table), sources(1), { beamSize: 2, maxLength: 10, lengthPenalty: alpha, nBest })[0];
  const short = Math.log(0.35), long = Math.log(0.256);
  const r0 = run(0);
  assert.deepEqual(Array.from(r0[0].ids), []);
  assert.ok(Math.abs(r0[0].score - short) < 1e-6);
  const r15 = run(1.5, 2);
  assert.deepEqual(r15.map((h) => Array.from(h.ids)), [[A, A, A], []]);
  assert.ok(Math.abs(r15[0].logProb - long) < 1e-6);
  assert.ok(Math.abs(r15[0].score - long / Math.pow(9 / 6, 1.5)) < 1e-6, '|Y| counts EOS');
  assert.ok(Math.abs(r15[1].score - short / Math.pow(6 / 6, 1.5)) < 1e-6);
  assert.ok(r15[0].logProb < r15[1].logProb, 'the winner has the lower raw log-probability');
  assert.equal(lengthPenalty(4, 1.5), Math.pow(9 / 6, 1.5));
  assert.equal(lengthPenalty(7, 0), 1);
});

test('with a beam wide enough to keep everything, beam search is exhaustive search', () => {
  // Random distributions over 5 tokens, outputs up to 3 tokens: 85 finished
  // candidates plus 64 cut at the limit, fewer than the beam (200).
  for (const seed of [1, 2, 3, 4]) {
    const rng = new Rng(seed);
    const tables = new Map<string, number[]>();
    const table = (_src: number, p: readonly number[]): number[] => {
      const k = p.join(',');
      if (!tables.has(k)) {
        const w = Array.from({ length: 5 }, () => Math.exp(3 * rng.next()));
        const z = w.reduce((x, y) => x + y, 0);
        tables.set(k, w.map((x) => x / z));
      }
      return tables.get(k)!;
    };
    const maxLength = 3, alpha = 0.6;
    const model = new TableModel(5, table);
    const got = beamSearch(model, sources(1), { beamSize: 200, maxLength, lengthPenalty: alpha, nBest: 10 })[0];
    // Brute force with the same float32 log-probabilities.
    const logp = (p: number[], t: number): number => {
      const row = table(1, p).map((x) => Math.fround(Math.log(x)));
      const max = Math.max(...row);
      return row[t] - max - Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    };
    const all: { ids: number[]; logProb: number; score: number }[] = [];
    const walk = (p: number[], lp: number): void => {
      if (p.length === maxLength) {
        const row = table(1, p);
        if (row.indexOf(Math.max(...row)) === EOS_ID) all.push({ ids: p, logProb: lp + logp(p, EOS_ID), score: 0 });
        return;
      }
      all.push({ ids: p, logProb: lp + logp(p, EOS_ID), score: 0 });
      for (const t of [0, 1, 3, 4]) walk([...p, t], lp + logp(p, t));
    };
    walk([], 0);
    for (const h of all) h.score = h.logProb / lengthPenalty(h.ids.length + 1, alpha);
    all.sort((a, b) => b.score - a.score);
    assert.deepEqual(got.map((h) => Array.from(h.ids)), all.slice(0, 10).map((h) => h.ids));
    got.forEach((h, i) => assert.ok(Math.abs(h.logProb - all[i].logProb) < 1e-9 && h.finished));
  }
});

test('one decoder call per step for the whole batch; one live beam per sentence at step 0; done sentences leave', () => {
  // Source 1 ends at once (EOS .95); source 2 walks A A A … for a while.
  const table = (src: number, p: readonly number[]): number[] => {
    if (src === 1) return p.length === 0 ? dist(0.95, 0.02, 0.02) : dist(0.9, 0.05, 0.04);
    return p.length < 6 ? dist(0.01, 0.9, 0.05) : dist(0.97, 0.01, 0.01);
  };
  const model = new TableModel(5, table);
  const [one, two] = beamSearch(model, sources(1, 2), { beamSize: 3, maxLength: 20, lengthPenalty: 0 });
  assert.deepEqual(Array.from(one[0].ids), []);
  assert.deepEqual(Array.from(two[0].ids), [A, A, A, A, A, A]);
  assert.equal(model.calls[0], 2, 'step 0: one row per sentence, not K copies');
  // Sentence 1 is done after step 0 (its best can no longer be beaten): later calls carry only sentence 2's beams.
  assert.ok(model.calls.slice(1).every((n) => n <= 3), `rows per step ${model.calls}`);
  assert.equal(model.calls[1], 3);
  // Alone, sentence 2 takes exactly the same calls from step 1 on, and yields the same result.
  const alone = new TableModel(5, table);
  const [twoAlone] = beamSearch(alone, sources(2), { beamSize: 3, maxLength: 20, lengthPenalty: 0 });
  assert.deepEqual(alone.calls.slice(1), model.calls.slice(1));
  assert.deepEqual(twoAlone, two);
});

test('n-best lists are ranked, distinct, and their log-probs match teacher forcing through decodeStep', () => {
  for (const arch of ARCHS) {
    const s = peakyModel(5, arch.model);
    const srcs = s.examples.slice(0, 6).map((e) => e.src);
    const { src, order } = idBatch(srcs);
    for (const alpha of [0, 0.6]) {
      const lists = beamSearch(s.model, src, { beamSize: 5, nBest: 5, maxLength: 15, lengthPenalty: alpha });
      lists.forEach((list, row) => {
        assert.ok(list.length >= 1 && list.length <= 5);
        assertRanked(list);
        for (const h of list) {
          const expected = teacherForced(s.model, srcs[order[row]], h.ids, h.finished);
          assert.ok(Math.abs(h.logProb - expected) < 1e-4, `${h.logProb} vs ${expected}`);
          assert.ok(h.ids.length <= 15);
          assert.ok(Math.abs(h.score - h.logProb / lengthPenalty(h.ids.length + (h.finished ? 1 : 0), alpha)) < 1e-12);
        }
      });
    }
  }
});

test('a sentence gets the same n-best list alone or in a batch of others', () => {
  for (const arch of [ARCHS[2], ARCHS[4]]) {
    const s = peakyModel(7, arch.model);
    const srcs = s.examples.map((e) => e.src);
    const { src, order } = idBatch(srcs);
    const opts = { beamSize: 4, nBest: 3, maxLength: 20, lengthPenalty: 0.6 };
    const batched = beamSearch(s.model, src, opts);
    batched.forEach((list, row) => {
      const [alone] = beamSearch(s.model, idBatch([srcs[order[row]]]).src, opts);
      assertSameHypothesisLists([list], [alone], `${arch.name}, row ${row}`);
    });
  }
});

// Early stopping removes sentences from the batch sooner, so later steps run
// on fewer rows: the same n-best lists (tokens, order, finished), values
// within LOG_PROB_ATOL.
test('early stopping never changes the n-best list', () => {
  for (const seed of [1, 2, 3]) {
    const s = peakyModel(seed, {}, 5, 0.2);
    const { src } = idBatch(s.examples.map((e) => e.src));
    for (const alpha of [0, 0.6, 1.5]) {
      for (const nBest of [1, 3]) {
        const opts = { beamSize: 4, nBest, maxLength: 20, lengthPenalty: alpha };
        const fast = beamSearch(s.model, src, opts);
        const full = beamSearch(s.model, src, { ...opts, earlyStop: false });
        assertSameHypothesisLists(fast, full, `seed ${seed}, α ${alpha}, nBest ${nBest}`);
      }
    }
  }
});

test('maxLength is respected: beams that never produce EOS are cut, unfinished, after maxLength + 1 calls', () => {
  const table = (): number[] => dist(0.001, 0.6, 0.398);
  for (const maxLength of [0, 1, 7]) {
    const model = new TableModel(5, table);
    const [list] = beamSearch(model, sources(1), { beamSize: 2, nBest: 2, maxLength, lengthPenalty: 0.6 });
    assert.equal(model.calls.length, maxLength + 1);
    assert.ok(list.every((h) => h.ids.length === maxLength && !h.finished));
    assert.equal(list[0].ids.every((t) => t === A), true);
  }
  // A finished hypothesis outranks a cut one even with a lower score.
  const rare = (_src: number, p: readonly number[]): number[] => (p.length === 0 ? dist(0.2, 0.75, 0.01) : dist(0.001, 0.99, 0.004));
  const [list] = beamSearch(new TableModel(5, rare), sources(1), { beamSize: 2, nBest: 2, maxLength: 4, lengthPenalty: 0 });
  assert.deepEqual(list.map((h) => h.finished), [true, false]);
  assert.ok(list[0].score < list[1].score);
  // Real model too.
  const s = peakyModel(2, {}, 1, -2);
  const { src } = idBatch(s.examples.map((e) => e.src));
  for (const list of beamSearch(s.model, src, { beamSize: 3, nBest: 3, maxLength: 6 })) {
    for (const h of list) assert.ok(h.ids.length <= 6);
  }
});

test('topCandidates is a partial selection equal to a full sort (ties to the earlier beam and token)', () => {
  const rng = new Rng(4);
  const V = 3000, rows = 4;
  const data = new Float32Array(rows * V);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(rng.next() * 50) / 10; // many ties
  const logits = new Tensor(data, [rows, V]);
  const max = new Float64Array(rows), logSum = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = data.subarray(r * V, (r + 1) * V);
    max[r] = Math.max(...row);
    logSum[r] = Math.log(row.reduce((s, x) => s + Math.exp(x - max[r]), 0));
  }
  const prev = [-0.5, -0.7, -0.5, -2];
  const all = Array.from({ length: 3 * V }, (_, i) => {
    const k = Math.floor(i / V), r = 1 + k;
    return { i, s: prev[k] + ((data[r * V + (i % V)] - max[r]) - logSum[r]) };
  }).sort((a, b) => b.s - a.s || a.i - b.i);
  for (const m of [1, 5, 17]) {
    const got = topCandidates(logits, 1, 3, prev.slice(0, 3), max, logSum, m);
    assert.deepEqual(Array.from(got.index), all.slice(0, m).map((c) => c.i));
    assert.deepEqual(Array.from(got.score), all.slice(0, m).map((c) => c.s));
  }
});

test('bad options are RangeErrors', () => {
  const model = new TableModel(5, () => dist(0.5, 0.2, 0.2));
  assert.throws(() => beamSearch(model, sources(1), { beamSize: 0 }), RangeError);
  assert.throws(() => beamSearch(model, sources(1), { beamSize: 2, nBest: 3 }), RangeError);
  assert.throws(() => beamSearch(model, sources(1), { maxLength: -1 }), RangeError);
  assert.throws(() => beamSearch(model, sources(1), { lengthPenalty: NaN }), RangeError);
});

test('Translator: beam 1 is the old greedy output; beam > 1 with nBest gives ranked alternatives', () => {
  const s = peakyModel(3, {}, 4, 0.1);
  const translator = new Translator({
    model: s.model, sourceVocab: s.vocabs.source, targetVocab: s.vocabs.target,
    sourceTokenizer: s.tokenizers.source, targetTokenizer: s.tokenizers.target, maxOutputLength: 20,
  });
  const texts = s.pairs.map((p) => p.source);
  const plain = translator.translate(texts, { batchSize: 5 });
  const beam1 = translator.translate(texts, { batchSize: 5, beam: 1, lengthPenalty: 3 });
  // beam 1 runs the greedy decoder on the same batches: the same arithmetic, bit for bit.
  assert.deepEqual(beam1, plain);
  assert.ok(plain.every((t) => t.alternatives === undefined));
  // Same as greedyDecode itself on one batch of all sentences (other row
  // counts than batches of 5): the same output (or a near-tie), log-probability within tolerance.
  const ties: TranslationTieJudge = {
    judge: (i) => ({ model: s.model, source: s.examples[i].src }),
    targetIds: (text) => s.vocabs.target.encode(s.tokenizers.target.tokenize(text)).ids,
  };
  const { src, order } = idBatch(s.examples.map((e) => e.src));
  greedyDecode(s.model, src, { maxLength: 20 }).forEach((h, row) => {
    const t = plain[order[row]];
    assert.equal(s.tokenizers.target.detokenize(s.vocabs.target.decode(ties.targetIds(t.text) as Int32Array)), t.text, 'texts re-encode');
    assertSameGreedy({ ids: Int32Array.from(ties.targetIds(t.text)), logProb: t.logProb, finished: t.finished }, h, `sentence ${order[row]}`, ties.judge(order[row]));
  });
  // Batch size changes the row counts, not the translations.
  assertSameTranslations(translator.translate(texts, { batchSize: 3 }), plain, 'batch size 3 vs 5', ties);

  const nbest = translator.translate(texts, { batchSize: 5, beam: 4, nBest: 3 });
  nbest.forEach((t, i) => {
    assert.equal(t.source, texts[i]);
    const alts = t.alternatives!;
    assert.ok(alts.length >= 1 && alts.length <= 3);
    assert.equal(alts[0].text, t.text);
    assert.equal(alts[0].logProb, t.logProb);
    assert.equal(alts[0].finished, t.finished);
    for (let k = 1; k < alts.length; k++) assert.ok(alts[k - 1].finished > alts[k].finished || alts[k - 1].score >= alts[k].score);
  });
  const top = translator.translate(texts, { batchSize: 5, beam: 4 });
  assert.deepEqual(top.map((t) => t.text), nbest.map((t) => t.text));
  assert.ok(top.every((t) => t.alternatives === undefined));
  assert.throws(() => translator.translate(texts, { nBest: 2 }), RangeError);
  assert.throws(() => translator.translate(texts, { beam: 0 }), RangeError);
});
