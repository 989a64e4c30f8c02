// `npm test`: compiles and type-checks the TypeScript, then runs every test/**/*.test.ts with
// Node's built-in runner (through tsx), ending with the runner's summary.
// `npm test -- cli` runs only the files whose path contains "cli".
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}

// Compile src/ to dist/ (examples, the CLI and the package tests load dist/),
// then type-check the tests too: tsx runs them without checking types.
for (const script of ['compile', 'typecheck']) {
  const step = spawnSync('npm', ['run', '--silent', script], { cwd: root, stdio: 'inherit' });
  if (step.status !== 0) process.exit(step.status ?? 1);
}

const files = walk(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(', ')}`);
  process.exit(1);
}

const run = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-timeout=900000', ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(run.status ?? 1);
