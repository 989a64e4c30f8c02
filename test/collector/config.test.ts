// Collector configuration (src/collector/config.ts): defaults, read-only, all-or-nothing updateConfig.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceMetricsCollector } from '../../src/index.js';
import { quiet } from '../helpers/collector-helpers.js';

test('config: defaults, read-only, and updateConfig is all-or-nothing', () => {
  const c = new PerformanceMetricsCollector({}, quiet);
  assert.deepEqual({ ...c.config }, {
    maxHistorySize: 10_000, autoExportIntervalSec: 0, exportDirectory: 'data/metrics', enableGpuTracking: true,
    enableMemoryTracking: true, memorySampleIntervalMs: 60_000, maxOperations: 10_000, exportOnExit: false,
  });
  assert.ok(Object.isFrozen(c.config));
  assert.equal(Reflect.set(c.config, 'maxHistorySize', 5), false);
  assert.equal(c.config.maxHistorySize, 10_000);
  assert.throws(() => c.updateConfig({ maxHistorySize: 50, enableGpuTracking: 'no' } as never), TypeError);
  assert.equal(c.config.maxHistorySize, 10_000, 'valid keys before a bad one are not applied');
  for (let i = 0; i < 100; i++) c.recordProcessingTime('op', i);
  c.updateConfig({ maxHistorySize: 50 });
  assert.equal(c.config.maxHistorySize, 50);
  const s = c.getProcessingTimeStats();
  assert.equal(s.count, 50);
  assert.equal(s.minDurationMs, 50, 'the oldest were dropped at once');
  c.close();
});
