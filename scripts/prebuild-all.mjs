#!/usr/bin/env node
// `npm run prebuild:all`: the release prebuilds, cross-compiled on one
// x86-64 Linux machine with zig (scripts/toolchains.mjs), from the sources,
// defines and flags binding.gyp gives for each OS:
//
//   prebuilds/linux-x64/perfprobe.napi.glibc.node    x86_64-linux-gnu.2.28
//   prebuilds/linux-arm64/perfprobe.napi.glibc.node  aarch64-linux-gnu.2.28
//   prebuilds/win32-x64/perfprobe.napi.node          x86_64-windows-gnu
//
// Names follow prebuildify's (--napi --tag-libc), so node-gyp-build picks them.
// Why zig: it links against the glibc 2.28 symbol set itself (the floor of
// Node 20's own binaries: RHEL 8, Ubuntu 20.04, JetPack 5), whatever glibc
// the build machine has, and links its libc++ statically, so the binaries
// need no GLIBCXX version either; a Debian 12 g++ build needs GLIBC_2.34
// (dlopen, pthread_* moved into libc) and GLIBCXX_3.4.30. The same compiler
// cross-builds arm64 and Windows (mingw-w64 with static libc++, importing
// Node-API from node.exe through an import library made from
// node-api-headers' node_api.def). Every binary is stripped and exports only
// the Node-API module entry points.
//
//   node scripts/prebuild-all.mjs                       the three release targets
//   node scripts/prebuild-all.mjs darwin-arm64 darwin-x64   macOS compile+link check
//        (`npm run check:macos`), written to build/cross/, never to prebuilds/:
//        nothing here can run a macOS binary
//   node scripts/prebuild-all.mjs linux-arm64 ...       only those targets
import { execSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toolchain } from './toolchains.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Target tuple (node-gyp-build's platform-arch) -> how to build it. */
export const TARGETS = {
  'linux-x64': { zig: 'x86_64-linux-gnu.2.28', os: 'linux', file: 'perfprobe.napi.glibc.node' },
  'linux-arm64': { zig: 'aarch64-linux-gnu.2.28', os: 'linux', file: 'perfprobe.napi.glibc.node' },
  'win32-x64': { zig: 'x86_64-windows-gnu', os: 'win', file: 'perfprobe.napi.node' },
  // Compile-and-link checks only (zig's macOS headers start at 11.0; binding.gyp asks 10.15 of Xcode).
  'darwin-arm64': { zig: 'aarch64-macos.11.0', os: 'mac', file: 'perfprobe.node', checkOnly: true },
  'darwin-x64': { zig: 'x86_64-macos.11.0', os: 'mac', file: 'perfprobe.node', checkOnly: true },
};
export const RELEASE_TARGETS = Object.keys(TARGETS).filter((t) => !TARGETS[t].checkOnly);

/** The only symbols a prebuild exports (Node-API's module entry points). */
export const EXPORTED_SYMBOLS = ['napi_register_module_v1', 'node_api_module_get_api_version_v1'];

/** binding.gyp as data: JSON once its `#` comments are gone. */
export function readBindingGyp() {
  const text = readFileSync(join(root, 'binding.gyp'), 'utf8')
    .split('\n')
    .map((line) => line.replace(/^\s*#.*$/, '').replace(/\s+#[^"']*$/, ''))
    .join('\n');
  return JSON.parse(text);
}

/** Evaluates a gyp condition of the forms OS=='x', OS!='x' joined by and/or. */
function conditionHolds(condition, osName) {
  return condition.split(/\s+or\s+/).some((alt) =>
    alt.split(/\s+and\s+/).every((term) => {
      const m = /^\s*OS\s*(==|!=)\s*'(\w+)'\s*$/.exec(term);
      if (!m) throw new Error(`binding.gyp condition "${condition}" is not understood by scripts/prebuild-all.mjs (only OS=='x' / OS!='x' with and/or)`);
      return m[1] === '==' ? osName === m[2] : osName !== m[2];
    }),
  );
}

/** Sources, defines, include dirs, C++ flags and libraries binding.gyp gives `osName`. */
export function gypSettings(osName) {
  const target = readBindingGyp().targets.find((t) => t.target_name === 'perfprobe');
  const out = { sources: [], defines: [], include_dirs: [], cflags_cc: [], libraries: [] };
  const take = (block) => {
    for (const key of Object.keys(out)) out[key].push(...(block[key] ?? []));
    for (const [condition, then, otherwise] of block.conditions ?? []) {
      if (conditionHolds(condition, osName)) take(then);
      else if (otherwise) take(otherwise);
    }
  };
  take(target);
  out.include_dirs = out.include_dirs.map((dir) => {
    const cmd = /^<!\((.*)\)$/.exec(dir);
    const value = cmd ? execSync(cmd[1], { cwd: root, encoding: 'utf8' }).trim() : dir;
    return resolve(root, value);
  });
  out.libraries = out.libraries.map((lib) => (lib.endsWith('.lib') ? `-l${lib.slice(0, -4)}` : lib));
  return out;
}

/** Node-API's headers and the export list of node.exe (one set for every platform). */
function nodeApiHeaders() {
  const dir = dirname(createRequire(join(root, 'package.json')).resolve('node-api-headers/package.json'));
  return { include: join(dir, 'include'), def: join(dir, 'def', 'node_api.def') };
}

/** Runs a command, collecting its output; rejects with that output on failure. */
function run(cmd, args, label) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', (err) => reject(new Error(`${label}: ${err.message}`)));
    child.on('close', (code) => (code === 0 ? resolvePromise(output) : reject(new Error(`${label} failed (exit ${code}):\n${output}`))));
  });
}

async function pool(jobs, width) {
  const results = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  }));
  return results;
}

/** Newest modification time (ms) of the files that go into a build (this script included). */
function newestInput() {
  let t = Math.max(statSync(join(root, 'binding.gyp')).mtimeMs, statSync(fileURLToPath(import.meta.url)).mtimeMs);
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (e.name !== 'test') walk(join(dir, e.name));
      } else t = Math.max(t, statSync(join(dir, e.name)).mtimeMs);
    }
  };
  walk(join(root, 'native'));
  return t;
}

/** The release binary of `name` when it exists and is newer than every native source, else null. */
export function freshPrebuild(name) {
  const file = join(root, 'prebuilds', name, TARGETS[name].file);
  return existsSync(file) && statSync(file).mtimeMs >= newestInput() ? file : null;
}

/**
 * Builds one target; returns { target, output, warnings, seconds }. Release
 * targets are copied to prebuilds/<target>/ (replacing what was there).
 */
export async function buildTarget(name, { zig = toolchain('zig'), jobs = Math.max(1, os.availableParallelism?.() ?? os.cpus().length) } = {}) {
  const t = TARGETS[name];
  if (!t) throw new Error(`unknown target ${name}; known: ${Object.keys(TARGETS).join(', ')}`);
  const started = Date.now();
  const gyp = gypSettings(t.os);
  const headers = nodeApiHeaders();
  const work = join(root, 'build', 'cross', name);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'obj'), { recursive: true });

  const flags = [
    '-target', t.zig, '-O2', '-fvisibility=hidden', '-fvisibility-inlines-hidden',
    ...(t.os === 'linux' ? ['-fPIC'] : []),
    ...gyp.cflags_cc,
    ...gyp.defines.map((d) => `-D${d}`),
    '-DNODE_GYP_MODULE_NAME=perfprobe', '-DBUILDING_NODE_EXTENSION',
    ...gyp.include_dirs.map((d) => `-I${d}`), `-I${headers.include}`,
  ];
  const objects = gyp.sources.map((src) => join(work, 'obj', `${src.replace(/^native\//, '').replace(/[/\\]/g, '_')}.o`));
  const outputs = await pool(gyp.sources.map((src, i) => () => run(zig, ['c++', ...flags, '-c', src, '-o', objects[i]], `${name}: compile ${src}`)), jobs);
  const warnings = outputs.join('').split('\n').filter((l) => /\bwarning:/.test(l));

  const output = join(work, t.file);
  // -O2 here too: zig builds libc++ for the target in the link's optimize mode (Debug without it).
  const link = ['c++', '-target', t.zig, '-O2', '-shared', '-s', ...objects];
  if (t.os === 'linux') {
    const script = join(work, 'exports.map');
    writeFileSync(script, `{ global: ${EXPORTED_SYMBOLS.join('; ')}; local: *; };\n`);
    // -z nodelete: Node dlcloses an addon when the last worker_thread that
    // loaded it exits; with libc++/libc++abi linked in statically, a thread
    // that exits later would then run their thread-exit destructors from
    // unmapped code (SIGSEGV; test/sampler.test.ts "workers terminated ...").
    link.push(`-Wl,--version-script=${script}`, '-Wl,--gc-sections', '-Wl,-z,nodelete', ...gyp.libraries);
  } else if (t.os === 'win') {
    const importLib = join(work, 'node.lib');
    await run(zig, ['dlltool', '-d', headers.def, '-l', importLib, '-m', 'i386:x86-64'], `${name}: import library for node.exe`);
    link.push(importLib, ...gyp.libraries);
  } else if (t.os === 'mac') {
    // Node-API symbols come from the node process at load time.
    link.push('-undefined', 'dynamic_lookup', ...gyp.libraries);
  }
  link.push('-o', output);
  await run(zig, link, `${name}: link`);

  let shipped = output;
  if (!t.checkOnly) {
    const dir = join(root, 'prebuilds', name);
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(dir)) if (f.endsWith('.node')) rmSync(join(dir, f));
    shipped = join(dir, t.file);
    copyFileSync(output, shipped);
  }
  return { target: name, output: shipped, warnings, seconds: (Date.now() - started) / 1000 };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : RELEASE_TARGETS;
  const zig = toolchain('zig');
  let failed = false;
  // One target at a time, each compiling its sources in parallel: zig's
  // first build of libc++ for a target is the slow part and is cached
  // (~/.cache/zig) for the next run.
  for (const name of names) {
    try {
      const r = await buildTarget(name, { zig });
      const note = TARGETS[name].checkOnly ? 'compile + link check' : 'prebuild';
      console.log(`prebuild:all: ${name} ${note}: ${relative(root, r.output)} (${r.seconds.toFixed(0)} s, ${r.warnings.length} warning(s))`);
      for (const w of r.warnings) console.log(`  ${w}`);
    } catch (err) {
      failed = true;
      console.error(`prebuild:all: ${name} FAILED\n${err.message}`);
    }
  }
  if (failed) process.exit(1);
}
