/**
 * Kernel selection. The native addon is used when it loads (Node only),
 * otherwise the TypeScript kernels; `S2S_KERNELS=native|js` overrides the
 * choice, and asking for native where it cannot load is an error.
 */
import type { Kernels } from './types.js';
import { jsKernels } from './js.js';
import { S2SError, ConfigError } from '../../errors.js';

export type { Kernels, UnaryOp, Activation } from './types.js';
export { jsKernels } from './js.js';

let active: Kernels | null = null;
let nativeCache: Kernels | null | undefined;
let nativeError = '';

/** The native kernels, or null when the addon cannot be loaded here. */
export function loadNativeKernels(): Kernels | null {
  if (nativeCache !== undefined) return nativeCache;
  nativeCache = null;
  const proc = (globalThis as { process?: NodeJS.Process }).process;
  // getBuiltinModule keeps this file free of static Node imports, so browsers can bundle it.
  const getBuiltin = proc?.getBuiltinModule as ((id: string) => unknown) | undefined;
  if (!getBuiltin) {
    nativeError = 'not running under Node.js';
    return null;
  }
  try {
    const { createRequire } = getBuiltin('node:module') as typeof import('node:module');
    const { fileURLToPath } = getBuiltin('node:url') as typeof import('node:url');
    const path = getBuiltin('node:path') as typeof import('node:path');
    const here = path.dirname(fileURLToPath(import.meta.url));
    // Compiled layout: <root>/dist/src/engine/kernels/index.js → <root>/build/Release.
    const root = path.resolve(here, '..', '..', '..', '..');
    const addonPath = proc?.env.S2S_NATIVE_ADDON ?? path.join(root, 'build', 'Release', 's2s_native.node');
    const addon = createRequire(import.meta.url)(addonPath) as Omit<Kernels, 'name' | 'description'> & { info(): string };
    // An addon built from older sources lacks kernels added since: treat it as not loadable rather than fail mid-run.
    const missing = Object.keys(jsKernels).filter((name) => typeof (addon as Record<string, unknown>)[name] !== 'function' && name !== 'name' && name !== 'description');
    if (missing.length > 0) {
      nativeError = `the native addon at ${addonPath} is out of date (no ${missing.join(', ')}); rebuild it with \`npm run build:native\``;
      return null;
    }
    nativeCache = { ...addon, name: 'native', description: addon.info() };
  } catch (err) {
    nativeError = (err as Error).message.split('\n')[0];
    nativeCache = null;
  }
  return nativeCache;
}

/** The active kernel set (chosen on first use). */
export function kernels(): Kernels {
  if (active) return active;
  const proc = (globalThis as { process?: NodeJS.Process }).process;
  const wanted = proc?.env?.S2S_KERNELS;
  if (wanted === 'js') {
    active = jsKernels;
  } else if (wanted === 'native') {
    const native = loadNativeKernels();
    if (!native) throw new ConfigError(`S2S_KERNELS=native but the native addon cannot be loaded: ${nativeError}. Build it with \`npm run build:native\`.`);
    active = native;
  } else if (wanted !== undefined && wanted !== '' && wanted !== 'auto') {
    throw new ConfigError(`S2S_KERNELS must be "native", "js" or "auto", got "${wanted}"`);
  } else {
    active = loadNativeKernels() ?? jsKernels;
  }
  return active;
}

/** Switch kernel sets explicitly (tests compare them; the browser forces js). */
export function setKernels(k: Kernels | 'js' | 'native'): Kernels {
  if (k === 'js') active = jsKernels;
  else if (k === 'native') {
    const native = loadNativeKernels();
    if (!native) throw new S2SError(`native kernels unavailable: ${nativeError}`);
    active = native;
  } else active = k;
  return active;
}

/** Why the native addon did not load ('' when it did or was not tried). */
export function nativeLoadError(): string {
  return nativeError;
}
