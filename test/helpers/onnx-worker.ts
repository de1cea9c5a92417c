/**
 * The worker half of test/helpers/onnx-sync.ts: holds the onnxruntime
 * sessions of an exported model and answers each request on its port, then
 * wakes the waiting main thread through the shared signal.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import type { PlainTensor } from './onnx-decode.js';

const { dir, port, signal } = workerData as { dir: string; port: MessagePort; signal: Int32Array };
const options: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', intraOpNumThreads: 1, interOpNumThreads: 1 };
const sessions = Promise.all([ort.InferenceSession.create(join(dir, 'encoder.onnx'), options), ort.InferenceSession.create(join(dir, 'decoder_step.onnx'), options)]);

function reply(message: unknown): void {
  port.postMessage(message);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}

port.on('message', (req: { graph: 'encoder' | 'decoder' | 'ready'; feeds: Record<string, PlainTensor> }) => {
  void (async () => {
    try {
      const [encoder, decoder] = await sessions;
      if (req.graph === 'ready') return reply({ ok: true });
      const feeds: Record<string, ort.Tensor> = {};
      for (const [k, t] of Object.entries(req.feeds)) feeds[k] = new ort.Tensor(t.type, t.data as Float32Array, [...t.dims]);
      const out = await (req.graph === 'encoder' ? encoder : decoder).run(feeds);
      const plain: Record<string, PlainTensor> = {};
      for (const [k, t] of Object.entries(out)) plain[k] = { type: t.type as PlainTensor['type'], data: t.data as PlainTensor['data'], dims: t.dims };
      reply({ ok: true, outputs: plain });
    } catch (e) {
      reply({ ok: false, error: String((e as Error).stack ?? e) });
    }
  })();
});
