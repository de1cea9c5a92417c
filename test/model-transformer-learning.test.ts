/**
 * A tiny Transformer (2+2 pre-LN blocks, d 32, tied embeddings over one
 * vocabulary) learns to reverse strings of length 3–6 over "abcde" and then
 * reverses 200 held-out strings it never saw, greedy, without an error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, Adam, clipGradNorm, clearTape } from '../src/engine/index.js';
import { Vocab } from '../src/data/vocab.js';
import { makeBatch, makeSourceBatch, type Example } from '../src/data/batching.js';
import { greedyDecode } from '../src/decode/greedy.js';
import { Transformer } from '../src/model/transformer.js';
import { kernelName } from './helpers/gradcheck.js';

const LETTERS = 'abcde';
const vocab = Vocab.build([[...LETTERS]]);
const encode = (s: string): Int32Array => vocab.encode([...s]).ids;

function randomString(rng: Rng): string {
  const n = 3 + rng.int(4);
  let s = '';
  for (let i = 0; i < n; i++) s += LETTERS[rng.int(LETTERS.length)];
  return s;
}

const example = (s: string, index: number): Example => ({ src: encode(s), tgt: encode([...s].reverse().join('')), index });

function heldOutErrors(model: Transformer, strings: string[]): string[] {
  const batch = makeSourceBatch(strings.map(encode));
  const hyps = greedyDecode(model, { ids: batch.srcIds, lengths: batch.srcLengths, maxLen: batch.srcMaxLen }, { maxLength: 8 });
  const wrong: string[] = [];
  hyps.forEach((h, row) => {
    const s = strings[batch.order[row]];
    const got = vocab.decode(h.ids).join(''), want = [...s].reverse().join('');
    if (got !== want) wrong.push(`${s} → ${got} (want ${want})`);
  });
  return wrong;
}

test(`a tiny Transformer learns to reverse strings and reverses held-out ones without error (${kernelName()} kernels)`, (t) => {
  const t0 = Date.now();
  const heldRng = new Rng(7);
  const heldOut = new Set<string>();
  while (heldOut.size < 200) heldOut.add(randomString(heldRng));
  const held = [...heldOut];
  const model = new Transformer({
    arch: 'transformer', modelDim: 32, heads: 4, ffDim: 64, layers: 2, tieEmbeddings: true, maxPositions: 16,
    srcVocabSize: vocab.size, tgtVocabSize: vocab.size,
  }, 1);
  const params = model.parameters();
  const opt = new Adam(params, { learningRate: 0 });
  const rng = new Rng(3);
  const peak = 0.003, warmup = 100, batchSize = 32, maxSteps = 3000;
  let step = 0, wrong = heldOutErrors(model, held), loss = Infinity;
  const first: number[] = [];
  while (step < maxSteps && wrong.length > 0) {
    for (let k = 0; k < 100; k++, step++) {
      const examples: Example[] = [];
      while (examples.length < batchSize) {
        const s = randomString(rng);
        if (!heldOut.has(s)) examples.push(example(s, examples.length));
      }
      clearTape();
      opt.zeroGrad();
      const r = model.forward(makeBatch(examples, examples.map((_, i) => i)), { training: true, rng });
      r.loss.backward();
      clipGradNorm(params, 1);
      // Linear warmup, then inverse square root (the usual Transformer schedule).
      opt.learningRate = peak * Math.min((step + 1) / warmup, Math.sqrt(warmup / (step + 1)));
      opt.update();
      loss = r.loss.item();
      if (first.length < 5) first.push(loss);
    }
    wrong = heldOutErrors(model, held);
    t.diagnostic(`step ${step}: loss ${loss.toFixed(4)}, held-out errors ${wrong.length}/${held.length}`);
  }
  t.diagnostic(`${step} steps in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  assert.deepEqual(wrong, [], `held-out errors after ${step} steps:\n${wrong.slice(0, 10).join('\n')}`);
  assert.ok(first[0] > 1.5, `initial loss ${first[0]}`);
  assert.ok(loss < 0.1, `final loss ${loss}`);
});
