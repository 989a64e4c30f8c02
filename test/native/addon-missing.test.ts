// When the addon cannot load, `import 'perfprobe'` still works on the
// fallback probes and emits exactly ONE warning with code
// PERFPROBE_ADDON_UNAVAILABLE that says what was tried and how to fix it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeLoadFailure } from '../../src/native/binding.js';

const root = join(__dirname, '..', '..');

// Child: imports the whole library, uses every probe twice, counts warnings.
const childCode = `
const warnings = [];
process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }));
const pp = require(${JSON.stringify(join(root, 'src', 'index.ts'))});
require(${JSON.stringify(join(root, 'src', 'probes', 'index.ts'))});
const m = pp.readMemory(); pp.readMemory();
const s = new pp.Sampler({ intervalMs: 5 }).start();
setTimeout(() => {
  const batch = s.drain(); s.stop();
  const info = pp.probeInfo(); pp.probeInfo();
  setImmediate(() => console.log(JSON.stringify({ warnings: warnings.filter((w) => w.code && w.code.startsWith('PERFPROBE_ADDON')), info, totalMb: m.totalMb, backend: s.backend, count: batch.count })));
}, 40);
`;

function runChild(env: Record<string, string>) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', childCode], {
    cwd: root,
    encoding: 'utf8',
    timeout: 300_000, // a hang detector only: the child's work is bounded, and at load 60 tsx alone takes seconds
    env: { ...process.env, PERFPROBE_NO_WARNINGS: '', ...env },
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { ...out, stderr: r.stderr };
}

function assertFallbackWorks(out: any) {
  assert.equal(out.info.addon.loaded, false);
  assert.equal(out.info.memory.backend, 'node');
  assert.ok(out.totalMb > 64);
  assert.equal(out.backend, 'timer');
  assert.ok(out.count >= 1);
}

test('a missing binary: import works, exactly one warning naming the file', () => {
  const out = runChild({ PERFPROBE_ADDON: '/nonexistent/perfprobe.node' });
  assertFallbackWorks(out);
  assert.equal(out.warnings.length, 1, JSON.stringify(out.warnings));
  assert.equal(out.warnings[0].code, 'PERFPROBE_ADDON_UNAVAILABLE');
  assert.match(out.warnings[0].message, /tried: \/nonexistent\/perfprobe\.node/);
  assert.match(out.warnings[0].message, /likely cause and fix: the file named by PERFPROBE_ADDON does not exist/);
  assert.match(out.info.addon.error, /Cannot find module/);
  assert.equal((out.stderr.match(/PERFPROBE_ADDON_UNAVAILABLE/g) ?? []).length, 1, 'printed once');
});

test('no build and no prebuild for the platform: the warning says how to build', () => {
  const empty = mkdtempSync(join(tmpdir(), 'perfprobe-noaddon-'));
  try {
    writeFileSync(join(empty, 'package.json'), '{"name":"perfprobe"}');
    const out = runChild({ PERFPROBE_ADDON: empty });
    assertFallbackWorks(out);
    assert.equal(out.warnings.length, 1);
    const msg: string = out.warnings[0].message;
    assert.match(msg, new RegExp(`tried: .*build/Release.*prebuilds/${process.platform}-${process.arch}`));
    assert.match(msg, /likely cause and fix: no prebuilt binary for .*npm rebuild perfprobe/);
    assert.match(msg, /ABI mismatch/, 'other causes are listed too');
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('a corrupt binary (wrong format): one warning pointing at the platform', () => {
  const dir = mkdtempSync(join(tmpdir(), 'perfprobe-badaddon-'));
  try {
    const file = join(dir, 'perfprobe.node');
    writeFileSync(file, 'this is not a shared library');
    const out = runChild({ PERFPROBE_ADDON: file });
    assertFallbackWorks(out);
    assert.equal(out.warnings.length, 1);
    assert.match(out.warnings[0].message, /likely cause and fix: the binary was built for another platform/);
    assert.equal(out.info.addon.path, file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('node-gyp-build missing (a copied or bundled dist): the warning names the dependency, not PERFPROBE_ADDON', () => {
  const err = new Error("Cannot find module 'node-gyp-build'\nRequire stack:\n- /app/dist/native/binding.js");
  const msg = describeLoadFailure(['/app/build/Release', '/app/prebuilds/linux-x64'], err);
  assert.match(msg, /error: Cannot find module 'node-gyp-build'$/m);
  assert.match(msg, /likely cause and fix: perfprobe's dependency node-gyp-build is missing .*npm install.*external/);
  assert.doesNotMatch(msg.split('other causes')[0]!, /PERFPROBE_ADDON does not exist/);
  // A missing file named by PERFPROBE_ADDON keeps its own cause.
  assert.match(describeLoadFailure(['/x/perfprobe.node'], new Error("Cannot find module '/x/perfprobe.node'")), /likely cause and fix: the file named by PERFPROBE_ADDON does not exist/);
});

test('PERFPROBE_ADDON=0 forces the fallback without a warning', () => {
  const out = runChild({ PERFPROBE_ADDON: '0' });
  assertFallbackWorks(out);
  assert.equal(out.warnings.length, 0);
  assert.match(out.info.addon.error, /PERFPROBE_ADDON=0/);
  assert.match(out.info.memory.reason, /PERFPROBE_ADDON=0/);
});

test('PERFPROBE_NO_WARNINGS=1 silences the warning', () => {
  const out = runChild({ PERFPROBE_ADDON: '/nonexistent/perfprobe.node', PERFPROBE_NO_WARNINGS: '1' });
  assertFallbackWorks(out);
  assert.equal(out.warnings.length, 0);
  assert.doesNotMatch(out.stderr, /PERFPROBE_ADDON_UNAVAILABLE/);
});
