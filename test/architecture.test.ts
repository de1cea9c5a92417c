/**
 * The layering of src/ (docs/architecture.md), checked on every import:
 * static `import … from`, `export … from`, `import type`, `typeof import()`
 * and dynamic `import(...)`. Each file belongs to the layer of its folder
 * (modules directly in src/, such as errors.ts, sit below every layer;
 * src/index.ts and src/browser.ts are the entry points, above all of them);
 * an import may point to its own folder or to a lower layer, never upward,
 * and no two files may import each other through any chain (a cycle). The
 * browser entries' import closures must hold no Node built-in.
 *
 * The checker is a pure function of file texts, so the fixtures below prove
 * it fails on each kind of mistake before it passes the real tree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Modules directly in src/ other than the entry points (errors.ts: the S2SError base class): below every layer. */
const BASE = '.';

/** Layers, lowest first; a file may import its own folder and the folders of lower layers. */
const LAYERS: readonly (readonly string[])[] = [
  [BASE],
  ['engine'],
  ['data'],
  ['model'],
  ['decode'],
  ['bundle'],
  ['onnx'],
  ['eval'],
  ['train'],
  // The applications, each a folder of its own at the top.
  ['cli', 'serve', 'web', 'plot'],
];

/** Imports between two application folders that are allowed (all others are not). */
const APP_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  // The CLI drives everything.
  cli: ['serve', 'web', 'plot'],
  // The page draws its attention map and curves with plot/.
  web: ['plot'],
  // s2s serve shows the translation page (web/export.ts builds its folder).
  serve: ['web'],
  plot: [],
};

/** The package's entry points: may import anything (each other included); no layer imports them. */
const ENTRIES = new Set(['src/index.ts', 'src/browser.ts']);
const ENTRY = '';

/** Entries whose whole import closure must run in a browser. */
const BROWSER_ENTRIES = ['src/browser.ts', 'src/web/browser.ts', 'src/web/web-model.ts'];

/** A folder as messages name it. */
const dirName = (folder: string): string => (folder === BASE ? 'src/*.ts' : `${folder}/`);
const ORDER = LAYERS.map((l) => l.map((f) => (f === BASE ? 'src/*.ts' : f)).join(' | ')).join(' → ');

interface ImportRef {
  specifier: string;
  line: number;
  /** Erased at compile time (`import type`, `export type`, `typeof import()`, only `type` specifiers). */
  typeOnly: boolean;
  dynamic: boolean;
}

/** Every module reference in a file, by the TypeScript parser (comments and strings cannot fool it). */
export function importsOf(path: string, text: string): ImportRef[] {
  const sf = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: ImportRef[] = [];
  const add = (spec: ts.Expression | undefined, typeOnly: boolean, dynamic: boolean, at: ts.Node): void => {
    if (!spec || !ts.isStringLiteralLike(spec)) {
      if (dynamic) out.push({ specifier: '<computed>', line: sf.getLineAndCharacterOfPosition(at.getStart(sf)).line + 1, typeOnly, dynamic });
      return;
    }
    out.push({ specifier: spec.text, line: sf.getLineAndCharacterOfPosition(at.getStart(sf)).line + 1, typeOnly, dynamic });
  };
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n)) {
      const c = n.importClause;
      const onlyTypeSpecifiers = !!c && !c.name && !!c.namedBindings && ts.isNamedImports(c.namedBindings) &&
        c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly);
      add(n.moduleSpecifier, !!c && (c.isTypeOnly || onlyTypeSpecifiers), false, n);
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier) {
      const onlyTypeSpecifiers = !!n.exportClause && ts.isNamedExports(n.exportClause) &&
        n.exportClause.elements.length > 0 && n.exportClause.elements.every((e) => e.isTypeOnly);
      add(n.moduleSpecifier, n.isTypeOnly || onlyTypeSpecifiers, false, n);
    } else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference)) {
      add(n.moduleReference.expression, n.isTypeOnly, false, n);
    } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(n.arguments[0], false, true, n);
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) {
      add(n.argument.literal, true, false, n);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** The folder of a src/ file: ENTRY for the entry points, BASE for the other top-level modules. */
function folderOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? parts[1] : ENTRIES.has(file) ? ENTRY : BASE;
}

function layerOf(folder: string): number {
  return LAYERS.findIndex((l) => l.includes(folder));
}

const NODE_BUILTINS = new Set(builtinModules);
const isNodeBuiltin = (spec: string): boolean => spec.startsWith('node:') || NODE_BUILTINS.has(spec.split('/')[0]);

/** Resolves a relative specifier of `from` to a src file path (`./x.js` is `./x.ts`), or null when it is a package. */
function resolveImport(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const joined = join(dirname(from), spec).split('\\').join('/');
  return joined.replace(/\.js$/, '.ts');
}

/**
 * Every rule the imports of `files` (path relative to the repository → text)
 * break, one readable sentence each; empty when the layering holds.
 */
export function checkArchitecture(files: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  const graph = new Map<string, { to: string; ref: ImportRef }[]>();
  const refs = new Map<string, ImportRef[]>();
  for (const [file, text] of files) {
    const list = importsOf(file, text);
    refs.set(file, list);
    const edges: { to: string; ref: ImportRef }[] = [];
    const from = folderOf(file);
    if (from !== ENTRY && layerOf(from) < 0) {
      problems.push(`${file}: folder src/${from}/ has no layer; add it to LAYERS in test/architecture.test.ts and to docs/architecture.md`);
      continue;
    }
    for (const ref of list) {
      const at = `${file}:${ref.line} imports '${ref.specifier}'`;
      if (ref.specifier === '<computed>') {
        problems.push(`${at}: a dynamic import of a computed name cannot be checked; import a literal path`);
        continue;
      }
      const target = resolveImport(file, ref.specifier);
      if (target === null) continue;
      if (!files.has(target)) {
        problems.push(`${at}: ${target} is not a file of src/`);
        continue;
      }
      edges.push({ to: target, ref });
      const to = folderOf(target);
      if (to === ENTRY && from !== ENTRY) {
        problems.push(`${at}: ${target} is a top-level entry point; layers import each other, never the entries`);
        continue;
      }
      if (from === ENTRY || to === from) continue;
      const lf = layerOf(from), lt = layerOf(to);
      if (lt < 0) continue; // reported for the target file itself
      if (lt > lf) {
        problems.push(`${at} (${target}): ${dirName(from)} must not import ${dirName(to)}, a higher layer; imports point down only: ${ORDER}`);
      } else if (lt === lf && !(APP_IMPORTS[from] ?? []).includes(to)) {
        problems.push(`${at} (${target}): ${dirName(from)} must not import ${dirName(to)} (applications may import only ${JSON.stringify(APP_IMPORTS)})`);
      }
    }
    graph.set(file, edges);
  }

  // Cycles between files (any chain of imports, type-only included), by Tarjan's strongly connected components.
  let counter = 0;
  const index = new Map<string, number>(), low = new Map<string, number>(), onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  const strongConnect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const { to } of graph.get(v) ?? []) {
      if (!index.has(to)) {
        strongConnect(to);
        low.set(v, Math.min(low.get(v) as number, low.get(to) as number));
      } else if (onStack.has(to)) {
        low.set(v, Math.min(low.get(v) as number, index.get(to) as number));
      }
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || (graph.get(v) ?? []).some((e) => e.to === v)) components.push(c.sort());
    }
  };
  for (const f of [...graph.keys()].sort()) if (!index.has(f)) strongConnect(f);
  for (const c of components) {
    // Name one concrete loop through the component, with the import lines.
    const inC = new Set(c);
    const path: string[] = [c[0]];
    const seen = new Set<string>([c[0]]);
    let cur = c[0];
    for (;;) {
      const next = (graph.get(cur) ?? []).find((e) => inC.has(e.to) && (e.to === c[0] || !seen.has(e.to))) ??
        (graph.get(cur) ?? []).find((e) => inC.has(e.to));
      if (!next) break;
      path.push(`${next.to} (line ${next.ref.line} of ${cur})`);
      if (next.to === c[0] || seen.has(next.to)) break;
      seen.add(next.to);
      cur = next.to;
    }
    problems.push(`import cycle: ${path.join(' → ')}; move what both need into a module of its own that imports neither`);
  }

  // Browser entries: no Node built-in anywhere in what they load.
  for (const entry of BROWSER_ENTRIES) {
    if (!files.has(entry)) continue;
    const via = new Map<string, string>([[entry, '']]);
    const queue = [entry];
    while (queue.length) {
      const f = queue.shift() as string;
      for (const ref of refs.get(f) ?? []) {
        if (isNodeBuiltin(ref.specifier) && !ref.typeOnly) {
          const chain: string[] = [];
          for (let g: string | undefined = f; g; g = via.get(g) || undefined) chain.unshift(g);
          problems.push(`${f}:${ref.line} imports '${ref.specifier}', and ${entry} must run in a browser (${chain.join(' → ')})`);
        }
        const target = resolveImport(f, ref.specifier);
        if (target && files.has(target) && !via.has(target)) {
          via.set(target, f);
          queue.push(target);
        }
      }
    }
  }
  return problems;
}

function sourceFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.set(relative(root, full).split('\\').join('/'), readFileSync(full, 'utf8'));
    }
  };
  walk(join(root, 'src'));
  return files;
}

test('every import in src/ points down the layers, and no files import each other in a cycle', () => {
  assert.ok(existsSync(join(root, 'src')), `no src/ under ${root}`);
  const files = sourceFiles();
  assert.ok(files.size > 40, `only ${files.size} source files found`);
  const problems = checkArchitecture(files);
  assert.deepEqual(problems, [], `\n${problems.join('\n')}`);
});

test('the parser sees every kind of import, and only imports', () => {
  const refs = importsOf('src/x/a.ts', [
    "import { a } from './a1.js';",
    "import type { B } from './b1.js';",
    "import { type C, type D } from './c1.js';",
    "import { type E, f } from './e1.js';",
    "import * as g from './g1.js';",
    "import './side-effect.js';",
    "export { h } from './h1.js';",
    "export * from './star.js';",
    "export type { I } from './i1.js';",
    "const m = await import('./dyn.js');",
    "type K = typeof import('node:module');",
    "// import { nope } from './comment.js';",
    "const s = \"import { nope } from './string.js'\";",
  ].join('\n'));
  assert.deepEqual(refs.map((r) => [r.specifier, r.typeOnly, r.dynamic]), [
    ['./a1.js', false, false],
    ['./b1.js', true, false],
    ['./c1.js', true, false],
    ['./e1.js', false, false],
    ['./g1.js', false, false],
    ['./side-effect.js', false, false],
    ['./h1.js', false, false],
    ['./star.js', false, false],
    ['./i1.js', true, false],
    ['./dyn.js', false, true],
    ['node:module', true, false],
  ]);
  assert.deepEqual(refs.map((r) => r.line), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
});

test('the checker names the file, the import and the rule for each kind of mistake', () => {
  const ok = new Map([
    ['src/engine/tensor.ts', 'export const t = 1;'],
    ['src/data/vocab.ts', "import { t } from '../engine/tensor.js'; export const v = t;"],
  ]);
  assert.deepEqual(checkArchitecture(ok), []);

  // An upward import, type-only included (bundle/ recording train/'s types was one).
  const upward = checkArchitecture(new Map([...ok,
    ['src/train/options.ts', 'export interface TrainOptions { epochs: number }'],
    ['src/bundle/format.ts', "import type { TrainOptions } from '../train/options.js';\nexport type X = TrainOptions;"],
  ]));
  assert.equal(upward.length, 1);
  assert.match(upward[0], /^src\/bundle\/format\.ts:1 imports '\.\.\/train\/options\.js' \(src\/train\/options\.ts\): bundle\/ must not import train\/, a higher layer/);
  assert.match(upward[0], /src\/\*\.ts → engine → data → model → decode → bundle → onnx → eval → train → cli \| serve \| web \| plot/);

  // A dynamic import upward, and one application importing another it may not.
  const sideways = checkArchitecture(new Map([...ok,
    ['src/plot/history.ts', "export const h = async () => (await import('../cli/main.js')).run;"],
    ['src/cli/main.ts', 'export const run = 1;'],
    ['src/eval/bleu.ts', "export const b = () => import('../train/run.js');"],
    ['src/train/run.ts', 'export const r = 1;'],
  ]));
  assert.equal(sideways.length, 2);
  assert.match(sideways.find((p) => p.startsWith('src/plot/')) ?? '', /src\/plot\/history\.ts:1 imports '\.\.\/cli\/main\.js' .*plot\/ must not import cli\//);
  assert.match(sideways.find((p) => p.startsWith('src/eval/')) ?? '', /src\/eval\/bleu\.ts:1 imports '\.\.\/train\/run\.js' .*eval\/ must not import train\//);

  // A cycle inside one folder (the old tokenizer.ts ↔ bpe.ts), even through type-only imports.
  const cycle = checkArchitecture(new Map([...ok,
    ['src/data/tokenizer.ts', "import { Bpe } from './bpe.js';\nexport interface Tokenizer { level: string }\nexport const make = () => new Bpe();"],
    ['src/data/bpe.ts', "import type { Tokenizer } from './tokenizer.js';\nexport class Bpe implements Tokenizer { level = 'bpe'; }"],
  ]));
  assert.equal(cycle.length, 1);
  assert.match(cycle[0], /^import cycle: src\/data\/bpe\.ts → src\/data\/tokenizer\.ts \(line 1 of src\/data\/bpe\.ts\) → src\/data\/bpe\.ts \(line 1 of src\/data\/tokenizer\.ts\)/);

  // A Node built-in reached from the browser entry, two files away; a type-only node: import is fine.
  const browser = checkArchitecture(new Map([...ok,
    ['src/web/web-model.ts', "import { load } from '../bundle/format.js';\nimport type { Server } from 'node:http';\nexport const m = load;"],
    ['src/bundle/format.ts', "import { read } from './read.js';\nexport const load = read;"],
    ['src/bundle/read.ts', "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;"],
  ]));
  assert.deepEqual(browser, [
    "src/bundle/read.ts:1 imports 'node:fs', and src/web/web-model.ts must run in a browser (src/web/web-model.ts → src/bundle/format.ts → src/bundle/read.ts)",
  ]);

  // A folder with no layer, an entry imported by a layer, an import of a file that does not exist.
  const misc = checkArchitecture(new Map([...ok,
    ['src/misc/x.ts', 'export const x = 1;'],
    ['src/index.ts', "export * from './data/vocab.js';\nexport * from './misc/x.js';\nexport * from './browser.js';"],
    ['src/browser.ts', "export * from './data/vocab.js';"],
    ['src/data/uses-entry.ts', "import { v } from '../index.js';\nimport { w } from './missing.js';\nexport const u = [v, w];"],
  ]));
  assert.ok(misc.some((p) => /^src\/misc\/x\.ts: folder src\/misc\/ has no layer/.test(p)), misc.join('\n'));
  assert.ok(misc.some((p) => /^src\/data\/uses-entry\.ts:1 imports '\.\.\/index\.js': src\/index\.ts is a top-level entry point/.test(p)), misc.join('\n'));
  assert.ok(misc.some((p) => /^src\/data\/uses-entry\.ts:2 imports '\.\/missing\.js': src\/data\/missing\.ts is not a file of src\//.test(p)), misc.join('\n'));
  // Entry points themselves import any layer.
  assert.ok(!misc.some((p) => p.startsWith('src/index.ts')), misc.join('\n'));

  // Other top-level modules (errors.ts) sit below every layer: anything imports them, they import no layer.
  const base = checkArchitecture(new Map([...ok,
    ['src/errors.ts', "import { t } from './engine/tensor.js';\nexport class S2SError extends Error { t = t; }"],
    ['src/data/corpus.ts', "import { S2SError } from '../errors.js';\nexport class CorpusError extends S2SError {}"],
  ]));
  assert.equal(base.length, 1, base.join('\n'));
  assert.match(base[0], /^src\/errors\.ts:1 imports '\.\/engine\/tensor\.js' \(src\/engine\/tensor\.ts\): src\/\*\.ts must not import engine\/, a higher layer/);
});

test('docs/architecture.md has a row for every file of src/', () => {
  const doc = readFileSync(join(root, 'docs', 'architecture.md'), 'utf8');
  // A file is named by its path under src/ (`cli/exit.ts`), or by its name in its folder's section (### data/ …).
  const sections = new Map(doc.split(/^### /m).slice(1).map((sec) => [sec.slice(0, sec.indexOf(' ')), sec]));
  const missing = [...sourceFiles().keys()].filter((f) => {
    const path = f.slice('src/'.length);
    const folder = path.includes('/') ? `${path.slice(0, path.indexOf('/'))}/` : 'src/';
    const name = f.slice(f.lastIndexOf('/') + 1);
    const inFolder = path.slice(folder === 'src/' ? 0 : folder.length);
    return !doc.includes(`\`${path}\``) && !(sections.get(folder) ?? '').includes(`\`${inFolder}\``) && !(sections.get(folder) ?? '').includes(`\`${name}\``);
  });
  assert.deepEqual(missing, [], `docs/architecture.md ("Where each concept lives") has no row for: ${missing.join(', ')}`);
});
