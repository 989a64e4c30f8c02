// Helpers for the tests that install perfprobe as a user would: a copy of
// the package (sources, compiled dist/, optionally prebuilds/), packed with
// npm, installed into a consumer project whose PATH holds only the tools the
// test allows. The copy lives in a temporary directory, so the working
// tree's build/ and dist/ (which other tests load) are never touched.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const root = join(__dirname, '..', '..');

export function have(cmd: string): boolean {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Runs a command; asserts it started and exited 0; returns stdout + stderr. */
export function run(cmd: string, args: string[], opts: SpawnSyncOptions & { what: string }): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 180000, maxBuffer: 32 * 1024 * 1024, ...opts });
  const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  assert.equal(r.error, undefined, `${opts.what}: ${r.error?.message}`);
  assert.equal(r.status, 0, `${opts.what} failed:\n${out.slice(-4000)}`);
  return out;
}

/**
 * A copy of the package in `work`/pkg: sources, the working tree's
 * compiled dist/ (npm test compiles first) and, when asked, the prebuilds/
 * that `npm run prebuild:all` wrote. node_modules is shared by a link.
 */
export function packageCopy(work: string, { prebuilds }: { prebuilds: boolean }): string {
  const pkg = join(work, 'pkg');
  mkdirSync(pkg);
  assert.ok(existsSync(join(root, 'dist', 'index.js')), 'dist/ is compiled (npm test compiles first)');
  for (const f of ['package.json', 'binding.gyp', 'CMakeLists.txt', 'native', 'scripts', 'README.md', 'LICENSE', 'assets', 'dist']) {
    if (existsSync(join(root, f))) cpSync(join(root, f), join(pkg, f), { recursive: true });
  }
  if (prebuilds) cpSync(join(root, 'prebuilds'), join(pkg, 'prebuilds'), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  return pkg;
}

/** npm pack of `pkg` into `dest`: the tarball's path and the files it holds. */
export function pack(pkg: string, dest: string): { tarball: string; paths: string[] } {
  const out = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dest], { cwd: pkg, what: 'npm pack' });
  const packed = JSON.parse(out.slice(out.indexOf('['), out.lastIndexOf(']') + 1))[0];
  return { tarball: join(dest, packed.filename), paths: packed.files.map((f: { path: string }) => f.path) };
}

/** npm's CLI script, found next to the running node (npm is a sibling of node in its prefix). */
export function npmCliPath(): string {
  const r = spawnSync('npm', ['prefix', '-g'], { encoding: 'utf8' });
  const candidates = [
    join(r.stdout?.trim() ?? '', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
    join(process.execPath, '..', '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
  ];
  const found = candidates.find((c) => existsSync(c));
  assert.ok(found, `npm-cli.js not found in ${candidates.join(', ')}`);
  return found;
}

/** The programs of Debian's coreutils package (ls, cat, mkdir, rm, ...), from dpkg, else a fixed list. */
function coreutils(): string[] {
  const listed = spawnSync('dpkg', ['-L', 'coreutils'], { encoding: 'utf8' });
  const fromDpkg = listed.status === 0 ? listed.stdout.split('\n').filter((p) => /^\/(usr\/)?bin\/[^/]+$/.test(p) && existsSync(p)) : [];
  if (fromDpkg.length > 20) return fromDpkg;
  const names = ['basename', 'cat', 'chmod', 'cp', 'cut', 'date', 'dirname', 'echo', 'env', 'head', 'id', 'ln', 'ls', 'mkdir', 'mktemp', 'mv', 'readlink', 'realpath', 'rm', 'rmdir', 'sort', 'tail', 'touch', 'tr', 'true', 'false', 'uname', 'wc'];
  return names.map((n) => ['/usr/bin', '/bin'].map((d) => join(d, n)).find((p) => existsSync(p))).filter((p): p is string => !!p);
}

/**
 * A PATH directory with node, npm, sh and coreutils only, plus `extra`:
 * name -> an existing program to link, or `{ script }` for a shell script.
 */
export function toolsBin(work: string, name: string, extra: Record<string, string | { script: string }> = {}): string {
  const bin = join(work, name);
  mkdirSync(bin);
  for (const program of coreutils()) {
    const base = program.split('/').pop()!;
    if (!existsSync(join(bin, base))) symlinkSync(program, join(bin, base));
  }
  symlinkSync(process.execPath, join(bin, 'node'));
  writeFileSync(join(bin, 'npm'), `#!/bin/sh\nexec "${process.execPath}" "${npmCliPath()}" "$@"\n`, { mode: 0o755 });
  symlinkSync('/bin/sh', join(bin, 'sh'));
  for (const [tool, what] of Object.entries(extra)) {
    if (typeof what === 'string') symlinkSync(what, join(bin, tool));
    else writeFileSync(join(bin, tool), `#!/bin/sh\n${what.script}\n`, { mode: 0o755 });
  }
  const compilers = readdirSync(bin).filter((f) => /^(cc|c\+\+|g\+\+|gcc|clang|make|python3?)$/.test(f) && !(f in extra));
  assert.deepEqual(compilers, [], 'no build tool leaked into the PATH');
  return bin;
}

/** An empty consumer project in `work`/`name`. */
export function consumer(work: string, name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), '{"name":"consumer","private":true}');
  return dir;
}

/** npm install of `tarball` in `dir` under `env`; never uses the network when npm's cache has the dependencies. */
export function npmInstall(bin: string, dir: string, tarball: string, env: NodeJS.ProcessEnv, extraArgs: string[] = []): string {
  const args = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', tarball, ...extraArgs];
  return run(join(bin, 'npm'), args, { cwd: dir, env, what: `npm install ${extraArgs.join(' ')}`.trim(), timeout: 600000 });
}

/**
 * Node's own headers without a download (node-gyp --nodedir): the prefix of
 * the running node when it has include/node/common.gypi, else null.
 */
export function localNodeDir(): string | null {
  const prefix = join(process.execPath, '..', '..');
  return existsSync(join(prefix, 'include', 'node', 'common.gypi')) && existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}
