// `npm run test:native` under `npm test`: the native core and its tests built
// with AddressSanitizer + UndefinedBehaviorSanitizer, run, and checked for
// any sanitizer report (scripts/test-native.mjs). Needs cmake and a C++
// compiler: fails without them in CI, skips elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const have = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const missing = [have('cmake') ? '' : 'cmake', ['c++', 'g++', 'clang++'].some(have) ? '' : 'a C++ compiler'].filter(Boolean);

// The limits below are hang detectors: a first build with ASan takes minutes
// on an idle 2-core machine and many times that at load 60.
test('native tests pass under ASan and UBSan with no sanitizer report', { timeout: 1_800_000 }, (t) => {
  if (missing.length > 0) {
    if (process.env.CI === 'true') assert.fail(`test:native needs ${missing.join(' and ')} (install cmake g++)`);
    t.skip(`needs ${missing.join(' and ')}`);
    return;
  }
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'test-native.mjs')], {
    cwd: root,
    encoding: 'utf8',
    timeout: 1_790_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(r.status, 0, output.slice(-6000));
  assert.match(output, /all native tests passed with no sanitizer report/);
  const summary = /(\d+) passed, (\d+) failed/.exec(output);
  assert.ok(summary, 'the native test runner printed its summary');
  assert.equal(Number(summary[2]), 0);
  assert.ok(Number(summary[1]) >= 8, `only ${summary[1]} native tests ran`);
  assert.match(output, /\[ {2}OK {2}\] SamplerOverflowDropsOldestAndCountsDrops/);
  assert.match(output, /\[ {2}OK {2}\] MemoryAgreesWithProcFilesReadIndependently|\[ {2}OK {2}\] MemoryReadsPlausibleValues/);
});
