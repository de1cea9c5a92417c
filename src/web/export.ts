/**
 * `s2s export-web`: a static folder that translates with a model in the
 * browser. Layout (relative URLs only, so any static host serves it, e.g.
 * `python3 -m http.server` inside the folder):
 *
 *   index.html  page.css  s2s-web.js  s2s-kernels.wasm  s2s-kernels-mt.wasm  _headers
 *   model/config.json  model/vocab.json  model/weights.json  model/weights-XXXXXXXX.bin  model/history.json
 *
 * The page assets come from dist/web/ (built by scripts/build-web.mjs); the
 * .wasm kernels are copied when the build has them (without them the page
 * runs on the js kernels). `_headers` asks Netlify / Cloudflare Pages style
 * hosts for the COOP/COEP headers that make the page cross-origin isolated,
 * which lets the wasm kernels use a shared memory, the basis for their
 * threads (`s2s serve` sends them itself).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBundle, readBundleFile, writeBundleExport, BUNDLE_JSON_LIMIT } from '../bundle/bundle.js';
import { writeFileAtomic } from '../bundle/atomic.js';
import { S2SError, ConfigError } from '../errors.js';

/** The files of the page itself, as built into dist/web/. */
export const WEB_ASSETS = ['index.html', 'page.css', 's2s-web.js'] as const;
/** Built page files copied when present: the wasm kernels (plain and shared memory). */
export const OPTIONAL_WEB_ASSETS = ['s2s-kernels.wasm', 's2s-kernels-mt.wasm'] as const;

/** The headers that make the page cross-origin isolated (SharedArrayBuffer: the wasm kernels' shared memory). */
export const ISOLATION_HEADERS = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } as const;

/** The `_headers` file export-web writes (Netlify, Cloudflare Pages), with the note on other hosts. */
export const HEADERS_FILE = `# Cross-origin isolation for the s2s page: with these two headers the browser
# allows SharedArrayBuffer, and the page runs its WebAssembly kernels over a
# shared memory (what their worker threads need; without the headers the page
# uses a plain memory and one thread). Netlify and Cloudflare Pages
# read this file as it is. Elsewhere, send the same headers for every file of
# this folder: nginx \`add_header Cross-Origin-Opener-Policy same-origin;\`
# (and Cross-Origin-Embedder-Policy require-corp), Apache \`Header set ...\`,
# GitHub Pages cannot (the page then uses a plain memory). \`s2s serve\` sends them.
/*
${Object.entries(ISOLATION_HEADERS).map(([k, v]) => `  ${k}: ${v}`).join('\n')}
`;

/** Options of `exportWeb`. */
export interface ExportOptions {
  /** Where the built page assets are (default: dist/web of this installation). */
  assetsDir?: string;
}

/** What `exportWeb` wrote. */
export interface ExportResult {
  outDir: string;
  /** Paths relative to outDir, in the order written. */
  files: string[];
  /** Total size in bytes. */
  bytes: number;
  /** Files of an earlier export in model/ that this one replaced (nothing else is ever removed). */
  replaced: string[];
  /** What loading the bundle found wrong but not fatal (e.g. invalid history records dropped). */
  warnings: string[];
}

/** dist/web next to the compiled dist/src/web/export.js. */
export function defaultAssetsDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');
}

/** The marker in page.html where export-web lists the model's files for the browser to preload. */
const PRELOAD_MARKER = /<!-- s2s:preload[^>]*-->/;

/**
 * The page with `<link rel="preload">` for each model file: the browser then
 * fetches them while it parses the HTML, instead of only once s2s-web.js has
 * loaded and asked for them (a serial wait of 0.2–0.3 s before a 25 MB
 * download could start). `as="fetch" crossorigin` matches the page's own
 * fetch() of the same URLs (mode cors, same-origin credentials), so those
 * fetches take the preloaded responses.
 */
function withPreloads(html: string, modelFiles: readonly string[]): string {
  if (!PRELOAD_MARKER.test(html)) return html;
  const links = modelFiles.map((f) => `<link rel="preload" href="${encodeURI(f)}" as="fetch" crossorigin>`).join('\n  ');
  return html.replace(PRELOAD_MARKER, links);
}

/**
 * Writes the static page and the model bundle in modelDir to outDir
 * (created if needed). The bundle is loaded and validated first, so a broken
 * or hostile bundle is an error here rather than in the browser, and what is
 * written is that validated content (bundle/bundle.ts `writeBundleExport`):
 * never bytes copied from the model folder (a file there that is a link is
 * refused), machine paths reduced to file names. model/ may be absent, empty
 * or an earlier export (only bundle files: replaced, and listed in
 * `replaced`); anything else there is refused, never removed. Every file is
 * written atomically by rename, so a link planted at a file's name in outDir
 * is replaced, not written through. outDir itself may be a link (the user's
 * choice of where the page goes); model/ may not.
 */
export function exportWeb(modelDir: string, outDir: string, options: ExportOptions = {}): ExportResult {
  const assets = options.assetsDir ?? defaultAssetsDir();
  for (const f of WEB_ASSETS) {
    if (!existsSync(join(assets, f))) throw new S2SError(`${join(assets, f)}: missing; build the web page first with \`npm run build\``);
  }
  const bundle = loadBundle(modelDir);
  if (resolve(outDir) === resolve(modelDir)) throw new ConfigError(`${outDir}: the output folder must not be the model folder`);
  mkdirSync(outDir, { recursive: true });
  const exported = writeBundleExport(bundle, join(outDir, 'model'));
  const files = exported.files.map((f) => `model/${f}`);
  let bytes = exported.bytes;
  // The page last: a folder with index.html is a complete one.
  writeFileAtomic(join(outDir, '_headers'), HEADERS_FILE);
  bytes += Buffer.byteLength(HEADERS_FILE);
  files.push('_headers');
  for (const f of [...OPTIONAL_WEB_ASSETS.filter((f) => existsSync(join(assets, f))), ...WEB_ASSETS]) {
    const to = join(outDir, f);
    const content = readFileSync(join(assets, f));
    writeFileAtomic(to, f === 'index.html' ? withPreloads(content.toString('utf8'), files.filter((p) => p.startsWith('model/'))) : content);
    bytes += statSync(to).size;
    files.push(f);
  }
  return { outDir, files, bytes, replaced: exported.replaced.map((f) => `model/${f}`), warnings: bundle.warnings };
}

/**
 * The page for a model, exported into a per-user cache folder
 * ($XDG_CACHE_HOME/s2s/web/<key>, else ~/.cache/s2s/web/<key>) and reused
 * while the model files and the page build are unchanged. It is written under
 * a temporary name and renamed, so concurrent callers never see half a folder.
 */
export function cachedWebFolder(modelDir: string, options: ExportOptions & { cacheRoot?: string } = {}): string {
  const assetsDir = options.assetsDir ?? defaultAssetsDir();
  const cacheRoot = options.cacheRoot ?? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 's2s', 'web');
  const hash = createHash('sha256').update(resolve(modelDir));
  for (const f of ['config.json', 'vocab.json', 'weights.json', 'history.json']) {
    // Read as loadBundle reads (no links, no devices, size-capped); an unreadable file hashes as absent and exportWeb reports it.
    let bytes: Buffer | string = '';
    try { bytes = readBundleFile(join(modelDir, f), BUNDLE_JSON_LIMIT); } catch { /* reported by exportWeb below */ }
    hash.update(`${f}:`).update(bytes);
  }
  for (const f of [...WEB_ASSETS, ...OPTIONAL_WEB_ASSETS]) {
    const p = join(assetsDir, f);
    hash.update(`${f}:`).update(existsSync(p) ? readFileSync(p) : '');
  }
  const key = hash.digest('hex').slice(0, 20);
  const dir = join(cacheRoot, key);
  if (existsSync(join(dir, 'index.html'))) return dir;
  mkdirSync(cacheRoot, { recursive: true });
  const partial = mkdtempSync(join(cacheRoot, `${key}.partial-`));
  try {
    exportWeb(modelDir, partial, { assetsDir });
    renameSync(partial, dir);
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    // Another process may have finished the same folder first.
    if (existsSync(join(dir, 'index.html'))) return dir;
    throw err;
  }
  return dir;
}

/**
 * What `s2s serve` shows at / without --web: the translation page for its
 * model, or null (with a logged reason) when the page cannot be made, e.g. a
 * build without dist/web; the API works either way.
 */
export function defaultWebFolder(modelDir: string, log: (line: string) => void, options: ExportOptions & { cacheRoot?: string } = {}): string | null {
  const attempt = (cacheRoot?: string): string => cachedWebFolder(modelDir, { ...options, cacheRoot: cacheRoot ?? options.cacheRoot });
  try {
    return attempt();
  } catch (first) {
    try {
      // An unwritable cache (read-only home): a private folder of its own instead.
      if (options.cacheRoot === undefined && existsSync(join(options.assetsDir ?? defaultAssetsDir(), 'index.html'))) {
        return attempt(mkdtempSync(join(tmpdir(), 's2s-web-')));
      }
    } catch {
      /* report the first error */
    }
    log(`s2s serve: no web page at / (${(first as Error).message})`);
    return null;
  }
}
