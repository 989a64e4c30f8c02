// The import rule of docs/ARCHITECTURE.md: every file under src/ belongs to
// one layer, and imports only from its own layer or lower ones (type-only
// imports included: a type is a dependency too). No file may sit outside
// the layers, and no import cycle may exist at all. A file that imports
// from a higher layer fails this test with the edge that breaks the rule.
// And code imports from the module that defines a name, not through a pure
// re-export index.ts: TypeScript's CommonJS output turns re-exports into
// getters, and one such getter on the record path cost 13 ns per record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const src = resolve(__dirname, '..', '..', 'src');

/** Lowest first. A path (relative to src/, with '/') belongs to the first layer whose test matches it. */
export const LAYERS: ReadonlyArray<{ name: string; test: (path: string) => boolean }> = [
  { name: 'ground floor (errors, types, schema)', test: (p) => p === 'errors.ts' || p === 'types.ts' || p.startsWith('schema/') },
  { name: 'native loader', test: (p) => p.startsWith('native/') },
  { name: 'probes', test: (p) => p.startsWith('probes/') },
  { name: 'stats', test: (p) => p.startsWith('stats/') },
  { name: 'store', test: (p) => p.startsWith('store/') },
  { name: 'collector', test: (p) => p.startsWith('collector/') },
  { name: 'exporters', test: (p) => p.startsWith('exporters/') },
  { name: 'http', test: (p) => p.startsWith('http/') },
  { name: 'cli', test: (p) => p.startsWith('cli/') },
  { name: 'package entry (composes the layers)', test: (p) => p === 'index.ts' },
];

export function layerOf(path: string): number {
  return LAYERS.findIndex((l) => l.test(path));
}

const SPECIFIERS = [
  /\b(?:import|export)\s+(?:type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g, // import x from '...', export { x } from '...'
  /\bimport\s*['"]([^'"]+)['"]/g, // import '...'
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g, // import('...')
  /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g, // require('...')
];

/** The src/ files a file imports (relative specifiers resolved; packages and files outside src/ left out). */
export function importsOf(path: string, text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out = new Set<string>();
  for (const re of SPECIFIERS) {
    for (const m of code.matchAll(re)) {
      const spec = m[1]!;
      if (!spec.startsWith('.')) continue;
      const target = relative(src, resolve(src, dirname(path), spec)).split('\\').join('/');
      if (target.startsWith('..')) continue;
      out.add(target.replace(/\.js$/, '.ts'));
    }
  }
  return [...out].sort();
}

/** An index.ts made only of `export ... from` (and side-effect imports): a barrel for the package entry. */
export function isBarrel(path: string, text: string): boolean {
  if (!path.endsWith('index.ts')) return false;
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  return code.split(';').every((statement) => {
    const st = statement.trim();
    return st === '' || /^export\s[^]*\sfrom\s*['"][^'"]+['"]$/.test(st) || /^import\s*['"][^'"]+['"]$/.test(st);
  });
}

/** Every rule broken by a set of files (path relative to src/ -> source text). */
export function violations(files: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  const barrels = new Set([...files].filter(([p, t]) => isBarrel(p, t)).map(([p]) => p));
  const edges = new Map<string, string[]>();
  for (const [path, text] of files) {
    const from = layerOf(path);
    if (from < 0) {
      out.push(`${path} is in no layer: place it in one (test/architecture/import-rule.test.ts LAYERS, docs/ARCHITECTURE.md)`);
      continue;
    }
    const targets = importsOf(path, text);
    edges.set(path, targets);
    for (const target of targets) {
      if (!files.has(target)) {
        out.push(`${path} imports ${target}, which does not exist`);
        continue;
      }
      const to = layerOf(target);
      if (to > from) out.push(`${path} (${LAYERS[from]!.name}) imports ${target} (${LAYERS[to]!.name}), a higher layer`);
      else if (barrels.has(target) && !barrels.has(path) && path !== 'index.ts') {
        out.push(`${path} imports ${target}, a re-export barrel: import from the module that defines the name`);
      }
    }
  }
  // No cycles: a depth-first search over the import graph.
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (p: string): void => {
    state.set(p, 'open');
    stack.push(p);
    for (const t of edges.get(p) ?? []) {
      if (state.get(t) === 'open') out.push(`import cycle: ${[...stack.slice(stack.indexOf(t)), t].join(' -> ')}`);
      else if (!state.has(t) && edges.has(t)) visit(t);
    }
    stack.pop();
    state.set(p, 'done');
  };
  for (const p of [...edges.keys()].sort()) if (!state.has(p)) visit(p);
  return out;
}

function sourceFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.set(relative(dir, p).split('\\').join('/'), readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

test('import rule: every src/ file imports only from its own layer or lower ones, from defining modules, and no import cycle exists', () => {
  const files = sourceFiles(src);
  assert.ok(files.size > 50, `found only ${files.size} source files under ${src}`);
  assert.deepEqual(violations(files), []);
});

test('import rule: the check catches an import from a higher layer, a type-only one, a file outside the layers, import cycles and a barrel import', () => {
  const files = sourceFiles(src);
  const broken = new Map(files);
  broken.set('stats/window.ts', `${files.get('stats/window.ts')}\nimport type { PerformanceMetricsCollector } from '../collector/collector.js';\n`);
  broken.set('collector/collector.ts', `${files.get('collector/collector.ts')}\nexport { exportJson } from '../exporters/files/json-writer.js';\n`);
  broken.set('widgets/extra.ts', `export const x = 1;\n`);
  broken.set('schema/a.ts', `import { b } from './b.js';\nexport const a = b;\n`);
  broken.set('schema/b.ts', `import { a } from './a.js';\nexport const b = a;\n`);
  broken.set('store/records.ts', `${files.get('store/records.ts')}\nimport { GpuField as G2 } from '../schema/index.js';\nvoid G2;\n`);
  const found = violations(broken);
  assert.ok(found.some((v) => v.startsWith('stats/window.ts (stats) imports collector/collector.ts (collector)')), found.join('\n'));
  assert.ok(found.some((v) => v.startsWith('collector/collector.ts (collector) imports exporters/files/json-writer.ts (exporters)')), found.join('\n'));
  assert.ok(found.some((v) => v.startsWith('widgets/extra.ts is in no layer')), found.join('\n'));
  assert.ok(found.some((v) => v.startsWith('import cycle: schema/a.ts -> schema/b.ts -> schema/a.ts')), found.join('\n'));
  // The upward import from stats also closes a cycle through the layers above it, reported as one.
  assert.ok(found.some((v) => /^import cycle: .*stats\/window\.ts -> collector\/collector\.ts$/.test(v)), found.join('\n'));
  assert.ok(found.some((v) => v.startsWith('store/records.ts imports schema/index.ts, a re-export barrel')), found.join('\n'));
  assert.equal(found.length, 6, found.join('\n'));
});
