/**
 * Decoding an exported model the way a program in another language would:
 * from model.json and the two .onnx files only (the contract the export's
 * README describes), never from s2s's model code. Greedy decoding follows
 * s2s's rules (BOS first; argmax with the first index on ties; a row ends at
 * EOS or after maxLength tokens, then one more step that may only end it;
 * finished rows leave the batch). `runSession` is any "feeds → outputs"
 * runner, so the same loop drives onnxruntime-node here and in the bench.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A tensor as onnxruntime takes and gives it. */
export interface PlainTensor {
  type: 'float32' | 'int64' | 'bool' | 'int32';
  data: Float32Array | BigInt64Array | Uint8Array | Int32Array;
  dims: readonly number[];
}

export type Runner = (feeds: Record<string, PlainTensor>) => Promise<Record<string, PlainTensor>>;

/** What the loop reads of model.json. */
export interface Contract {
  /** How the graphs store their weights ('int8': INT8 initializers + DequantizeLinear). */
  weights: 'float32' | 'int8';
  encoder: { file: string; inputs: { name: string }[]; outputs: { name: string }[] };
  decoder: {
    file: string;
    tokens: string;
    logits: string;
    attention: string | null;
    state: { input: string; initial: string; next: string }[];
    constants: { input: string; from: string }[];
  };
  targetTokens: { pad: number; bos: number; eos: number; unk: number };
  maxOutputLength: number;
}

export function readContract(dir: string): Contract {
  return JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Contract;
}

export function int64Tensor(values: ArrayLike<number>, dims: readonly number[]): PlainTensor {
  return { type: 'int64', data: BigInt64Array.from(Array.from(values), (v) => BigInt(v)), dims };
}

/** Rows `index` of a tensor along axis 0 (rows may repeat): dropping finished sentences, reordering beams. */
export function gatherRows(t: PlainTensor, index: ArrayLike<number>): PlainTensor {
  const row = t.dims.slice(1).reduce((a, b) => a * b, 1);
  const Ctor = t.data.constructor as new (n: number) => PlainTensor['data'];
  const out = new Ctor(index.length * row);
  for (let i = 0; i < index.length; i++) (out as Float32Array).set((t.data as Float32Array).subarray(index[i] * row, (index[i] + 1) * row), i * row);
  return { type: t.type, data: out, dims: [index.length, ...t.dims.slice(1)] };
}

/** The decoder inputs other than the tokens: state and constants, by decoder input name. */
export type DecoderState = Map<string, PlainTensor>;

/** Runs encoder.onnx on padded source ids → the decoder's first state. */
export async function encodeSources(c: Contract, encoder: Runner, sources: readonly (readonly number[])[]): Promise<DecoderState> {
  const B = sources.length;
  const S = Math.max(...sources.map((s) => s.length));
  const ids = new Array<number>(B * S).fill(c.targetTokens.pad);
  sources.forEach((s, b) => s.forEach((id, t) => (ids[b * S + t] = id)));
  const out = await encoder({ src_ids: int64Tensor(ids, [B, S]), src_lengths: int64Tensor(sources.map((s) => s.length), [B]) });
  const state: DecoderState = new Map();
  for (const s of c.decoder.state) state.set(s.input, out[s.initial]);
  for (const k of c.decoder.constants) state.set(k.input, out[k.from]);
  return state;
}

/** One decoder step: logits [rows, V] and the state for the next step. */
export async function decodeStep(c: Contract, decoder: Runner, tokens: ArrayLike<number>, state: DecoderState): Promise<{ logits: Float32Array; vocab: number; state: DecoderState; attention: Float32Array | null }> {
  const feeds: Record<string, PlainTensor> = { [c.decoder.tokens]: int64Tensor(tokens, [tokens.length]) };
  for (const [name, t] of state) feeds[name] = t;
  const out = await decoder(feeds);
  const next: DecoderState = new Map(state);
  for (const s of c.decoder.state) next.set(s.input, out[s.next]);
  const logits = out[c.decoder.logits];
  return { logits: logits.data as Float32Array, vocab: logits.dims[1], state: next, attention: c.decoder.attention ? (out[c.decoder.attention].data as Float32Array) : null };
}

export function selectRows(state: DecoderState, index: ArrayLike<number>): DecoderState {
  const out: DecoderState = new Map();
  for (const [name, t] of state) out.set(name, gatherRows(t, index));
  return out;
}

export interface GreedyResult {
  /** Output ids per sentence, without BOS and EOS. */
  ids: number[][];
  finished: boolean[];
  /** Log-probability of each output (EOS included when produced). */
  logProb: number[];
  /** The logits row of every step of every sentence (when asked). */
  steps?: Float32Array[][];
}

/** Greedy decoding over the contract, batched, finished rows dropped. */
export async function greedy(c: Contract, encoder: Runner, decoder: Runner, sources: readonly (readonly number[])[], options: { maxLength?: number; recordLogits?: boolean } = {}): Promise<GreedyResult> {
  const maxLength = options.maxLength ?? c.maxOutputLength;
  const B = sources.length;
  const result: GreedyResult = { ids: sources.map(() => []), finished: sources.map(() => false), logProb: sources.map(() => 0) };
  if (options.recordLogits) result.steps = sources.map(() => []);
  let state = await encodeSources(c, encoder, sources);
  let rows = Array.from({ length: B }, (_, i) => i);
  let tokens = new Array<number>(B).fill(c.targetTokens.bos);
  for (let step = 0; step <= maxLength && rows.length > 0; step++) {
    const r = await decodeStep(c, decoder, tokens, state);
    const V = r.vocab;
    const keep: number[] = [];
    const nextTokens: number[] = [];
    for (let i = 0; i < rows.length; i++) {
      const row = r.logits.subarray(i * V, (i + 1) * V);
      result.steps?.[rows[i]].push(Float32Array.from(row));
      let best = 0;
      for (let j = 1; j < V; j++) if (row[j] > row[best]) best = j;
      let sum = 0;
      for (let j = 0; j < V; j++) sum += Math.exp(row[j] - row[best]);
      const lp = -Math.log(sum);
      const s = rows[i];
      if (best === c.targetTokens.eos) {
        result.logProb[s] += lp;
        result.finished[s] = true;
      } else if (step < maxLength) {
        result.logProb[s] += lp;
        result.ids[s].push(best);
        keep.push(i);
        nextTokens.push(best);
      }
    }
    state = keep.length === rows.length ? r.state : selectRows(r.state, keep);
    rows = keep.map((i) => rows[i]);
    tokens = nextTokens;
  }
  return result;
}
