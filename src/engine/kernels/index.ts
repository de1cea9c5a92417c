/**
 * Kernel selection. In Node the native addon is used when it loads, else the
 * WebAssembly kernels when dist/wasm holds them, else the TypeScript ones;
 * `S2S_KERNELS=native|wasm|js` overrides the choice, and asking for a set
 * that cannot load is an error. Browsers start on js; the page switches to
 * wasm after `loadWasmKernels()` (compiling is asynchronous there).
 */
import type { Kernels } from './types.js';
import { jsKernels } from './js.js';
import { createWasmKernels, wasmSimdSupported, sharedMemorySupported, startNodeThreads, startBrowserThreads, WASM_FILES, type WasmKernels, type WasmKernelOptions } from './wasm.js';
import { S2SError, ConfigError } from '../../errors.js';

export type { Kernels, UnaryOp, Activation } from './types.js';
export type { WasmKernels, WasmKernelOptions } from './wasm.js';
export { jsKernels } from './js.js';
export { createWasmKernels, wasmSimdSupported, sharedMemorySupported, startNodeThreads, startBrowserThreads, WasmKernelsError, WASM_FILES, WASM_DEFAULTS } from './wasm.js';

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

let wasmCache: WasmKernels | null | undefined;
let wasmError = '';

type NodeBuiltins = { fs: typeof import('node:fs'); path: typeof import('node:path'); url: typeof import('node:url') };
function nodeBuiltins(): NodeBuiltins | null {
  const proc = (globalThis as { process?: NodeJS.Process }).process;
  const getBuiltin = proc?.getBuiltinModule as ((id: string) => unknown) | undefined;
  if (!getBuiltin) return null;
  return { fs: getBuiltin('node:fs') as NodeBuiltins['fs'], path: getBuiltin('node:path') as NodeBuiltins['path'], url: getBuiltin('node:url') as NodeBuiltins['url'] };
}

/** Where Node finds the built .wasm: S2S_WASM_DIR, else dist/wasm, else dist/web (the npm tarball ships both). */
function wasmFileCandidates(node: NodeBuiltins, file: string): string[] {
  const proc = (globalThis as { process?: NodeJS.Process }).process;
  const here = node.path.dirname(node.url.fileURLToPath(import.meta.url));
  const root = node.path.resolve(here, '..', '..', '..', '..');
  const dir = proc?.env.S2S_WASM_DIR;
  if (dir) return [node.path.join(dir, file)];
  // The last one is for the page bundle (dist/web/s2s-web.js) run in Node: the .wasm lies beside it.
  return [node.path.join(root, 'dist', 'wasm', file), node.path.join(root, 'dist', 'web', file), node.path.join(here, file)];
}

/**
 * The wasm kernels, loaded synchronously (Node: the shared-memory build read
 * from disk), or the set loadWasmKernels() made; null when neither is there.
 */
export function loadWasmKernelsSync(): WasmKernels | null {
  if (wasmCache !== undefined) return wasmCache;
  const node = nodeBuiltins();
  if (!node) {
    wasmError = 'not loaded yet (in a browser, await loadWasmKernels() first)';
    return null;
  }
  wasmCache = null;
  if (!wasmSimdSupported()) {
    wasmError = 'this runtime lacks WebAssembly 128-bit SIMD';
    return null;
  }
  const shared = sharedMemorySupported();
  const file = shared ? WASM_FILES.shared : WASM_FILES.plain;
  const path = wasmFileCandidates(node, file).find((f) => node.fs.existsSync(f));
  if (!path) {
    wasmError = `no ${file} in ${wasmFileCandidates(node, file).join(' or ')}; build it with \`npm run build:wasm\` (needs clang-16 and lld-16)`;
    return null;
  }
  try {
    wasmCache = createWasmKernels(new WebAssembly.Module(node.fs.readFileSync(path)), { shared });
  } catch (err) {
    wasmError = `${path}: ${(err as Error).message}`;
  }
  return wasmCache;
}

/** Options of loadWasmKernels. */
export interface LoadWasmOptions extends WasmKernelOptions {
  /** Where the .wasm is (browsers; default: next to the page, as export-web puts it). In Node it is read from disk when absent. */
  url?: string | URL;
  /** The .wasm's bytes, instead of a URL. */
  bytes?: BufferSource;
  /** The fetch to use (default: globalThis.fetch). */
  fetch?: (url: string) => Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer> }>;
  /**
   * Threads to compute on (default 1): with more, workers (node:worker_threads, or Web Workers in a
   * cross-origin isolated page) share the memory and split large products. Needs the shared build.
   */
  threads?: number;
}

/** Starts (or changes) the worker threads of a shared-memory set; 1 stops them. */
async function setThreads(k: WasmKernels, threads: number): Promise<void> {
  if (threads === k.threads) return;
  if (threads <= 1) return k.stopThreads();
  if (!k.shared) throw new S2SError('wasm threads need a shared memory (in browsers: a cross-origin isolated page)');
  if (nodeBuiltins()) await startNodeThreads(k, threads);
  else await startBrowserThreads(k, threads);
}

/**
 * The wasm kernels, compiled asynchronously (what browsers need: they refuse
 * to compile large modules synchronously on the main thread). The shared
 * build is used where shared memory is available (Node; browsers when
 * crossOriginIsolated). Loaded once; later calls return the same set.
 * Does not make it the active set: call setKernels() with it.
 */
export async function loadWasmKernels(options: LoadWasmOptions = {}): Promise<WasmKernels> {
  const k = await loadWasmModule(options);
  if (options.threads !== undefined) await setThreads(k, options.threads);
  return k;
}

async function loadWasmModule(options: LoadWasmOptions): Promise<WasmKernels> {
  if (wasmCache) return wasmCache;
  if (!wasmSimdSupported()) throw new S2SError('wasm kernels unavailable: this runtime lacks WebAssembly 128-bit SIMD');
  const shared = options.shared ?? sharedMemorySupported();
  const file = shared ? WASM_FILES.shared : WASM_FILES.plain;
  let bytes: BufferSource | undefined = options.bytes;
  if (!bytes && options.url === undefined) {
    const k = loadWasmKernelsSync();
    if (k) return k;
    throw new S2SError(`wasm kernels unavailable: ${wasmError}`);
  }
  if (!bytes) {
    const url = new URL(file, options.url as string | URL).href;
    const doFetch = options.fetch ?? (globalThis.fetch?.bind(globalThis) as LoadWasmOptions['fetch']);
    if (!doFetch) throw new S2SError(`wasm kernels unavailable: no fetch to load ${url}`);
    const res = await doFetch(url);
    if (!res.ok) throw new S2SError(`wasm kernels unavailable: ${url}: HTTP ${res.status}`);
    // Compiled while it downloads where the runtime can (a real Response served as application/wasm).
    const R = (globalThis as { Response?: new (...a: never[]) => unknown }).Response;
    if (typeof WebAssembly.compileStreaming === 'function' && R && res instanceof R) {
      const streamed = await WebAssembly.compileStreaming((res as unknown as Response).clone()).catch(() => null);
      if (streamed) {
        wasmCache = createWasmKernels(streamed, { ...options, shared });
        return wasmCache;
      }
    }
    bytes = await res.arrayBuffer();
  }
  const module = await WebAssembly.compile(bytes);
  wasmCache = createWasmKernels(module, { ...options, shared });
  return wasmCache;
}

/** Why the wasm kernels did not load ('' when they did or were not tried). */
export function wasmLoadError(): string {
  return wasmError;
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
  } else if (wanted === 'wasm') {
    const wasm = loadWasmKernelsSync();
    if (!wasm) throw new ConfigError(`S2S_KERNELS=wasm but the wasm kernels cannot be loaded: ${wasmError}`);
    active = wasm;
  } else if (wanted !== undefined && wanted !== '' && wanted !== 'auto') {
    throw new ConfigError(`S2S_KERNELS must be "native", "wasm", "js" or "auto", got "${wanted}"`);
  } else {
    // Browsers have no addon and no synchronous wasm: js until the page switches.
    active = loadNativeKernels() ?? (nodeBuiltins() ? loadWasmKernelsSync() : null) ?? jsKernels;
  }
  return active;
}

/**
 * Threads of the native kernels (OpenBLAS's and the kernels that split work
 * themselves), for the whole process and every worker thread in it; returns
 * the previous count, or null when the native addon is not loaded here.
 */
export function setNativeThreads(threads: number): number | null {
  const native = loadNativeKernels() as (Kernels & { setThreads?(n: number): number }) | null;
  return native?.setThreads ? native.setThreads(threads) : null;
}

/** Switch kernel sets explicitly (tests compare them; the page picks wasm or js). */
export function setKernels(k: Kernels | 'js' | 'native' | 'wasm'): Kernels {
  if (k === 'js') active = jsKernels;
  else if (k === 'native') {
    const native = loadNativeKernels();
    if (!native) throw new S2SError(`native kernels unavailable: ${nativeError}`);
    active = native;
  } else if (k === 'wasm') {
    const wasm = loadWasmKernelsSync();
    if (!wasm) throw new S2SError(`wasm kernels unavailable: ${wasmError}`);
    active = wasm;
  } else active = k;
  return active;
}

/** Why the native addon did not load ('' when it did or was not tried). */
export function nativeLoadError(): string {
  return nativeError;
}
