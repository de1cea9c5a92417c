/** The compute core: tensors, autodiff, kernels, fused RNNs, optimizers, weights I/O. Knows nothing of translation. */
export * from './tensor.js';
export * as ops from './ops.js';
export { projectedCrossEntropy, type ProjectedLossResult, type ProjectedLossOptions } from './output-loss.js';
export * from './rnn.js';
export * from './init.js';
export * from './optim.js';
export * from './io.js';
export * from './int8.js';
export { Rng } from './rng.js';
export { sinusoidalPositions } from './positions.js';
export type { AttentionOptions, AttentionResult } from './attention.js';
export {
  kernels, setKernels, setNativeThreads, loadNativeKernels, nativeLoadError, jsKernels, loadWasmKernels, loadWasmKernelsSync, wasmLoadError, createWasmKernels,
  wasmSimdSupported, sharedMemorySupported, WasmKernelsError, WASM_FILES, WASM_DEFAULTS,
  type Kernels, type UnaryOp, type Activation, type WasmKernels, type WasmKernelOptions, type LoadWasmOptions,
} from './kernels/index.js';
export { longLivedFloat32, adoptLongLived } from './buffers.js';
