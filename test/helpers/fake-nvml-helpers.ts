// The stand-in NVML library for tests that need GPUs on machines without one.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { before } from 'node:test';
import type { buildFakeNvml as BuildFakeNvml } from '../../scripts/build-fake-nvml.mjs';
import { getAddon } from '../../src/native/binding.js';
import { HANG_GUARD_MS } from './hang-guard.js';

export type FakeNvmlLibraries = ReturnType<typeof BuildFakeNvml>;

/** Builds (or reuses) every variant of the stand-in; throws with the compiler's output on failure. */
export async function fakeNvmlLibraries(): Promise<FakeNvmlLibraries> {
  const { buildFakeNvml } = (await import('../../scripts/build-fake-nvml.mjs')) as { buildFakeNvml: typeof BuildFakeNvml };
  return buildFakeNvml();
}

/**
 * Path of the full stand-in library. When it cannot be built, CI fails
 * (the compiler is something .ci/run installs) and elsewhere the test is
 * skipped and null returned.
 */
export async function fakeNvmlOrSkip(t: { skip(message?: string): void }): Promise<string | null> {
  try {
    return (await fakeNvmlLibraries()).full;
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    t.skip(`cannot build the stand-in NVML: ${(err as Error).message}`);
    return null;
  }
}

/** What a test file's tests read once the stand-in is built (standInNvml). */
export interface StandInNvml {
  /** Every variant of the stand-in, or null when it could not be built. */
  libs: FakeNvmlLibraries | null;
  /** Why the GPU tests cannot run ('' when they can): tests skip with it; on CI the file fails instead. */
  whyNot: string;
}

/**
 * Registers a before() hook that builds the stand-in NVML and checks the
 * addon is built; the returned object is filled in by then. With CI=true a
 * missing compiler or addon fails the file (CI installs both).
 */
export function standInNvml(): StandInNvml {
  const state: StandInNvml = { libs: null, whyNot: '' };
  before(async () => {
    try {
      state.libs = await fakeNvmlLibraries();
    } catch (err) {
      state.whyNot = `cannot build the stand-in NVML: ${(err as Error).message}`;
    }
    if (state.libs && !getAddon()) state.whyNot = 'the perfprobe addon is not built (npx node-gyp rebuild)';
    if (state.whyNot && process.env.CI === 'true') throw new Error(state.whyNot);
  });
  return state;
}

// ------------------------------------------------------------ child processes


const root = resolve(__dirname, '..', '..');
let scratch: string | null = null;
let scriptN = 0;

export interface GpuChildResult<T> {
  v: T;
  warnings: Array<{ code: string; message: string }>;
  pid: number;
  status: number | null;
  stderr: string;
}

/**
 * Runs `body` (async JavaScript) in a child node with the stand-in NVML
 * `lib` (a path) and the fake's `script`: `g` is src/probes/gpu.ts,
 * `require` resolves from the repository root, `done(value)` reports
 * (NaN survives as the string "NaN"), `until(pred, what)` waits (bounded:
 * 20 s) for a condition. NVML is process-wide, so each scenario gets its own
 * process. Throws when the child reports nothing.
 */
export function gpuChild<T = any>(body: string, opts: { lib: string; script?: string; env?: Record<string, string> }): GpuChildResult<T> {
  scratch ??= mkdtempSync(join(tmpdir(), 'perfprobe-gpu-child-'));
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of ['PERFPROBE_NVML', 'PERFPROBE_NVML_LIBRARY', 'PERFPROBE_FAKE_NVML_SCRIPT', 'PERFPROBE_ADDON', 'NODE_OPTIONS']) delete env[k];
  env.PERFPROBE_NVML_LIBRARY = opts.lib;
  if (opts.script !== undefined) {
    const file = join(scratch, `script-${process.pid}-${++scriptN}.txt`);
    writeFileSync(file, opts.script);
    env.PERFPROBE_FAKE_NVML_SCRIPT = file;
  }
  Object.assign(env, opts.env);
  const prelude = `
    // The GPU probe and its event watcher (src/probes/gpu.ts, gpu-watch.ts) as one object.
    const g = { ...require(${JSON.stringify(join(root, 'src', 'probes', 'gpu.ts'))}), ...require(${JSON.stringify(join(root, 'src', 'probes', 'gpu-watch.ts'))}) };
    const src = (p) => require(require('node:path').join(${JSON.stringify(root)}, 'src', p));
    const warnings = [];
    process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }));
    function done(v) {
      // Warnings are emitted on a later tick: serialize after them.
      setTimeout(() => {
        const text = JSON.stringify({ v, warnings, pid: process.pid }, (k, x) => (typeof x === 'number' && Number.isNaN(x) ? 'NaN' : x));
        process.stdout.write('RESULT:' + text + '\\n');
      }, 20);
    }
    function until(pred, what) {
      return new Promise((res, rej) => {
        const end = Date.now() + ${HANG_GUARD_MS}; // a hang guard (test/helpers/hang-guard.ts), not a time limit
        const tick = () => (pred() ? res() : Date.now() > end ? rej(new Error('timed out waiting for ' + what)) : setTimeout(tick, 5));
        tick();
      });
    }
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', `${prelude}\n(async () => {\n${body}\n})().catch((e) => { console.error(e); process.exit(3); });`], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 2 * HANG_GUARD_MS, // after the child's own until() guard, so its message is the one seen
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT:'));
  if (!line) throw new Error(`child produced no result (status ${r.status}):\n${r.stderr}\n${r.stdout}`);
  const parsed = JSON.parse(line.slice('RESULT:'.length)) as Omit<GpuChildResult<T>, 'status' | 'stderr'>;
  return { ...parsed, status: r.status, stderr: r.stderr };
}

process.on('exit', () => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});
