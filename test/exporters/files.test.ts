// JSON and CSV files: round trip (export then import gives the same records
// and statistics), naming, directory creation, no clobbering, RFC 4180 and
// formula neutralisation, and failures that reject naming path and cause
// while leaving no partial file and the metrics untouched.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { csvText, exportCsv, exportJson, CSV_COLUMNS } from '../../src/exporters/index.js';
import { csvNum, fileStamp, readOwnLayout } from '../../src/exporters/files/index.js';
import { newCollector, tempDir } from '../helpers/export-helpers.js';

const tmp = tempDir();
after(() => tmp.cleanup());

function seeded(dir: string) {
  const c = newCollector({ exportDirectory: dir, enableGpuTracking: true });
  for (let i = 0; i < 300; i++) {
    c.recordProcessingTime(['decode', 'ai_evaluation', 'preset,"selection"'][i % 3]!, (i * 7.31) % 97, {
      photoId: i,
      jobId: i % 2 ? 'job_001' : undefined,
      stage: i % 5 ? 'exif' : undefined,
      success: i % 11 !== 0,
      errorMessage: i % 11 === 0 ? `failed\n"line" ${i}` : undefined,
    });
  }
  // Records without any metadata (the exporters' fast path).
  for (let i = 0; i < 30; i++) c.recordProcessingTime('bare', i / 7);
  c.recordMemoryUsage('batch');
  c.recordMemoryUsage();
  const now = Date.now();
  c.importRecords({
    gpu: [0, 1, 2].map((k) => ({
      timestamp: now - 1000 + k,
      gpuId: k % 2,
      loadPercent: k === 2 ? null : 10 * k,
      memoryUsedMb: 500 + k,
      memoryTotalMb: 81559,
      memoryPercent: (500 + k) / 815.59,
      temperatureCelsius: -5 + k,
      powerWatts: k === 1 ? null : 120.25,
      operation: k === 0 ? 'ai_inference' : null,
    })),
  });
  return c;
}

function sameRecords<T extends { timestamp: number }>(a: T[], b: T[]): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    const { timestamp: ta, ...ra } = a[i]!;
    const { timestamp: tb, ...rb } = b[i]!;
    assert.deepEqual(rb, ra, `record ${i}`);
    assert.ok(Math.abs(ta - tb) < 0.001, `timestamp ${i}: ${ta} vs ${tb} (microsecond precision in the file)`);
  }
}

test('export then import gives the same records and the same statistics', async () => {
  const dir = join(tmp.dir, 'roundtrip');
  const c = seeded(dir);
  const path = await c.exportToJson();
  assert.match(path, /metrics_\d{8}_\d{6}(_\d+)?\.json$/);
  const doc = JSON.parse(readFileSync(path, 'utf8'));
  assert.deepEqual(Object.keys(doc), ['export_time', 'perfprobe_version', 'processing_metrics', 'memory_metrics', 'gpu_metrics', 'summary']);
  assert.deepEqual(Object.keys(doc.summary), ['operations', 'processing_stats', 'memory_stats', 'gpu_stats']);
  assert.deepEqual(Object.keys(doc.processing_metrics[0]), ['timestamp', 'operation', 'duration_ms', 'photo_id', 'job_id', 'stage', 'success', 'error_message']);
  assert.deepEqual(Object.keys(doc.gpu_metrics[0]), ['timestamp', 'gpu_id', 'load_percent', 'memory_used_mb', 'memory_total_mb', 'memory_percent', 'temperature_celsius', 'power_watts', 'performance_state', 'memory_temperature_celsius', 'encoder_util_percent', 'decoder_util_percent', 'operation']);
  assert.match(doc.processing_metrics[0].timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.equal(doc.summary.processing_stats.count, 330);
  assert.equal(doc.processing_metrics.length, 330);
  assert.deepEqual(doc.processing_metrics.at(-1), { ...doc.processing_metrics.at(-1), operation: 'bare', photo_id: null, job_id: null, stage: null, success: true, error_message: null });
  assert.equal(doc.processing_metrics.at(-1).duration_ms, 29 / 7);

  const d = newCollector({ exportDirectory: dir, enableGpuTracking: true });
  await d.importFromJson(path);
  sameRecords([...d.processingRecords()], [...c.processingRecords()]);
  sameRecords([...d.memoryRecords()], [...c.memoryRecords()]);
  sameRecords([...d.gpuRecords()], [...c.gpuRecords()]);
  assert.deepEqual(d.getProcessingTimeStats(), c.getProcessingTimeStats());
  for (const op of ['decode', 'ai_evaluation', 'bare']) {
    assert.deepEqual(d.getProcessingTimeStats({ operation: op }), c.getProcessingTimeStats({ operation: op }));
  }
  assert.deepEqual(d.getOperationSummary(), c.getOperationSummary());
  assert.deepEqual(d.getMemoryUsageStats(), c.getMemoryUsageStats());
  assert.deepEqual(d.getGpuUsageStats(), c.getGpuUsageStats());
  assert.deepEqual(d.getGpuUsageStats({ gpuId: 1 }), c.getGpuUsageStats({ gpuId: 1 }));

  // The file is read line by line (own layout) and gives what JSON.parse gives.
  assert.deepEqual(await readOwnLayout(path), doc);
  // A re-formatted file (pretty-printed by some tool) falls back to JSON.parse and imports the same.
  const pretty = join(dir, 'pretty.json');
  writeFileSync(pretty, JSON.stringify(doc, null, 2));
  assert.equal(await readOwnLayout(pretty), null);
  const e = newCollector({ exportDirectory: dir, enableGpuTracking: true });
  await e.importFromJson(pretty);
  assert.deepEqual(e.getProcessingTimeStats(), c.getProcessingTimeStats());
  assert.deepEqual(e.getGpuUsageStats(), c.getGpuUsageStats());
});

test('records added while an export runs never enter it, even when the ring wraps', async () => {
  // The summary is computed when exportToJson()/exportToCsv() is called; the
  // record iterators used to start only after the file was opened, so records
  // pushed meanwhile were written in place of older ones the ring had evicted
  // (the file then held operations the summary never counted).
  const dir = join(tmp.dir, 'wrap');
  const c = newCollector({ exportDirectory: dir, maxHistorySize: 1000 });
  for (let i = 0; i < 1000; i++) c.recordProcessingTime('before', i);
  const json = c.exportToJson();
  const csv = c.exportToCsv('processing');
  for (let i = 0; i < 400; i++) c.recordProcessingTime('after', 1);
  const doc = JSON.parse(readFileSync(await json, 'utf8'));
  assert.equal(doc.summary.processing_stats.count, 1000);
  assert.deepEqual(doc.summary.operations.map((o: { operation: string }) => o.operation), ['before']);
  // The 400 oldest were evicted meanwhile; the export's snapshot read them out first (src/store/ring.ts), so all
  // 1000 are written, in order, and nothing else (issue 10: never a silently short file).
  assert.deepEqual(
    doc.processing_metrics.map((r: { operation: string; duration_ms: number }) => `${r.operation}${r.duration_ms}`),
    Array.from({ length: 1000 }, (_, i) => `before${i}`),
  );
  const rows = readFileSync(await csv, 'utf8').trim().split('\r\n').slice(1);
  assert.deepEqual(rows.map((r) => r.split(',')[1]), Array(1000).fill('before'));
});

test('a bad file is refused naming the field, and imports nothing', async () => {
  const dir = join(tmp.dir, 'bad');
  mkdirSync(dir, { recursive: true });
  const c = newCollector({ exportDirectory: dir });
  c.recordProcessingTime('keep', 1);
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ processing_metrics: [
    { timestamp: '2026-01-01T00:00:00.000000Z', operation: 'x', duration_ms: 1, success: true },
    { timestamp: 'yesterday', operation: 'x', duration_ms: 1, success: true },
  ] }));
  await assert.rejects(c.importFromJson(bad), /processing_metrics\[1\]\.timestamp must be a valid ISO-8601 timestamp, got "yesterday"/);
  writeFileSync(bad, '{"processing_metrics": [');
  await assert.rejects(c.importFromJson(bad), (e: Error) => e.message.includes(bad) && /JSON/.test(e.message));
  await assert.rejects(c.importFromJson(join(dir, 'missing.json')), /ENOENT/);
  assert.equal(c.getProcessingTimeStats().count, 1);
});

test('the directory is created if missing; an existing name gets a suffix and is never overwritten', async () => {
  const dir = join(tmp.dir, 'a', 'b', 'c');
  const c = seeded(dir);
  assert.equal(existsSync(dir), false);
  // Occupy the names of this second and the next two, so the export must pick a suffix.
  mkdirSync(dir, { recursive: true });
  const t = Date.now();
  const taken = [0, 1000, 2000].map((dt) => join(dir, `metrics_${fileStamp(new Date(t + dt))}.json`));
  for (const p of taken) writeFileSync(p, 'occupied');
  const path = await exportJson(c as never, dir);
  assert.match(path, /metrics_\d{8}_\d{6}_1\.json$/);
  for (const p of taken) assert.equal(readFileSync(p, 'utf8'), 'occupied');
  const second = await exportCsv(c as never, 'gpu', dir);
  const third = await exportCsv(c as never, 'gpu', dir);
  assert.notEqual(second, third);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

/** Minimal RFC 4180 parser (quoted fields, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (q) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') q = false;
      else cell += ch;
    } else if (ch === '"') q = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += ch;
  }
  assert.equal(q, false, 'unterminated quote');
  assert.equal(cell + row.join(''), '', 'file ends with CRLF');
  return rows;
}

test('CSV: header, RFC 4180 quoting, ISO-8601 timestamps, one row per record', async () => {
  const dir = join(tmp.dir, 'csv');
  const c = seeded(dir);
  const path = await c.exportToCsv('processing');
  assert.match(path, /processing_metrics_\d{8}_\d{6}(_\d+)?\.csv$/);
  const rows = parseCsv(readFileSync(path, 'utf8'));
  assert.deepEqual(rows[0], [...CSV_COLUMNS.processing]);
  const records = [...c.processingRecords()];
  assert.equal(rows.length - 1, records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const row = rows[i + 1]!;
    assert.ok(Math.abs(Date.parse(row[0]!) - r.timestamp) < 1, row[0]);
    assert.match(row[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.equal(row[1], r.operation);
    assert.ok(Math.abs(Number(row[2]) - r.durationMs) <= 5e-7, `${row[2]} vs ${r.durationMs}`);
    assert.match(row[2]!, /^\d+(\.\d{1,6})?$/);
    assert.equal(row[3], r.photoId === null ? '' : String(r.photoId));
    assert.equal(row[4], r.jobId ?? '');
    assert.equal(row[6], String(r.success));
    assert.equal(row[7], r.errorMessage ?? '');
  }
  const gpuRows = parseCsv(readFileSync(await c.exportToCsv('gpu'), 'utf8'));
  assert.deepEqual(gpuRows[0], [...CSV_COLUMNS.gpu]);
  assert.equal(gpuRows.length, 4);
  assert.equal(gpuRows[1]![6], '-5', 'negative numbers stay numeric');
  assert.equal(gpuRows[3]![2], '', 'null is an empty cell');
  const memRows = parseCsv(readFileSync(await c.exportToCsv('memory'), 'utf8'));
  assert.deepEqual(memRows[0], [...CSV_COLUMNS.memory]);
  assert.equal(memRows.length, 3);
});

test('CSV numbers: at most 6 decimals, exact integers, negatives stay numeric', () => {
  const cases: Array<[number | null, string]> = [
    [5, '5'], [12.3456789, '12.345679'], [0.05, '0.05'], [-3.25, '-3.25'], [-0.5, '-0.5'], [1e-7, '0'],
    [0.000001, '0.000001'], [1.0000004, '1'], [99.9999996, '100'], [-1e-7, '0'], [2 ** 60, String(2 ** 60)],
    [1e300 / 3, String(1e300 / 3)], [null, ''], [NaN, ''], [Infinity, ''],
  ];
  for (const [input, expected] of cases) assert.equal(csvNum(input), expected, String(input));
  for (let i = 0; i < 10_000; i++) {
    const x = (Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 8);
    assert.ok(Math.abs(Number(csvNum(x)) - x) <= 5e-7 * (1 + Math.abs(x) * 1e-9), `${x} -> ${csvNum(x)}`);
  }
});

test('CSV: cells beginning with = + - @ tab or CR are neutralised; numbers are not', async () => {
  for (const [input, expected] of [
    ['=HYPERLINK("http://x")', `"'=HYPERLINK(""http://x"")"`],
    ['+1+1', `"'+1+1"`],
    ['-2+3', `"'-2+3"`],
    ['@SUM(A1)', `"'@SUM(A1)"`],
    ['\tcmd', `"'\tcmd"`],
    ['\rcmd', `"'\rcmd"`],
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['', ''],
  ] as const) {
    assert.equal(csvText(input), expected, JSON.stringify(input));
  }
  const dir = join(tmp.dir, 'inject');
  const c = newCollector({ exportDirectory: dir });
  c.recordProcessingTime('=1+2', 4, { jobId: '@evil', stage: '-3', errorMessage: '+cmd|calc', success: false });
  const rows = parseCsv(readFileSync(await c.exportToCsv('processing'), 'utf8'));
  assert.deepEqual(rows[1]!.slice(1), ["'=1+2", '4', '', "'@evil", "'-3", 'false', "'+cmd|calc"]);
});

test('an unwritable directory rejects naming the path and the cause; metrics untouched', async () => {
  const dir = join(tmp.dir, 'blocked');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'file'), 'x');
  const target = join(dir, 'file', 'sub'); // a path under a regular file: ENOTDIR, even for root
  const c = seeded(target);
  const before = JSON.stringify([c.getProcessingTimeStats(), c.getMemoryUsageStats(), c.getGpuUsageStats()]);
  await assert.rejects(c.exportToJson(), (e: Error & { code?: string; path?: string }) => {
    assert.equal(e.code, 'ERR_PERFPROBE_EXPORT_FAILED');
    assert.ok(e.message.includes(target), e.message);
    assert.match(e.message, /ENOTDIR|EEXIST/);
    assert.ok(e.path?.startsWith(target));
    return true;
  });
  await assert.rejects(c.exportToCsv('processing'), /ENOTDIR|EEXIST/);
  assert.equal(JSON.stringify([c.getProcessingTimeStats(), c.getMemoryUsageStats(), c.getGpuUsageStats()]), before);
});

test('a stream that fails midway leaves no partial file (records read as objects, or from the columns)', async () => {
  const dir = join(tmp.dir, 'failing');
  const c = seeded(dir);
  const failAt150 = <T>(records: Iterable<T>) =>
    (function* () {
      let n = 0;
      for (const r of records) {
        if (++n === 150) throw Object.assign(new Error('simulated read failure'), { code: 'EIO' });
        yield r;
      }
    })();
  // A source without processingSlots (the exports then read record objects), and the collector's own (slots).
  const objects = Object.create(c) as typeof c;
  objects.processingRecords = (() => failAt150(c.processingRecords())) as never;
  (objects as { processingSlots?: unknown }).processingSlots = undefined;
  const slots = Object.create(c) as typeof c;
  slots.processingSlots = (<T>(read: Parameters<typeof c.processingSlots<T>>[0]) => failAt150(c.processingSlots(read))) as never;
  for (const failing of [objects, slots]) {
    await assert.rejects(exportJson(failing as never, dir), (e: Error) => {
      assert.ok(e.message.includes(join(dir, 'metrics_')), e.message);
      assert.match(e.message, /EIO: simulated read failure/);
      return true;
    });
    assert.deepEqual(readdirSync(dir), []);
  }
  assert.equal(c.getProcessingTimeStats().count, 330);
});

test('disk full (a 64 KiB tmpfs): rejects with ENOSPC, no partial file, metrics untouched', async (t) => {
  const mnt = join(tmp.dir, 'tmpfs');
  mkdirSync(mnt, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { stdio: 'ignore' });
  } catch {
    t.skip('cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN); the failing-stream test covers the cleanup');
    return;
  }
  try {
    const c = seeded(mnt);
    for (let i = 0; i < 2000; i++) c.recordProcessingTime('fill_the_disk_with_a_long_operation_name', i);
    const before = c.getProcessingTimeStats().count;
    await assert.rejects(c.exportToJson(), (e: Error) => {
      assert.ok(e.message.includes(mnt), e.message);
      assert.match(e.message, /ENOSPC/);
      return true;
    });
    await assert.rejects(c.exportToCsv('processing'), /ENOSPC/);
    assert.deepEqual(readdirSync(mnt), []);
    assert.equal(c.getProcessingTimeStats().count, before);
    // A small export still fits afterwards: the space was given back.
    const small = newCollector({ exportDirectory: mnt });
    small.recordProcessingTime('ok', 1);
    assert.ok(existsSync(await small.exportToJson()));
  } finally {
    execFileSync('umount', [mnt], { stdio: 'ignore' });
  }
});

test('an empty collector exports empty arrays and imports back to nothing', async () => {
  const dir = join(tmp.dir, 'empty');
  const c = newCollector({ exportDirectory: dir });
  const path = await c.exportToJson();
  const doc = await readOwnLayout(path);
  assert.ok(doc, 'own layout recognised');
  assert.deepEqual([doc.processing_metrics, doc.memory_metrics, doc.gpu_metrics], [[], [], []]);
  assert.deepEqual(doc, JSON.parse(readFileSync(path, 'utf8')));
  assert.equal((doc.summary as { processing_stats: { count: number } }).processing_stats.count, 0);
  const d = newCollector({ exportDirectory: dir });
  await d.importFromJson(path);
  assert.equal(d.getProcessingTimeStats().count, 0);
});
