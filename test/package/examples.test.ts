// Runs every script in examples/ as a user would (importing 'perfprobe'
// through the package's own "exports", so dist/ is compiled first), each in
// a child process with a temporary working directory.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HANG_GUARD_MS } from '../helpers/hang-guard.js';

const root = join(__dirname, '..', '..');
const examples = join(root, 'examples');

/** Newest modification time of the files under dir. */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

before(() => {
  // `npm test` compiles first; compile here only when dist/ is missing or older than src/,
  // so this file does not rewrite dist/ under other test files running at the same time.
  const entry = join(root, 'dist/index.mjs');
  const stale = !existsSync(entry) || !existsSync(join(root, 'dist/index.js')) || statSync(entry).mtimeMs < newest(join(root, 'src'));
  if (stale) {
    // tsc emits even when files elsewhere still have type errors; the ESM face is generated after.
    spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: root, stdio: 'ignore' });
    assert.ok(existsSync(join(root, 'dist/index.js')), 'tsc did not produce dist/index.js');
    const wrap = spawnSync(process.execPath, [join(root, 'scripts/esm-wrapper.mjs')], { cwd: root, encoding: 'utf8' });
    assert.equal(wrap.status, 0, wrap.stderr);
  }
});

function run(name: string): { stdout: string; cwd: string } {
  const cwd = mkdtempSync(join(tmpdir(), `perfprobe-example-${name}-`));
  const r = spawnSync(process.execPath, [join(examples, name)], {
    cwd,
    env: { ...process.env, PERFPROBE_EXPORT_DIR: join(cwd, 'exports'), PERFPROBE_NO_WARNINGS: '1' },
    encoding: 'utf8',
    timeout: HANG_GUARD_MS,
  });
  assert.equal(r.status, 0, `${name} exited ${r.status} (${r.signal ?? ''})\n${r.stdout}\n${r.stderr}`);
  return { stdout: r.stdout, cwd };
}

const expectations: Record<string, RegExp[]> = {
  'basic-timing.mjs': [/timer measured \d+\.\d+ ms/, /image_processing: 3 records, avg \d+\.\d+ ms, p95 \d+\.\d+ ms, success 100%/],
  'multi-stage-pipeline.mjs': [/export stage failed as expected: disk full/, /ai\s+ai_evaluation\s+\d+\.\d ms\s+success=true/, /success=false error=disk full/, /stages recorded: 4/],
  'memory-gpu-tracking.mjs': [/memory: \d+ of \d+ MiB used/, /gpu records: \d+/, /memory records: 1/],
  'background-monitoring.mjs': [/memory samples: \d+/, /process memory: current \d+\.\d MiB/],
  'statistics.mjs': [/Average duration: 298\.00ms/, /Success rate: 95\.0%/, /image_processing: 298\.00ms avg over 1000/, /thumbnail: 9\.00ms avg over 250/],
  'exporting.mjs': [/Exported to: .*metrics_\d{8}_\d{6}\.json/, /Exported to: .*processing_metrics_\d{8}_\d{6}\.csv/],
  'job-queue.mjs': [/jobs done 9, failed 3; recorded 12, success rate 75\.0%/, /failed: photo 1005 unreadable/],
};

test('every example has expectations', () => {
  assert.deepEqual(readdirSync(examples).filter((f) => f.endsWith('.mjs')).sort(), Object.keys(expectations).sort());
});

for (const [name, patterns] of Object.entries(expectations)) {
  test(`examples/${name} runs and prints what it did`, () => {
    const { stdout, cwd } = run(name);
    try {
      for (const p of patterns) assert.match(stdout, p);
      if (name === 'background-monitoring.mjs') {
        const n = Number(/memory samples: (\d+)/.exec(stdout)![1]);
        assert.ok(n >= 5, `only ${n} samples in 300 ms at 10 ms`);
      }
      if (name === 'exporting.mjs') {
        const files = readdirSync(join(cwd, 'exports'));
        const json = files.find((f) => f.endsWith('.json'))!;
        const doc = JSON.parse(readFileSync(join(cwd, 'exports', json), 'utf8'));
        assert.equal(doc.processing_metrics.length, 2);
        assert.equal(doc.processing_metrics[1].error_message, 'corrupt file');
        assert.ok(files.some((f) => f.endsWith('.csv')));
      }
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
}
