// The file methods the exporters layer attaches to the collector (src/exporters/files/methods.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceMetricsCollector } from '../../src/index.js';
import { quiet } from '../helpers/collector-helpers.js';

test('exportToJson / exportToCsv / importFromJson delegate to the file exporters', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'perfprobe-collector-'));
  try {
    const c = new PerformanceMetricsCollector({ exportDirectory: dir }, quiet);
    c.recordProcessingTime('decode', 12.5, { photoId: 1 });
    const jsonPath = await c.exportToJson();
    const doc = JSON.parse(readFileSync(jsonPath, 'utf8'));
    assert.equal(doc.processing_metrics[0].operation, 'decode');
    const csvPath = await c.exportToCsv('processing');
    assert.match(readFileSync(csvPath, 'utf8'), /decode/);
    await assert.rejects(async () => c.exportToCsv('nope' as never), RangeError);
    const other = new PerformanceMetricsCollector({}, quiet);
    await other.importFromJson(jsonPath);
    assert.equal(other.getProcessingTimeStats().count, 1);
    c.close();
    other.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
