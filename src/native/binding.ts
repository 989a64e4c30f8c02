/**
 * The one place the native addon binary is loaded.
 *
 * Search (node-gyp-build on the package root, two levels above both
 * src/native and dist/native): build/Release, build/Debug, then
 * prebuilds/<platform>-<arch>/ (only prebuilds when PREBUILDS_ONLY=1).
 *
 * Environment:
 * - `PERFPROBE_ADDON=0`: do not load the addon; every probe uses its Node.js
 *   fallback (no warning: it was asked for).
 * - `PERFPROBE_ADDON=/path/to/file.node`: load exactly that binary;
 *   `PERFPROBE_ADDON=/some/dir`: search that directory as a package root.
 * - `PERFPROBE_NO_WARNINGS=1`: no warning when loading fails.
 *
 * When loading fails the library keeps working on the fallbacks and emits
 * ONE `process.emitWarning(message, { code: 'PERFPROBE_ADDON_UNAVAILABLE' })`
 * per thread that names what was tried and the likely fix for each cause;
 * when the install script could not build the addon (scripts/install.js
 * wrote build/install-failure.json), its reason and fix come first.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import os from 'node:os';
import { WarningCode } from '../errors.js';

export interface NativeLayout {
  memorySlots: number;
  headerSlots: number;
  gpuSlots: number;
  /** The codes of the GPU status slot (native gpu::GpuStatus). */
  gpuStatus: { ok: number; lost: number; error: number };
}

export interface NativeSamplerStats {
  running: boolean;
  /** Records written since the last start. */
  written: number;
  /** Records dropped by ring overflow since the last start. */
  dropped: number;
  gpuCount: number;
  recordSlots: number;
  /** Ring memory allocated now: chunks of ~64 KiB allocated as records arrive (absent from older binaries). */
  ringBytes?: number;
  /** The most the ring can allocate (its capacity, in whole chunks). */
  ringMaxBytes?: number;
  /** Largest VmHWM of any process of the watched tree since start (bytes); null when none watched or read. */
  treeHwmBytes?: number | null;
}

export interface NativeSampler {
  /**
   * true when started, false when it was already running (nothing changes).
   * With `gpu`, opens `nvmlLibrary` ('' = the platform's default name;
   * required then, a TypeError otherwise): the caller always names the
   * library, the addon never reads the environment.
   */
  start(intervalMs: number, capacityRecords: number, gpu: boolean, watchPid: number, nvmlLibrary?: string): boolean;
  stop(): void;
  /** Copies as many whole records as fit into `out`, oldest first; returns how many. */
  drain(out: Float64Array): number;
  stats(): NativeSamplerStats;
}

export interface NativeAddon {
  readonly layout: NativeLayout;
  /** Fills layout.memorySlots doubles (bytes; NaN = unknown). */
  readMemory(out: Float64Array): void;
  /** The same, then out[layout.memorySlots] = wall-clock ms since the epoch (absent from older binaries). */
  readonly readMemoryWithTime?: (out: Float64Array) => void;
  readonly Sampler: new () => NativeSampler;
  /** GPU functions registered by native/gpu (see src/probes/gpu.ts). */
  readonly [name: string]: unknown;
}

export interface AddonStatus {
  loaded: boolean;
  /** The binary that was loaded, or the one that failed to load. */
  path?: string;
  /** Why it did not load (first line of the error, or "disabled by ..."). */
  error?: string;
  /** true when PERFPROBE_ADDON=0 turned the addon off. */
  disabled: boolean;
}

export { ADDON_WARNING_CODE } from '../errors.js';

/** The package root: two levels above src/native and dist/native. */
export const packageRoot = resolve(__dirname, '..', '..');

let addon: NativeAddon | null = null;
let status: AddonStatus = { loaded: false, disabled: false };

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.trim();
}

function checkShape(mod: unknown): NativeAddon {
  const m = mod as Partial<NativeAddon> | null;
  if (!m || typeof m.readMemory !== 'function' || typeof m.Sampler !== 'function' || typeof m.layout !== 'object') {
    throw new Error('the binary loaded but is not a perfprobe addon (no readMemory/Sampler/layout exports)');
  }
  return m as NativeAddon;
}

/** What scripts/install.js recorded when it could not build the addon. */
export interface InstallFailure {
  reason: string;
  fix: string;
  /** Why no prebuild was used ("none for linux-arm64", the load error, ...). */
  prebuild?: string;
}

/** build/install-failure.json under `dir`, or null when there is none (or it is unreadable). */
export function readInstallFailure(dir: string): InstallFailure | null {
  try {
    const r = JSON.parse(readFileSync(join(dir, 'build', 'install-failure.json'), 'utf8')) as Partial<InstallFailure>;
    return typeof r.reason === 'string' && typeof r.fix === 'string' ? (r as InstallFailure) : null;
  } catch {
    return null;
  }
}

/** Builds the warning: what was tried, the error, and a fix per likely cause. */
export function describeLoadFailure(tried: string[], err: unknown, install: InstallFailure | null = null): string {
  const message = err instanceof Error ? err.message : String(err);
  const target = `${process.platform}-${process.arch}${process.platform === 'linux' ? ` (${isMusl() ? 'musl' : 'glibc'})` : ''}`;
  const causes: Array<[RegExp, string]> = [
    [/No native build was found/i,
      `no prebuilt binary for ${target} and no local build: install python3, make and a C++17 compiler ` +
        '(Debian: apt-get install python3 make g++; macOS: xcode-select --install; Windows: Visual Studio Build Tools), ' +
        'then run `npm rebuild perfprobe`'],
    [/GLIBC|GLIBCXX|CXXABI|musl|libc\.so|libstdc\+\+/i,
      'the binary needs a newer C library than this system has: build it here with ' +
        '`npm rebuild perfprobe --build-from-source` (needs python3, make and a C++17 compiler)'],
    [/invalid ELF|wrong ELF class|file too short|not a valid Win32|mach-o|Exec format|incompatible architecture/i,
      `the binary was built for another platform or CPU than ${target}: delete build/ and run \`npm rebuild perfprobe\``],
    [/NODE_MODULE_VERSION|did not self-register|napi|undefined symbol/i,
      `ABI mismatch: the binary needs Node-API 8 (Node.js >= 12.22 / 14.17 / 16) and was built for another runtime ` +
        `than Node ${process.version}: run \`npm rebuild perfprobe\``],
    [/Cannot find module '?node-gyp-build/i,
      "perfprobe's dependency node-gyp-build is missing (it finds the binary): reinstall perfprobe with its dependencies (npm install), " +
        'or, when bundling, leave perfprobe out of the bundle (mark it external)'],
    [/Cannot find module|ENOENT/i, 'the file named by PERFPROBE_ADDON does not exist: fix the path or unset PERFPROBE_ADDON'],
  ];
  let likely = causes.find(([re]) => re.test(message));
  let likelyText = likely ? likely[1] : 'unknown; see the error above';
  if (install && (!likely || likely === causes[0])) {
    // The install script tried to build and said why it could not.
    likelyText =
      `no prebuilt binary for ${target} loads here${install.prebuild ? ` (${install.prebuild})` : ''} and the source build at install failed: ` +
      `${install.reason}. Fix: ${install.fix}`;
    likely = causes[0];
  }
  const lines = [
    'perfprobe: the native addon could not be loaded; readMemory() and Sampler use the Node.js fallbacks ' +
      '(slower, and the fallback sampler cannot sample while the event loop is blocked).',
    `  tried: ${tried.join(', ')}`,
    `  error: ${firstLine(err)}`,
    `  likely cause and fix: ${likelyText}`,
    '  other causes and fixes:',
    ...causes.filter((c) => c !== likely).slice(0, 4).map(([, fix]) => `    - ${fix}`),
    '  Set PERFPROBE_ADDON=0 to use the fallbacks without this warning (PERFPROBE_NO_WARNINGS=1 silences it too).',
  ];
  return lines.join('\n');
}

function isMusl(): boolean {
  if (process.platform !== 'linux') return false;
  const report = process.report?.getReport?.() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return !report?.header?.glibcVersionRuntime;
}

function load(): void {
  const setting = process.env.PERFPROBE_ADDON;
  if (setting === '0' || setting === 'false' || setting === 'off') {
    status = { loaded: false, disabled: true, error: 'disabled by PERFPROBE_ADDON=0' };
    return;
  }
  const explicitFile = setting && setting !== '1' && setting.endsWith('.node') ? resolve(setting) : undefined;
  const searchRoot = setting && setting !== '1' && !explicitFile ? resolve(setting) : packageRoot;
  const tried = explicitFile
    ? [explicitFile]
    : [
        ...(process.env.PREBUILDS_ONLY ? [] : [join(searchRoot, 'build', 'Release'), join(searchRoot, 'build', 'Debug')]),
        join(searchRoot, 'prebuilds', `${os.platform()}-${os.arch()}`),
      ];
  let file: string | undefined = explicitFile;
  try {
    if (!file) {
      const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
      file = nodeGypBuild.resolve(searchRoot);
    }
    addon = checkShape(require(file));
    status = { loaded: true, path: file, disabled: false };
  } catch (err) {
    addon = null;
    status = { loaded: false, disabled: false, error: firstLine(err), ...(file ? { path: file } : {}) };
    if (process.env.PERFPROBE_NO_WARNINGS !== '1') {
      process.emitWarning(describeLoadFailure(tried, err, explicitFile ? null : readInstallFailure(searchRoot)), { code: WarningCode.addonUnavailable });
    }
  }
}

load();

/** The loaded addon, or null when the fallbacks are in use. */
export function getAddon(): NativeAddon | null {
  return addon;
}

/** Whether the addon loaded, from where, and why not. */
export function addonStatus(): AddonStatus {
  return { ...status };
}
