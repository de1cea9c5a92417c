/**
 * An exported model as a synchronous StepModel (encode / decodeStep /
 * selectState), so s2s's own beam search (and greedy decoding) can run over
 * the ONNX graphs unchanged. onnxruntime-node only runs asynchronously, so
 * the sessions live in a worker thread and each call blocks on Atomics.wait
 * until the worker has answered, then reads the answer with
 * receiveMessageOnPort. The state is the contract's (onnx-decode.ts).
 */
import { Worker, MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { Tensor } from '../../src/engine/index.js';
import type { IdBatch } from '../../src/model/model.js';
import type { StepModel } from '../../src/decode/beam.js';
import { readContract, int64Tensor, selectRows, type Contract, type DecoderState, type PlainTensor } from './onnx-decode.js';

export class SyncOnnxModel implements StepModel<DecoderState> {
  readonly contract: Contract;
  private readonly worker: Worker;
  private readonly port: MessageChannel['port1'];
  private readonly signal = new Int32Array(new SharedArrayBuffer(4));

  constructor(dir: string) {
    this.contract = readContract(dir);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(new URL('./onnx-worker.js', import.meta.url), { workerData: { dir, port: port2, signal: this.signal }, transferList: [port2] });
    this.call('ready', {});
  }

  private call(graph: 'encoder' | 'decoder' | 'ready', feeds: Record<string, PlainTensor>): Record<string, PlainTensor> {
    Atomics.store(this.signal, 0, 0);
    this.port.postMessage({ graph, feeds });
    while (Atomics.wait(this.signal, 0, 0, 60_000) === 'timed-out') throw new Error('onnx worker: no answer in 60 s');
    const msg = receiveMessageOnPort(this.port)?.message as { ok: boolean; outputs?: Record<string, PlainTensor>; error?: string } | undefined;
    if (!msg?.ok) throw new Error(`onnx worker: ${msg?.error ?? 'no answer'}`);
    return msg.outputs ?? {};
  }

  encode(src: IdBatch): DecoderState {
    const B = src.lengths.length;
    const out = this.call('encoder', { src_ids: int64Tensor(src.ids, [B, src.maxLen]), src_lengths: int64Tensor(src.lengths, [B]) });
    const state: DecoderState = new Map();
    for (const s of this.contract.decoder.state) state.set(s.input, out[s.initial]);
    for (const k of this.contract.decoder.constants) state.set(k.input, out[k.from]);
    return state;
  }

  decodeStep(tokens: Int32Array, state: DecoderState): { logits: Tensor; state: DecoderState } {
    const feeds: Record<string, PlainTensor> = { [this.contract.decoder.tokens]: int64Tensor(tokens, [tokens.length]) };
    for (const [name, t] of state) feeds[name] = t;
    const out = this.call('decoder', feeds);
    const next: DecoderState = new Map(state);
    for (const s of this.contract.decoder.state) next.set(s.input, out[s.next]);
    const logits = out[this.contract.decoder.logits];
    return { logits: new Tensor(logits.data as Float32Array, [logits.dims[0], logits.dims[1]]), state: next };
  }

  selectState(state: DecoderState, index: Int32Array): DecoderState {
    return selectRows(state, index);
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
