// The package's two entry points (CommonJS and ESM) resolve through
// "exports" to one module instance, so both share one default collector and
// one loaded addon (no dual-package hazard). Checked in a plain Node ESM
// child, outside tsx, as a user's program would load the package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

test('import and require of "perfprobe" give the same instance', () => {
  const script = `
    import { createRequire } from 'node:module';
    import * as esm from 'perfprobe';
    import esmDefault from 'perfprobe';
    const cjs = createRequire(process.cwd() + '/package.json')('perfprobe');
    const names = Object.keys(cjs).filter((k) => k !== '__esModule');
    console.log(JSON.stringify({
      sameDefault: esmDefault === cjs,
      sameReadMemory: esm.readMemory === cjs.readMemory,
      sameCollector: esm.getPerformanceMetricsCollector() === cjs.getPerformanceMetricsCollector(),
      missing: names.filter((n) => !(n in esm)),
      count: names.length,
    }));`;
  const out = JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      env: { ...process.env, PERFPROBE_NO_WARNINGS: '1' },
      encoding: 'utf8',
    }),
  );
  assert.deepEqual(out.missing, []);
  assert.ok(out.count > 20, `only ${out.count} exports`);
  assert.equal(out.sameDefault, true);
  assert.equal(out.sameReadMemory, true);
  assert.equal(out.sameCollector, true);
});

test('package.json points types, main, bin and exports at files the build made', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  // exports['.'] is conditional (import/require, each with types and default): every leaf path.
  const leaves = (x: unknown): string[] => (typeof x === 'string' ? [x] : Object.values(x as object).flatMap(leaves));
  const conditional = leaves(pkg.exports['.']);
  assert.ok(conditional.length >= 4, `exports['.'] names ${conditional.join(', ')}`);
  const paths = [pkg.main, pkg.types, pkg.bin.perfprobe, ...conditional];
  for (const p of paths) assert.ok(existsSync(join(root, p)), `${p} is missing after the build`);
  assert.match(readFileSync(join(root, pkg.bin.perfprobe), 'utf8'), /^#!\/usr\/bin\/env node/);
});
