#!/usr/bin/env node
// Builds the stand-in NVML library (native/test/fake_nvml/fake_nvml.c) and its
// variants into build/fake-nvml/ with `cc -shared -fPIC -O1`, for the
// JavaScript tests and the benchmark on machines without a GPU. Cached: a
// variant is rebuilt only when the source is newer. Safe to run from parallel
// test processes (each output is written to a temporary name, then renamed).
//
//   node scripts/build-fake-nvml.mjs        builds and prints the paths as JSON
//   import { buildFakeNvml } from './scripts/build-fake-nvml.mjs'
//
// Cross builds (scripts/emulate.mjs): buildFakeNvml({ cc: [zig, 'cc', '-target',
// T], platform, outDir }) writes the variants for another OS/CPU, and a test
// process started with PERFPROBE_FAKE_NVML_DIR=<that outDir> uses them as they
// are (an emulated Node cannot run the host's compiler, nor load its output).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sourceDir = join(root, 'native', 'test', 'fake_nvml');
// Every .c file there is one library (fake_nvml.c and fake_nvml_depth.c share fake_nvml.h).
const sources = readdirSync(sourceDir).filter((f) => f.endsWith('.c')).sort().map((f) => join(sourceDir, f));
const headers = readdirSync(sourceDir).filter((f) => f.endsWith('.h')).map((f) => join(sourceDir, f));
const outDir = join(root, 'build', 'fake-nvml');

/** Variant name -> compiler flags (see the comment at the top of fake_nvml.c). */
export const FAKE_NVML_VARIANTS = {
  full: [],
  v1: ['-DFAKE_NVML_V1_ONLY'],
  nov3: ['-DFAKE_NVML_NO_V3'],
  missing: ['-DFAKE_NVML_MISSING'],
  noinit: ['-DFAKE_NVML_NO_INIT'],
  old: ['-DFAKE_NVML_OLD_DRIVER'],
};

/** File name of a variant's library on `platform` (a DLL on Windows). */
export function fakeNvmlFileName(name, platform = process.platform) {
  const suffix = name === 'full' ? '' : `-${name}`;
  return platform === 'win32' ? `fake-nvml${suffix}.dll` : `libfake-nvml${suffix}.so`;
}

/**
 * Builds every variant (when stale) and returns { full, v1, nov3, missing, noinit, old }
 * as absolute paths. Throws with the compiler's output when cc fails or is missing.
 * Options (cross builds): cc (argv array), platform, outDir.
 */
export function buildFakeNvml(options = {}) {
  const prebuilt = options.cc ? undefined : process.env.PERFPROBE_FAKE_NVML_DIR;
  if (prebuilt) {
    const paths = {};
    for (const name of Object.keys(FAKE_NVML_VARIANTS)) {
      paths[name] = resolve(prebuilt, fakeNvmlFileName(name));
      if (!existsSync(paths[name])) throw new Error(`PERFPROBE_FAKE_NVML_DIR=${prebuilt} has no ${fakeNvmlFileName(name)}`);
    }
    return paths;
  }
  const platform = options.platform ?? process.platform;
  const dir = options.outDir ?? outDir;
  mkdirSync(dir, { recursive: true });
  const srcTime = Math.max(...[...sources, ...headers].map((f) => statSync(f).mtimeMs));
  const [cc, ...ccArgs] = options.cc ?? [process.env.CC || 'cc'];
  const paths = {};
  for (const [name, flags] of Object.entries(FAKE_NVML_VARIANTS)) {
    const out = join(dir, fakeNvmlFileName(name, platform));
    paths[name] = out;
    if (existsSync(out) && statSync(out).mtimeMs >= srcTime) continue;
    const tmp = `${out}.${process.pid}.tmp`;
    const pic = platform === 'win32' ? [] : ['-fPIC'];
    try {
      execFileSync(cc, [...ccArgs, '-shared', ...pic, '-O1', ...flags, ...sources, '-o', tmp], { stdio: 'pipe' });
    } catch (err) {
      const e = /** @type {any} */ (err);
      const detail = e.code === 'ENOENT' ? `${cc} not found (install a C compiler: apt-get install gcc)` : String(e.stderr || e.message);
      throw new Error(`building the stand-in NVML (${name}) failed: ${detail}`);
    }
    renameSync(tmp, out);
  }
  return paths;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(buildFakeNvml(), null, 2));
}
