/**
 * The native addon against the TypeScript kernels (the suites are in
 * helpers/kernel-parity.ts, shared with the wasm kernels' test).
 *
 * Skipped with a message when the addon is not built. Set S2S_NATIVE_ADDON
 * to test another build (e.g. the OpenBLAS-free fallback).
 */
import { loadNativeKernels, nativeLoadError } from '../src/engine/kernels/index.js';
import { kernelParitySuites } from './helpers/kernel-parity.js';

const native = loadNativeKernels();
const skip = native ? false : `native addon not built (${nativeLoadError() || 'no build/Release/s2s_native.node'}); run \`npm run build:native\``;
kernelParitySuites(native, 'native', skip);
