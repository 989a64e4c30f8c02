#!/usr/bin/env node
// Builds the NVML micro-benchmark program (native/bench/, CMakeLists.txt
// target perfprobe_gpu_bench: the raw NVML calls of one sample against
// perfprobe's native read of it) into build/gpu-bench/, and runs it. It is
// not part of the shipped addon; bench/gpu.bench.mjs and scripts/test-gpu.mjs
// use it. Cached: rebuilt only when a native source is newer.
//
//   node scripts/build-gpu-bench.mjs [LIBRARY [ITERATIONS]]   builds, runs, prints the JSON line
//   import { buildGpuBench, runGpuBench } from './scripts/build-gpu-bench.mjs'
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = join(root, 'build', 'gpu-bench');
const name = process.platform === 'win32' ? 'perfprobe_gpu_bench.exe' : 'perfprobe_gpu_bench';

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? (e.name === 'test' ? 0 : newest(p)) : statSync(p).mtimeMs);
  }
  return t;
}

function find(dir, depth = 0) {
  if (!existsSync(dir)) return undefined;
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (e === name) return p;
    if (depth < 2 && statSync(p).isDirectory() && !e.startsWith('CMakeFiles')) {
      const hit = find(p, depth + 1);
      if (hit) return hit;
    }
  }
  return undefined;
}

/** Builds (when stale) and returns the program's path; throws with the build output on failure. */
export function buildGpuBench() {
  const existing = find(buildDir);
  if (existing && statSync(existing).mtimeMs >= Math.max(newest(join(root, 'native')), statSync(join(root, 'CMakeLists.txt')).mtimeMs)) return existing;
  const jobs = String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
  const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
  const attempts = [
    [process.execPath, [cmakeJs, 'build', '-d', root, '-O', buildDir, '-T', 'perfprobe_gpu_bench', '-p', jobs]],
    ['cmake', ['-S', root, '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release']],
    ['cmake', ['--build', buildDir, '--target', 'perfprobe_gpu_bench', '--config', 'Release', '-j', jobs]],
  ];
  let log = '';
  const first = spawnSync(attempts[0][0], attempts[0][1], { cwd: root, encoding: 'utf8' });
  log += `${first.stdout}${first.stderr}`;
  if (first.status !== 0 || !find(buildDir)) {
    for (const [cmd, args] of attempts.slice(1)) {
      const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8' });
      log += `${r.stdout}${r.stderr}`;
      if (r.status !== 0) throw new Error(`building ${name} failed:\n${log}`);
    }
  }
  const built = find(buildDir);
  if (!built) throw new Error(`${name} not found under ${buildDir} after the build:\n${log}`);
  return built;
}

/** Runs the program on `library` (env adds e.g. PERFPROBE_FAKE_NVML_SCRIPT); resolves its JSON result. */
export function runGpuBench(library, iterations = 20000, env = {}) {
  const exe = buildGpuBench();
  const r = spawnSync(exe, [library, String(iterations)], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  const line = (r.stdout ?? '').trim().split('\n').pop();
  const out = line ? JSON.parse(line) : { error: `no output (${r.status ?? r.signal}): ${r.stderr}` };
  if (out.error) throw new Error(`${name} ${library}: ${out.error}`);
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [library = '', iterations = '20000'] = process.argv.slice(2);
  console.log(JSON.stringify(runGpuBench(library, Number(iterations))));
}
