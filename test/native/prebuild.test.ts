// prebuildify -> npm pack -> install where building is impossible -> the
// prebuild loads. Runs in a temporary copy of the package so the working
// tree's build/ and dist/ (which other tests load) are never touched.
// Uses the npm registry (or npm's cache) for the tarball's dependencies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const have = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const canBuild = ['c++', 'g++', 'clang++'].some(have) && have('make') && have('python3');

function run(cmd: string, args: string[], opts: SpawnSyncOptions & { what: string }) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 90000, maxBuffer: 32 * 1024 * 1024, ...opts });
  const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  assert.equal(r.error, undefined, `${opts.what}: ${r.error?.message}`);
  assert.equal(r.status, 0, `${opts.what} failed:\n${out.slice(-4000)}`);
  return out;
}

test('npm run prebuild, npm pack, install without build tools: the prebuild loads', { timeout: 240000 }, (t) => {
  if (!canBuild) {
    if (process.env.CI === 'true') assert.fail('the prebuild test needs a C++ compiler, make and python3 (node-gyp)');
    t.skip('needs a C++ compiler, make and python3');
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'perfprobe-prebuild-'));
  try {
    // 1. A copy of the package sources; node_modules shared by a link.
    const pkg = join(work, 'pkg');
    mkdirSync(pkg);
    for (const f of ['package.json', 'binding.gyp', 'CMakeLists.txt', 'native', 'scripts', 'README.md', 'assets']) {
      if (existsSync(join(root, f))) cpSync(join(root, f), join(pkg, f), { recursive: true });
    }
    symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'), 'dir');

    // 2. The real `npm run prebuild` script.
    run('npm', ['run', 'prebuild'], { cwd: pkg, what: 'npm run prebuild' });
    const prebuildDir = join(pkg, 'prebuilds', `${process.platform}-${process.arch}`);
    const binaries = readdirSync(prebuildDir).filter((f) => f.endsWith('.node'));
    assert.equal(binaries.length, 1, `prebuilds: ${binaries.join(', ')}`);
    if (process.platform === 'linux' && have('readelf')) {
      const sections = spawnSync('readelf', ['-S', join(prebuildDir, binaries[0]!)], { encoding: 'utf8' }).stdout;
      assert.match(sections, /\.dynsym/);
      assert.doesNotMatch(sections, /\.symtab|\.debug_/, 'the prebuild is stripped (--strip)');
    }

    // 3. dist/ compiled into the copy (tsc emits even when other files have type errors).
    spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json'), '--outDir', join(pkg, 'dist')], { stdio: 'ignore', timeout: 90000 });
    assert.ok(existsSync(join(pkg, 'dist', 'index.js')), 'tsc produced dist/index.js');
    run(process.execPath, [join(pkg, 'scripts', 'esm-wrapper.mjs')], { cwd: pkg, what: 'esm wrapper' });

    // 4. npm pack: the tarball holds the prebuild and no build/.
    rmSync(join(pkg, 'build'), { recursive: true, force: true });
    const packOut = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: pkg, what: 'npm pack' });
    const packed = JSON.parse(packOut.slice(packOut.indexOf('['), packOut.lastIndexOf(']') + 1))[0];
    const paths: string[] = packed.files.map((f: { path: string }) => f.path);
    assert.ok(paths.includes(`prebuilds/${process.platform}-${process.arch}/${binaries[0]}`), 'prebuild in the tarball');
    assert.ok(!paths.some((p) => p.startsWith('build/')), 'no build/ in the tarball');
    const tarball = join(work, packed.filename);

    // 5. A consumer whose PATH has node, npm and sh only: no compiler, make or python.
    const bin = join(work, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    writeFileSync(join(bin, 'npm'), `#!/bin/sh\nexec "${process.execPath}" "${npmCliPath()}" "$@"\n`, { mode: 0o755 });
    symlinkSync('/bin/sh', join(bin, 'sh'));
    const env = { ...process.env, PATH: bin, npm_config_nodedir: '', CXX: '', CC: '' };
    for (const mode of ['with install scripts', 'with --ignore-scripts'] as const) {
      const consumer = join(work, mode.includes('ignore') ? 'consumer-noscripts' : 'consumer');
      mkdirSync(consumer);
      writeFileSync(join(consumer, 'package.json'), '{"name":"consumer","private":true}');
      const args = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', tarball];
      if (mode.includes('ignore')) args.push('--ignore-scripts');
      const installOut = run(join(bin, 'npm'), args, { cwd: consumer, env, what: `npm install (${mode})` });
      const installed = join(consumer, 'node_modules', 'perfprobe');
      assert.ok(!existsSync(join(installed, 'build')), `${mode}: nothing was compiled\n${installOut}`);
      if (!mode.includes('ignore')) assert.match(installOut, /node-gyp-build/, 'npm ran the install script (node-gyp-build)');

      const check = `const p = require('perfprobe'); const i = p.probeInfo(); const m = p.readMemory();
        import('perfprobe').then((e) => console.log(JSON.stringify({ i, total: m.totalMb, same: e.readMemory === p.readMemory })));`;
      const out = run(join(bin, 'node'), ['-e', check], { cwd: consumer, env: { ...env, PREBUILDS_ONLY: '1' }, what: `load (${mode})` });
      const res = JSON.parse(out.trim().split('\n').find((l) => l.startsWith('{'))!);
      assert.equal(res.i.addon.loaded, true, `${mode}: ${res.i.addon.error}`);
      assert.ok(res.i.addon.path.startsWith(join(installed, 'prebuilds')), `${mode}: loaded ${res.i.addon.path}`);
      assert.equal(res.i.memory.backend, 'native');
      assert.ok(res.total > 64);
      assert.equal(res.same, true);
      assert.doesNotMatch(out, /PERFPROBE_ADDON_UNAVAILABLE/);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

/** npm's CLI script, found next to the running node (npm is a sibling of node in its prefix). */
function npmCliPath(): string {
  const r = spawnSync('npm', ['prefix', '-g'], { encoding: 'utf8' });
  const candidates = [
    join(r.stdout?.trim() ?? '', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
    join(process.execPath, '..', '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
  ];
  const found = candidates.find((c) => existsSync(c));
  assert.ok(found, `npm-cli.js not found in ${candidates.join(', ')}`);
  return found;
}
