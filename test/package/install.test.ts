// `npm install perfprobe` never fails because of the addon. A packed
// tarball WITHOUT prebuilds, installed (install script on) into a consumer
// project on a machine that cannot build it:
//  - PATH holds only node, npm, sh and coreutils (no python, make, compiler);
//  - python3 and make are there, but the C++ compiler is broken.
// Each time the install exits 0, says why the addon is missing, and the
// first import works on the fallback probes with exactly ONE
// PERFPROBE_ADDON_UNAVAILABLE warning that quotes the install's reason and
// the fix (scripts/install.js -> build/install-failure.json -> binding.ts).
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consumer, localNodeDir, npmInstall, pack, packageCopy, toolsBin } from '../helpers/pack-helpers.js';
import { HANG_GUARD_MS } from '../helpers/hang-guard.js';

let work = '';
let tarball = '';

before(() => {
  work = mkdtempSync(join(tmpdir(), 'perfprobe-install-'));
  const pkg = packageCopy(work, { prebuilds: false });
  const packed = pack(pkg, work);
  assert.ok(!packed.paths.some((p) => p.startsWith('prebuilds/')), 'no prebuilds in this tarball');
  assert.ok(packed.paths.includes('scripts/install.js'));
  tarball = packed.tarball;
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** This process's environment without the variables that point node-gyp at tools outside PATH, then `set`. */
function toolEnv(set: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['CC', 'CXX', 'LINK', 'AR', 'PYTHON', 'npm_config_python', 'npm_config_nodedir', 'NODE_OPTIONS']) delete env[k];
  return { ...env, ...set };
}

/** Imports the installed package in a child and reports what a user would see. */
function firstImport(bin: string, dir: string, env: NodeJS.ProcessEnv) {
  const code = `
    const warnings = [];
    process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }));
    const p = require('perfprobe');
    const m = p.readMemory(); p.readMemory();
    const s = new p.Sampler({ intervalMs: 5 }).start();
    setTimeout(() => {
      const batch = s.drain(); s.stop();
      import('perfprobe').then((e) => setImmediate(() => console.log(JSON.stringify({
        warnings: warnings.filter((w) => String(w.code).startsWith('PERFPROBE')), info: p.probeInfo(), totalMb: m.totalMb,
        processMb: m.processMemoryMb, backend: s.backend, count: batch.count, esm: e.readMemory === p.readMemory }))));
    }, 30);`;
  const r = spawnSync(join(bin, 'node'), ['-e', code], { cwd: dir, env: { ...env, PERFPROBE_NO_WARNINGS: '' }, encoding: 'utf8', timeout: HANG_GUARD_MS });
  assert.equal(r.status, 0, `first import failed:\n${r.stdout}\n${r.stderr}`);
  return { ...JSON.parse(r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop()!), stderr: r.stderr };
}

function assertFallback(r: any, reason: RegExp) {
  assert.equal(r.info.addon.loaded, false);
  assert.equal(r.info.memory.backend, 'node');
  assert.ok(r.totalMb > 64 && r.processMb > 1, 'readMemory works on the fallback');
  assert.equal(r.backend, 'timer');
  assert.ok(r.count >= 1, 'the fallback sampler recorded');
  assert.equal(r.esm, true, 'import and require share one instance');
  assert.equal(r.warnings.length, 1, JSON.stringify(r.warnings));
  assert.equal(r.warnings[0].code, 'PERFPROBE_ADDON_UNAVAILABLE');
  const msg: string = r.warnings[0].message;
  assert.match(msg, /likely cause and fix: no prebuilt binary for linux-x64|likely cause and fix: no prebuilt binary for/);
  assert.match(msg, /the source build at install failed/);
  assert.match(msg, reason);
  assert.match(msg, /npm rebuild perfprobe/, 'the fix is named');
  assert.equal((r.stderr.match(/PERFPROBE_ADDON_UNAVAILABLE/g) ?? []).length, 1, 'printed once');
}

test('no python, make or compiler on PATH: install exits 0 and the import falls back with one warning', { timeout: 600000 }, () => {
  const bin = toolsBin(work, 'bin-bare');
  const env = toolEnv({ PATH: bin });
  const dir = consumer(work, 'bare');
  const out = npmInstall(bin, dir, tarball, env);
  assert.match(out, /perfprobe: no prebuilt addon loads here \(none for linux-x64|perfprobe: no prebuilt addon loads here/);
  assert.match(out, /perfprobe: the native addon is not installed: Python 3 was not found/);
  const failure = JSON.parse(readFileSync(join(dir, 'node_modules', 'perfprobe', 'build', 'install-failure.json'), 'utf8'));
  assert.equal(failure.reason, 'Python 3 was not found (node-gyp needs it)');
  assertFallback(firstImport(bin, dir, env), /Python 3 was not found/);
});

test('python3 and make present, a broken C++ compiler: install exits 0 and the import falls back with one warning', { timeout: 600000 }, (t) => {
  const nodedir = localNodeDir();
  const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
  const make = execFileSync('sh', ['-c', 'command -v make'], { encoding: 'utf8' }).trim();
  if (!nodedir || !existsSync(python) || !make) {
    // Node's headers must be local: node-gyp would otherwise download them before reaching the compiler.
    const why = `needs python3, make and Node's headers next to node (nodedir ${nodedir}, python ${python}, make ${make})`;
    if (process.env.CI === 'true') assert.fail(why);
    t.skip(why);
    return;
  }
  const broken = { script: 'echo "internal compiler error: Segmentation fault (this compiler is broken on purpose)" >&2; exit 4' };
  // sed too: node-gyp's Makefiles use it (a machine with make has it).
  const sed = execFileSync('sh', ['-c', 'command -v sed'], { encoding: 'utf8' }).trim();
  const bin = toolsBin(work, 'bin-broken', { python3: python, make, sed, cc: broken, gcc: broken, 'c++': broken, 'g++': broken });
  const env = toolEnv({ PATH: bin, npm_config_nodedir: nodedir, PYTHON: python });
  const dir = consumer(work, 'broken');
  const out = npmInstall(bin, dir, tarball, env);
  assert.match(out, /this compiler is broken on purpose/, 'node-gyp reached the compiler');
  assert.match(out, /perfprobe: the native addon is not installed: the C\+\+ build failed/);
  assert.ok(!existsSync(join(dir, 'node_modules', 'perfprobe', 'build', 'Release', 'perfprobe.node')), 'no binary left behind');
  assertFallback(firstImport(bin, dir, env), /the C\+\+ build failed/);
});
