/**
 * The public API: what `s2s` and `s2s/browser` export, that each export is
 * documented, and that the browser entry never reaches a Node built-in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Module specifiers of a compiled module: imports, re-exports and dynamic imports of literals (comments ignored). */
function specifiers(js: string): string[] {
  return ts.preProcessFile(js, true, true).importedFiles.map((f) => f.fileName);
}

test('s2s/browser: no module in its import closure imports a Node built-in or a package', () => {
  const start = join(root, 'dist', 'src', 'browser.js');
  const seen = new Set<string>();
  const queue = [start];
  const offending: string[] = [];
  while (queue.length) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('./') || spec.startsWith('../')) queue.push(resolve(dirname(file), spec));
      else offending.push(`${relative(root, file)} imports ${spec}`);
    }
  }
  assert.ok(seen.size > 20, `walked ${seen.size} modules`);
  assert.deepEqual(offending, []);
});

test('every package.json export target exists after the build, with its types', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    main: string; types: string; exports: Record<string, string | { types: string; default: string }>;
  };
  assert.ok(existsSync(join(root, pkg.main)), pkg.main);
  assert.ok(existsSync(join(root, pkg.types)), pkg.types);
  for (const [entry, target] of Object.entries(pkg.exports)) {
    const targets = typeof target === 'string' ? [target] : [target.types, target.default];
    for (const t of targets) assert.ok(existsSync(join(root, t)), `${entry} → ${t}`);
    // TypeScript only honours "types" when it comes first.
    if (typeof target !== 'string') assert.equal(Object.keys(target)[0], 'types', entry);
  }
});

test('s2s exports everything s2s/browser does (one import covers both)', async () => {
  const node = await import('../src/index.js');
  const browser = await import('../src/browser.js');
  const missing = Object.keys(browser).filter((k) => !(k in node));
  assert.deepEqual(missing, []);
  for (const name of ['loadBundle', 'Translator', 'corpusBleu', 'corpusChrf', 'exactMatch', 'Seq2Seq', 'readPairs', 'Vocab', 'generateCorpus', 'exportWeb', 'createServer', 'kernels', 'setKernels']) {
    assert.ok(name in node, `s2s exports ${name}`);
  }
});

test('every export of s2s and s2s/browser has a TSDoc comment', () => {
  const entries = ['index', 'browser'].map((e) => join(root, 'src', `${e}.ts`));
  const program = ts.createProgram(entries, {
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, noEmit: true,
    types: ['node'], typeRoots: [join(root, 'node_modules', '@types')],
  });
  const checker = program.getTypeChecker();
  const undocumented: string[] = [];
  for (const entry of entries) {
    const sf = program.getSourceFile(entry);
    assert.ok(sf, entry);
    const mod = checker.getSymbolAtLocation(sf);
    assert.ok(mod, entry);
    for (const s of checker.getExportsOfModule(mod)) {
      const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
      if (target.getDocumentationComment(checker).length > 0) continue;
      const where = target.declarations?.[0]?.getSourceFile().fileName ?? '?';
      undocumented.push(`${s.name} (${relative(root, where)})`);
    }
  }
  assert.deepEqual([...new Set(undocumented)].sort(), []);
});
