// src/collector/auto-export.ts: periodic exports, the export on exit and on SIGTERM, no overlap, and
// timers that never keep the process alive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PerformanceMetricsCollector } from '../../src/index.js';
import { quiet, runChild } from '../helpers/collector-helpers.js';
import { pollUntil } from '../helpers/hang-guard.js';

test('monitoring and auto-export timers never keep the process alive', () => {
  const r = runChild(`
    import perfprobe from @SRC@; const { PerformanceMetricsCollector } = perfprobe;
    const c = new PerformanceMetricsCollector({ memorySampleIntervalMs: 5, autoExportIntervalSec: 3600 });
    c.startMonitoring();
    console.log('started', c.monitoring);
  `);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /started true/); // and it exited (status 0): a timer holding it would have run into the hang guard
});

test('autoExportIntervalSec writes JSON exports periodically; exportOnExit writes one on normal exit and on SIGTERM', () => {
  const auto = runChild(`
    import perfprobe from @SRC@; const { PerformanceMetricsCollector } = perfprobe;
    import { readdirSync } from 'node:fs';
    const c = new PerformanceMetricsCollector({ exportDirectory: process.env.EXPORT_DIR + '/out', autoExportIntervalSec: 0.05 });
    c.recordProcessingTime('tick', 1);
    // Until the first periodic export has landed (however long a loaded machine takes; the test's child runner bounds a hang).
    const jsonFiles = () => { try { return readdirSync(process.env.EXPORT_DIR + '/out').filter((f) => f.endsWith('.json')).length; } catch { return 0; } };
    while (jsonFiles() === 0) await new Promise((r) => setTimeout(r, 20));
    console.log('files', jsonFiles());
    c.close();
  `);
  assert.equal(auto.status, 0, auto.stderr);
  assert.match(auto.stdout, /files [1-9]/);

  const onExit = runChild(`
    import perfprobe from @SRC@; const { PerformanceMetricsCollector } = perfprobe;
    const c = new PerformanceMetricsCollector({ exportDirectory: process.env.EXPORT_DIR + '/out', exportOnExit: true });
    c.recordProcessingTime('final', 1);
  `);
  assert.equal(onExit.status, 0, onExit.stderr);
  const dir = (onExit as unknown as { dir: string }).dir;
  const files = readdirSync(join(dir, 'out')).filter((f) => f.endsWith('.json'));
  assert.equal(files.length, 1);
  assert.equal(JSON.parse(readFileSync(join(dir, 'out', files[0]), 'utf8')).processing_metrics[0].operation, 'final');

  const term = runChild(`
    import perfprobe from @SRC@; const { PerformanceMetricsCollector } = perfprobe;
    const c = new PerformanceMetricsCollector({ exportDirectory: process.env.EXPORT_DIR + '/out', exportOnExit: true });
    c.recordProcessingTime('killed', 1);
    setInterval(() => {}, 1000);
    setTimeout(() => process.kill(process.pid, 'SIGTERM'), 50);
  `);
  assert.equal(term.signal, 'SIGTERM', `status ${term.status} ${term.stderr}`);
  const tdir = (term as unknown as { dir: string }).dir;
  const tfiles = readdirSync(join(tdir, 'out')).filter((f) => f.endsWith('.json'));
  assert.equal(tfiles.length, 1);
  assert.equal(JSON.parse(readFileSync(join(tdir, 'out', tfiles[0]), 'utf8')).processing_metrics[0].operation, 'killed');
});

test('automatic exports never overlap: a tick while one is still being written is skipped', async () => {
  // Each tick used to start a new export whatever was in flight, so a history
  // that takes longer to write than the interval piled up concurrent exports
  // (memory and files without bound).
  const c = new PerformanceMetricsCollector({ autoExportIntervalSec: 0.005 }, quiet);
  let calls = 0;
  let finish: (path: string) => void = () => {};
  c.exportToJson = () => {
    calls++;
    return new Promise<string>((resolve) => (finish = resolve));
  };
  try {
    await pollUntil('the first automatic export', () => calls > 0, 5);
    assert.equal(calls, 1);
    // Many more ticks pass while the first export is pending.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(calls, 1, 'no second export while the first is in flight');
    finish('done');
    await pollUntil('the next automatic export', () => calls > 1, 5);
    assert.equal(calls, 2, 'the next tick after it finished exports again');
  } finally {
    c.close();
    finish('done');
  }
});
