// The schema drives every writer and reader: record objects, JSON and CSV
// lines, CSV columns, the JSON reader, import checks, the GPU block decoder
// and the gauges all follow the tables in src/schema, and the
// hand-specialised processing writers write exactly what the compiled ones
// do. A field added to a schema shows up in every format (the last tests
// add one to a copy of a schema and watch it appear).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  GAUGE_SCALE,
  GPU_FIELDS,
  GPU_GAUGES,
  GPU_SCHEMA,
  GPU_SLOTS,
  GpuSlot,
  MEMORY_SCHEMA,
  PROCESSING_SCHEMA,
  field,
  objectLiteral,
  compile,
  recordSchema,
  sampleSchema,
  type GpuFieldSpec,
  type GpuReading,
  type ProcessingTimeMetric,
} from '../../src/schema/index.js';
import {
  CSV_COLUMNS,
  IsoParser,
  compileCsvLine,
  compileFromJson,
  compileJsonLine,
  readOwnLayout,
} from '../../src/exporters/files/index.js';
import { processingCsv, processingJson, processingText } from '../../src/exporters/files/record-text.js';
import { GpuRow, clocksEventReasonNames, decodeGpuBlock } from '../../src/probes/decode.js';
import { PerformanceMetricsCollector, PrometheusExporter } from '../../src/index.js';
import { tempDir } from '../helpers/export-helpers.js';

const quiet = { probes: { probeInfo: () => ({ addon: { loaded: false }, memory: { backend: 'node' as const }, gpu: { backend: 'none' as const } }) } };

/** Every combination of the optional processing fields, with awkward strings. */
function processingRecords(): ProcessingTimeMetric[] {
  const out: ProcessingTimeMetric[] = [];
  const strings = [null, 'job_001', '=1+2', 'a,"b"\nc', '-x', ''];
  let t = Date.UTC(2024, 0, 2, 3, 4, 5, 678) + 0.25;
  for (let mask = 0; mask < 32; mask++) {
    for (const s of strings) {
      out.push({
        timestamp: (t += 1.5),
        operation: mask % 3 ? 'decode' : 'say "hi", ok',
        durationMs: mask * 1.125 + 0.000001,
        photoId: mask & 1 ? 42 + mask : null,
        jobId: mask & 2 ? s : null,
        stage: mask & 4 ? s : null,
        success: (mask & 8) === 0,
        errorMessage: mask & 16 ? s : null,
      });
    }
  }
  return out;
}

test('schema: CSV columns, JSON keys and record keys are the schema fields, in order', async () => {
  for (const schema of [PROCESSING_SCHEMA, MEMORY_SCHEMA, GPU_SCHEMA]) {
    assert.deepEqual(CSV_COLUMNS[schema.type], schema.fields.map((f) => f.snake), schema.type);
  }
  const tmp = tempDir('perfprobe-schema-');
  try {
    const c = new PerformanceMetricsCollector({ exportDirectory: tmp.dir, enableGpuTracking: true }, quiet);
    const now = Date.now();
    c.importRecords({
      processing: [{ timestamp: now, operation: 'op', durationMs: 1, photoId: 7, jobId: 'j', stage: 's', success: false, errorMessage: 'e' }],
      memory: [{ timestamp: now, totalMb: 1, usedMb: 2, availableMb: 3, percent: 4, processMemoryMb: 5, operation: 'm' }],
      gpu: [{ timestamp: now, gpuId: 1, loadPercent: 2, memoryUsedMb: 3, memoryTotalMb: 4, memoryPercent: 5, temperatureCelsius: 6, powerWatts: 7, operation: 'g' }],
    });
    const records = { processing: [...c.processingRecords()], memory: [...c.memoryRecords()], gpu: [...c.gpuRecords()] };
    const path = await c.exportToJson();
    const own = (await readOwnLayout(path))!;
    for (const schema of [PROCESSING_SCHEMA, MEMORY_SCHEMA, GPU_SCHEMA]) {
      const rec = records[schema.type][0]!;
      assert.deepEqual(Object.keys(rec), schema.fields.map((f) => f.key), `${schema.type} record keys`);
      const line = (own[schema.arrayKey] as Array<Record<string, unknown>>)[0]!;
      assert.deepEqual(Object.keys(line), schema.fields.map((f) => f.snake), `${schema.type} JSON keys`);
      for (const f of schema.fields) {
        if (f.kind !== 'timestamp') assert.deepEqual(line[f.snake], (rec as unknown as Record<string, unknown>)[f.key], `${schema.type}.${f.snake}`);
      }
      const csv = readFileSync(await c.exportToCsv(schema.type), 'utf8').split('\r\n');
      assert.equal(csv[0], schema.fields.map((f) => f.snake).join(','));
      assert.equal(csv[1]!.split(',').length, schema.fields.length, `${schema.type} CSV cells`);
    }
    c.close();
  } finally {
    tmp.cleanup();
  }
});

test('schema: the hand-specialised processing JSON and CSV writers write what the schema-compiled ones write', () => {
  const json = compileJsonLine(PROCESSING_SCHEMA);
  const csv = compileCsvLine(PROCESSING_SCHEMA);
  const fast = processingText();
  const slow = processingText();
  let n = 0;
  for (const r of processingRecords()) {
    assert.equal(processingJson(r, fast), json(r, slow), `JSON of ${JSON.stringify(r)}`);
    assert.equal(processingCsv(r, fast), csv(r, slow), `CSV of ${JSON.stringify(r)}`);
    assert.deepEqual(JSON.parse(processingJson(r, fast)).success, r.success);
    n++;
  }
  assert.equal(n, 32 * 6);
});

test('schema: the JSON reader turns each written line back into the same record, checked field by field', () => {
  const t = processingText();
  const json = compileJsonLine(PROCESSING_SCHEMA);
  const from = compileFromJson(PROCESSING_SCHEMA);
  const iso = new IsoParser();
  for (const r of processingRecords()) {
    const back = from(JSON.parse(json(r, t)), 'processing_metrics[0]', iso);
    assert.deepEqual({ ...back, timestamp: 0 }, { ...r, timestamp: 0 });
    assert.ok(Math.abs(back.timestamp - r.timestamp) < 0.001);
  }
  // A missing nullable field reads as null; a missing required one is refused, named in JSON terms.
  const c = new PerformanceMetricsCollector({}, quiet);
  assert.throws(
    () => c.importRecords({ processing: [{ ...processingRecords()[0]!, success: undefined as never }] }),
    /^TypeError: processing\[0\]\.success must be a boolean, got undefined/,
  );
  assert.deepEqual(from({ timestamp: 0, operation: 'x', duration_ms: 1, success: true }, 'w', iso), {
    timestamp: 0, operation: 'x', durationMs: 1, photoId: null, jobId: null, stage: null, success: true, errorMessage: null,
  });
});

test('schema: every GPU field is decoded from its slot in its unit, into GpuReading in table order', () => {
  const data = new Float64Array(GPU_SLOTS).fill(NaN);
  for (const name of Object.keys(GpuSlot) as Array<keyof typeof GpuSlot>) data[GpuSlot[name]] = 1000 * (GpuSlot[name] + 1);
  data[GpuSlot.status] = 0;
  data[GpuSlot.eccModeCurrent] = 1; // ECC on: the group field is an object of its members
  const procs = [{ pid: 9, usedMemoryMb: 1, name: 'x', type: 'compute' as const, smUtilPercent: 1, memoryUtilPercent: 2, encoderUtilPercent: 3, decoderUtilPercent: 4, gpuInstanceId: null, computeInstanceId: null }];
  const r = decodeGpuBlock(data, 0, 3, 12345, { name: 'N', uuid: 'U' }, procs, null) as unknown as Record<string, unknown>;
  const rows = (GPU_FIELDS as readonly GpuFieldSpec[]).filter((f) => f.reading);
  assert.deepEqual(Object.keys(r), rows.map((f) => f.key));
  for (const f of rows) {
    const s = f.source;
    if ('slot' in s) assert.equal(r[f.key], data[GpuSlot[s.slot]]! / s.per, f.key);
    if ('percentOf' in s) assert.equal(r[f.key], ((r[s.percentOf[0]] as number) / (r[s.percentOf[1]] as number)) * 100, f.key);
    if ('reasonsOf' in s) assert.deepEqual(r[f.key], clocksEventReasonNames(data[GpuSlot.clocksEventReasons]!), f.key);
    if ('group' in s) {
      const slotOf = (k: string) => (GPU_FIELDS as readonly GpuFieldSpec[]).find((x) => x.key === k)!.source as { slot: keyof typeof GpuSlot };
      assert.deepEqual(r[f.key], Object.fromEntries(Object.entries(s.group).map(([name, k]) => [name, data[GpuSlot[slotOf(k).slot]]])), f.key);
    }
  }
  assert.deepEqual([r.timestamp, r.gpuId, r.name, r.uuid, r.status], [12345, 3, 'N', 'U', 'ok']);
  assert.deepEqual([r.processes, r.mig], [procs, null]);
  // Unsupported (NaN) slots are null, never 0.
  const unknown = decodeGpuBlock(new Float64Array(GPU_SLOTS).fill(NaN), 0, 0, 0) as unknown as Record<string, unknown>;
  for (const f of rows) if ('slot' in f.source || 'percentOf' in f.source || 'reasonsOf' in f.source || 'group' in f.source) assert.equal(unknown[f.key], null, f.key);
  assert.equal(unknown.status, 'error');
  // The row index of every numeric field is where the reading took it from.
  for (const f of rows) if ('slot' in f.source) assert.ok(GpuRow[f.key] !== undefined, f.key);
});

test('schema: every GPU gauge is exposed from the reading, and from the record when the record has the field', () => {
  const reading: GpuReading = {
    timestamp: Date.now(), gpuId: 0, name: 'G', uuid: 'U', loadPercent: 11, memoryUtilPercent: 12, memoryTotalMb: 13, memoryUsedMb: 14,
    memoryReservedMb: 15, memoryFreeMb: 16, memoryPercent: 17, temperatureCelsius: 18, powerWatts: 19, powerLimitWatts: 20, smClockMhz: 21,
    memoryClockMhz: 22, fanPercent: 23, performanceState: 2, clocksEventReasons: ['sw_power_cap'], memoryTemperatureCelsius: 25,
    encoderUtilPercent: 26, decoderUtilPercent: 27, pcieLinkGeneration: 5, pcieLinkWidth: 16,
    eccErrors: { correctedVolatile: 1, uncorrectedVolatile: 0, correctedAggregate: 2, uncorrectedAggregate: 0 },
    processGpuMemoryMb: 24, processes: [], mig: null, status: 'ok',
  };
  const c = new PerformanceMetricsCollector(
    { enableGpuTracking: true },
    { probes: { readGpusSync: () => [reading], probeInfo: () => ({ addon: { loaded: true }, memory: { backend: 'native' }, gpu: { backend: 'nvml' } }) } },
  );
  const live = new PrometheusExporter(c, { liveMemory: false }).render();
  const scale = GAUGE_SCALE;
  for (const g of GPU_GAUGES) {
    const v = (reading as unknown as Record<string, number>)[g.field]! * scale[g.convert];
    assert.match(live, new RegExp(`^${g.prometheus.name}\\{gpu="0",uuid="U",name="G"\\} ${v}$`, 'm'), g.prometheus.name);
  }
  c.recordGpuUsage();
  const fromRecords = new PrometheusExporter(c, { liveMemory: false, liveGpu: false }).render();
  const stored = new Set<string>(GPU_SCHEMA.fields.map((f) => f.key));
  for (const g of GPU_GAUGES) {
    assert.equal(new RegExp(`^${g.prometheus.name}\\{`, 'm').test(fromRecords), stored.has(g.field), `${g.prometheus.name} from records`);
  }
  c.close();
});

// ------------------------------------------------ adding a field to a schema

interface Extended {
  timestamp: number;
  loadPercent: number | null;
  eccErrorsCorrected: number | null;
  operation: string | null;
}

test('schema: a field added to a sample schema appears in its JSON line, CSV line, reader and checks', () => {
  const schema = sampleSchema<Extended>()('gpu', 'gpu_metrics', [
    field('timestamp', 'timestamp', 'timestamp', false, 'epoch ms', ''),
    field('loadPercent', 'load_percent', 'number', true, '%', ''),
    field('eccErrorsCorrected', 'ecc_errors_corrected', 'number', true, '', 'a new figure'),
    field('operation', 'operation', 'operation', true, '', ''),
  ]);
  assert.deepEqual(schema.column, { loadPercent: 0, eccErrorsCorrected: 1 });
  const r: Extended = { timestamp: Date.UTC(2024, 0, 1), loadPercent: 5, eccErrorsCorrected: 3, operation: null };
  const t = processingText();
  const line = compileJsonLine(schema)(r, t);
  assert.equal(line, '{"timestamp":"2024-01-01T00:00:00.000000Z","load_percent":5,"ecc_errors_corrected":3,"operation":null}');
  assert.equal(compileCsvLine(schema)(r, t), '2024-01-01T00:00:00.000000Z,5,3,\r\n');
  assert.deepEqual(compileFromJson(schema)(JSON.parse(line), 'gpu_metrics[0]', new IsoParser()), r);
  // A record schema must name every key of its record type: this line would not compile without eccErrorsCorrected.
  const complete = recordSchema<Pick<Extended, 'timestamp' | 'eccErrorsCorrected'>>()('gpu', 'x', [
    field('timestamp', 'timestamp', 'timestamp', false, '', ''),
    field('eccErrorsCorrected', 'ecc', 'number', true, '', ''),
  ]);
  assert.equal(complete.fields.length, 2);
});

test('schema: dotted keys build nested objects in compiled builders (for nested GPU fields)', () => {
  const build = compile<(a: number, b: number, c: number) => unknown>(
    'nested',
    ['a', 'b', 'c'],
    `return ${objectLiteral([['x', 'a'], ['eccErrors.corrected', 'b'], ['y', 'a + 1'], ['eccErrors.uncorrected', 'c']])};`,
  );
  assert.deepEqual(build(1, 2, 3), { x: 1, eccErrors: { corrected: 2, uncorrected: 3 }, y: 2 });
  assert.deepEqual(Object.keys(build(1, 2, 3) as object), ['x', 'eccErrors', 'y']);
  assert.throws(() => objectLiteral([['not-an-identifier', '1']]), /not a plain identifier/);
});
