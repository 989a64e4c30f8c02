// The package as npm would publish it (npm pack of the compiled tree):
// publint and Are the Types Wrong (attw) report nothing at all, suggestions
// included, and no shipped file points at one the package lacks (a
// sourceMappingURL, or a map's sources). Offline: both linters read the
// tarball.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { HANG_GUARD_MS } from '../helpers/hang-guard.js';

const root = join(__dirname, '..', '..');
let work = '';
let tarball = '';
let unpacked = '';
let files: string[] = [];

before(() => {
  assert.ok(existsSync(join(root, 'dist', 'index.js')) && existsSync(join(root, 'dist', 'index.d.mts')), 'dist/ is compiled (npm test compiles first)');
  work = mkdtempSync(join(tmpdir(), 'perfprobe-lint-'));
  // --ignore-scripts: `prepare` would recompile dist/ under the other test files.
  const r = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8', timeout: HANG_GUARD_MS });
  assert.equal(r.status, 0, r.stderr);
  const packed = JSON.parse(r.stdout.slice(r.stdout.indexOf('['), r.stdout.lastIndexOf(']') + 1))[0];
  tarball = join(work, packed.filename);
  files = packed.files.map((f: { path: string }) => f.path);
  unpacked = join(work, 'unpacked');
  mkdirSync(unpacked);
  const x = spawnSync('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1']);
  assert.equal(x.status, 0, String(x.stderr));
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('publint (strict, every level) reports nothing on the packed tarball', async () => {
  const { publint } = await import('publint');
  const { formatMessage } = await import('publint/utils');
  const buf = readFileSync(tarball);
  const result = await publint({ pack: { tarball: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer }, level: 'suggestion', strict: true });
  const messages = result.messages.map((m) => `${m.type}: ${formatMessage(m, result.pkg) ?? m.code}`);
  assert.deepEqual(messages, []);
});

test('Are the Types Wrong reports no problem for any resolution (node10, node16 CJS/ESM, bundler)', () => {
  const cliPkg = require.resolve('@arethetypeswrong/cli/package.json');
  const bin = JSON.parse(readFileSync(cliPkg, 'utf8')).bin.attw as string;
  const r = spawnSync(process.execPath, [join(dirname(cliPkg), bin), tarball, '--format', 'json'], { encoding: 'utf8', timeout: HANG_GUARD_MS, maxBuffer: 64 * 1024 * 1024 });
  const out = JSON.parse(r.stdout);
  const entry = out.analysis.entrypoints['.'];
  assert.ok(entry, 'the "." entry point was analysed');
  const esm = entry.resolutions['node16-esm'].resolution.fileName as string;
  assert.match(esm, /dist\/index\.d\.mts$/, 'ESM consumers get the ESM declaration file');
  const problems = [...(Array.isArray(out.analysis.problems) ? out.analysis.problems : []), ...Object.values(out.problems ?? {}).flat()];
  assert.deepEqual(problems, []);
  assert.equal(r.status, 0, r.stderr);
});

test('no shipped file points at a file the package does not ship (source maps)', () => {
  const shipped = new Set(files);
  const broken: string[] = [];
  for (const file of files) {
    const abs = join(unpacked, file);
    if (/\.(c|m)?js$/.test(file)) {
      const m = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(abs, 'utf8'));
      if (m && !m[1]!.startsWith('data:')) {
        const map = relative(unpacked, resolve(dirname(abs), m[1]!));
        if (!shipped.has(map)) broken.push(`${file} -> ${map}`);
      }
    }
    if (file.endsWith('.map')) {
      const map = JSON.parse(readFileSync(abs, 'utf8')) as { sources?: string[]; sourcesContent?: unknown[] };
      for (const source of map.sources ?? []) {
        const target = relative(unpacked, resolve(dirname(abs), source));
        if (!shipped.has(target)) broken.push(`${file} -> ${target}`);
      }
    }
  }
  assert.deepEqual(broken, []);
  assert.ok(files.some((f) => f === 'dist/index.js'), 'the tarball holds dist/');
  assert.ok(files.includes('scripts/install.js'), 'the install script is shipped');
  assert.ok(!files.some((f) => f.startsWith('native/test/')), 'native tests are not shipped');
});
