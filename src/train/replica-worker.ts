/**
 * One data-parallel training replica (a node:worker_threads worker started
 * by ReplicaPool). Its model's parameters are views of the trainer's shared
 * parameter buffer, and its gradients live in a shared buffer of their own,
 * so a step copies nothing: the trainer posts a sub-batch, this runs the
 * forward and backward passes on it, and the trainer adds the gradients to
 * its own before the optimizer update.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Rng, clearTape, setKernels } from '../engine/index.js';
import { createModel } from '../model/model.js';
import type { ReplicaInit, ReplicaRequest, ReplicaReply } from './replica-pool.js';

const init = workerData as ReplicaInit;
setKernels(init.kernels);
const model = createModel(init.model, null); // no random draws: the values are the shared ones
const params = model.parameters();
if (params.length !== init.layout.length) throw new Error(`replica: ${params.length} parameters, the trainer has ${init.layout.length}`);
params.forEach((p, i) => {
  const { offset, size } = init.layout[i];
  if (p.size !== size) throw new Error(`replica: parameter ${p.name} has ${p.size} elements, the trainer's has ${size}`);
  (p as { data: Float32Array }).data = new Float32Array(init.parameters, offset * 4, size);
  p.grad = new Float32Array(init.gradients, offset * 4, size);
});

parentPort?.on('message', (m: ReplicaRequest) => {
  let reply: ReplicaReply;
  try {
    for (const p of params) p.zeroGrad();
    const r = model.forward(m.batch, { training: true, rng: new Rng(m.dropoutSeed), labelSmoothing: m.labelSmoothing });
    const loss = r.loss.item();
    if (Number.isFinite(loss)) r.loss.backward(Float32Array.of(m.weight));
    else clearTape();
    reply = { loss };
  } catch (err) {
    clearTape();
    reply = { error: (err as Error).stack ?? String(err) };
  }
  parentPort?.postMessage(reply);
});
