/**
 * JSON and CSV files: what the collector's exportToJson(), exportToCsv() and
 * importFromJson() delegate to.
 *
 * - Streamed: records are turned into text in chunks of 64 KiB (smaller chunks measured less RSS growth: fewer long-lived string ropes promoted) and each
 *   chunk is awaited before the next is built (backpressure), so 1,000,000
 *   records never become one string.
 * - Atomic: written to a temporary file in the target directory, fsync'ed,
 *   then linked to its final name (no clobbering: a suffix is added when the
 *   name exists) and the temporary name removed. A failed export rejects with
 *   an error naming the path and the cause, and leaves no file behind.
 * - Format: docs/ARCHITECTURE.md "JSON export format" (snake_case, ISO-8601
 *   UTC timestamps with microseconds).
 */
import { promises as fsp } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type {
  GpuUsageMetric,
  GpuUsageStats,
  MemoryUsageMetric,
  MemoryUsageStats,
  MetricType,
  OperationSummary,
  ProcessingTimeMetric,
  ProcessingTimeStats,
  RecordQuery,
} from '../collector/types.js';
import { rangeError, typeError } from '../errors.js';

/** The collector methods the file exporters use (structural, to avoid an import cycle). */
export interface ExportSource {
  /** Takes in the native sampler's pending records (called first when present). */
  ingestSamples?(): unknown;
  processingRecords(query?: RecordQuery & { operation?: string }): Iterable<ProcessingTimeMetric>;
  memoryRecords(query?: RecordQuery): Iterable<MemoryUsageMetric>;
  gpuRecords(query?: RecordQuery & { gpuId?: number }): Iterable<GpuUsageMetric>;
  getProcessingTimeStats(query?: { operation?: string; durationMinutes?: number }): ProcessingTimeStats;
  getMemoryUsageStats(query?: { durationMinutes?: number }): MemoryUsageStats;
  getGpuUsageStats(query?: { gpuId?: number; durationMinutes?: number }): GpuUsageStats;
  getOperationSummary(query?: { durationMinutes?: number }): OperationSummary[];
}

/** What importJson needs from a collector. */
export interface ImportTarget {
  importRecords(records: {
    processing?: ProcessingTimeMetric[];
    memory?: MemoryUsageMetric[];
    gpu?: GpuUsageMetric[];
  }): unknown;
}

export const ERR_EXPORT_FAILED = 'ERR_PERFPROBE_EXPORT_FAILED';
export const ERR_IMPORT_FAILED = 'ERR_PERFPROBE_IMPORT_FAILED';

export type ExportError = Error & { code: string; path: string; cause: unknown };

const VERSION: string = (() => {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

const CHUNK_CHARS = 1 << 16;

// ---------------------------------------------------------------- helpers

/** snake_case of a camelCase key: avgDurationMs -> avg_duration_ms. */
const snakeCache = new Map<string, string>();
export function snakeKey(key: string): string {
  let s = snakeCache.get(key);
  if (s === undefined) {
    s = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    snakeCache.set(key, s);
  }
  return s;
}

/** A shallow copy of a stats object with snake_case keys and null for non-finite numbers. */
export function toSnake(obj: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    out[snakeKey(k)] = typeof v === 'number' && !Number.isFinite(v) ? null : v;
  }
  return out;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** YYYYMMDD_HHMMSS in local time, as the seed's datetime.now().strftime. */
export function fileStamp(date: Date = new Date()): string {
  return (
    `${date.getFullYear()}${pad2(date.getMonth() + 1)}${pad2(date.getDate())}_` +
    `${pad2(date.getHours())}${pad2(date.getMinutes())}${pad2(date.getSeconds())}`
  );
}

/**
 * ISO-8601 UTC with microseconds, e.g. 2026-11-27T16:00:00.123456Z. The
 * "YYYY-MM-DDTHH:MM:SS" prefix is cached per second, so a run of records
 * costs one toISOString per distinct second.
 */
class IsoFormatter {
  private sec = NaN;
  private prefix = '';
  format(ms: number): string {
    let sec = Math.floor(ms / 1000);
    let micros = Math.round((ms - sec * 1000) * 1000);
    if (micros >= 1_000_000) {
      sec += 1;
      micros -= 1_000_000;
    }
    if (sec !== this.sec) {
      this.sec = sec;
      this.prefix = new Date(sec * 1000).toISOString().slice(0, 19);
    }
    return `${this.prefix}.${String(micros).padStart(6, '0')}Z`;
  }
}

/** Parses what IsoFormatter writes (and any ISO-8601 string Date.parse accepts). */
class IsoParser {
  private prefix = '';
  private base = NaN;
  parse(field: string, value: unknown): number {
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    if (typeof value !== 'string') throw typeError(field, 'an ISO-8601 timestamp string', value);
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(value);
    if (m && m[3] === 'Z') {
      if (m[1] !== this.prefix) {
        this.prefix = m[1]!;
        this.base = Date.parse(`${m[1]}Z`);
      }
      if (!Number.isFinite(this.base)) throw rangeError(field, 'a valid ISO-8601 timestamp', value);
      const frac = m[2] ? Number(`0.${m[2]}`) * 1000 : 0;
      return this.base + frac;
    }
    const t = Date.parse(value);
    if (!Number.isFinite(t)) throw rangeError(field, 'a valid ISO-8601 timestamp', value);
    return t;
  }
}

/** JSON text of a string, cached (operation names, job ids and stages repeat). */
class JsonStrings {
  private cache = new Map<string, string>();
  str(s: string | null | undefined): string {
    if (s == null) return 'null';
    let j = this.cache.get(s);
    if (j === undefined) {
      j = JSON.stringify(s);
      if (this.cache.size < 65536) this.cache.set(s, j);
    }
    return j;
  }
}

function num(n: number | null | undefined): string {
  return typeof n === 'number' && Number.isFinite(n) ? String(n) : 'null';
}

function exportError(op: string, path: string, cause: unknown): ExportError {
  const reason = cause instanceof Error ? `${(cause as NodeJS.ErrnoException).code ? `${(cause as NodeJS.ErrnoException).code}: ` : ''}${cause.message}` : String(cause);
  return Object.assign(new Error(`${op}: cannot write ${path}: ${reason}`, { cause }), {
    code: ERR_EXPORT_FAILED,
    path,
  }) as ExportError;
}

/**
 * Writes the chunks from `produce` into a fresh file in `directory` named
 * `${base}${suffix}${ext}` (suffix '' or _1, _2, ...), atomically.
 */
async function writeAtomic(
  op: string,
  directory: string,
  base: string,
  ext: string,
  produce: (write: (chunk: string) => Promise<void>) => Promise<void>,
): Promise<string> {
  const firstPath = join(directory, `${base}${ext}`);
  try {
    await fsp.mkdir(directory, { recursive: true });
  } catch (err) {
    throw exportError(op, firstPath, err);
  }
  const tmp = join(directory, `.${base}${ext}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fh: fsp.FileHandle | undefined;
  let stage = tmp;
  try {
    fh = await fsp.open(tmp, 'wx', 0o644);
    const handle = fh;
    await produce(async (chunk) => {
      // write(2) may write less than asked (a full disk does): loop until all
      // is written, so the next call reports the error (ENOSPC).
      const buf = Buffer.from(chunk, 'utf8');
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await handle.write(buf, off, buf.length - off, null);
        if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
        off += bytesWritten;
      }
    });
    await handle.sync();
    await handle.close();
    fh = undefined;
    // Link (fails with EEXIST instead of clobbering) under the first free name.
    for (let i = 0; ; i++) {
      const candidate = join(directory, `${base}${i === 0 ? '' : `_${i}`}${ext}`);
      stage = candidate;
      try {
        await fsp.link(tmp, candidate);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST' && i < 10_000) continue;
        if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
          // File systems without hard links: check, then rename.
          const exists = await fsp.stat(candidate).then(() => true, () => false);
          if (exists) continue;
          await fsp.rename(tmp, candidate);
          await syncDir(directory);
          return candidate;
        }
        throw err;
      }
      await fsp.unlink(tmp).catch(() => undefined);
      await syncDir(directory);
      return candidate;
    }
  } catch (err) {
    if (fh) await fh.close().catch(() => undefined);
    await fsp.unlink(tmp).catch(() => undefined);
    throw exportError(op, stage === tmp ? firstPath : stage, err);
  }
}

async function syncDir(directory: string): Promise<void> {
  try {
    const d = await fsp.open(directory, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Directory fsync is best effort (not supported everywhere).
  }
}

/**
 * Collects text into CHUNK_CHARS chunks. One write is in flight while the
 * next chunk is built (double buffering); push() returns a promise when the
 * caller must wait for the previous write (backpressure: at most two chunks
 * held), and end() waits for the last write.
 */
class ChunkWriter {
  private buf = '';
  private inflight: Promise<void> | null = null;
  constructor(private readonly write: (chunk: string) => Promise<void>) {}
  push(s: string): Promise<void> | undefined {
    this.buf += s;
    if (this.buf.length >= CHUNK_CHARS) return this.flush();
    return undefined;
  }
  flush(): Promise<void> {
    const b = this.buf;
    this.buf = '';
    if (b.length === 0) return this.inflight ?? Promise.resolve();
    const prev = this.inflight;
    const next = prev ? prev.then(() => this.write(b)) : this.write(b);
    // Observed by the next flush() or end(); never an unhandled rejection.
    next.catch(() => undefined);
    this.inflight = next;
    return prev ?? Promise.resolve();
  }
  async end(): Promise<void> {
    await this.flush();
    if (this.inflight) await this.inflight;
  }
}

// ---------------------------------------------------------------- records as text

/** Per-operation text fragments, so a record costs a few concatenations. */
class Fragments {
  private map = new Map<string, string>();
  constructor(private readonly make: (operation: string) => string) {}
  get(operation: string): string {
    let f = this.map.get(operation);
    if (f === undefined) {
      f = this.make(operation);
      if (this.map.size < 65536) this.map.set(operation, f);
    }
    return f;
  }
}

const JSON_OK_TAIL = ',"photo_id":null,"job_id":null,"stage":null,"success":true,"error_message":null}';

function processingJson(r: ProcessingTimeMetric, iso: IsoFormatter, js: JsonStrings, ops: Fragments): string {
  // ops.get(op) = `","operation":"op","duration_ms":`
  const head = `{"timestamp":"${iso.format(r.timestamp)}${ops.get(r.operation)}${num(r.durationMs)}`;
  if (r.success && r.photoId === null && r.jobId === null && r.stage === null && r.errorMessage === null) {
    return head + JSON_OK_TAIL;
  }
  return (
    `${head},"photo_id":${num(r.photoId)},"job_id":${js.str(r.jobId)},"stage":${js.str(r.stage)},` +
    `"success":${r.success ? 'true' : 'false'},"error_message":${js.str(r.errorMessage)}}`
  );
}

function memoryJson(r: MemoryUsageMetric, iso: IsoFormatter, js: JsonStrings): string {
  return (
    `{"timestamp":"${iso.format(r.timestamp)}","total_mb":${num(r.totalMb)},"used_mb":${num(r.usedMb)},` +
    `"available_mb":${num(r.availableMb)},"percent":${num(r.percent)},"process_memory_mb":${num(r.processMemoryMb)},` +
    `"operation":${js.str(r.operation)}}`
  );
}

function gpuJson(r: GpuUsageMetric, iso: IsoFormatter, js: JsonStrings): string {
  return (
    `{"timestamp":"${iso.format(r.timestamp)}","gpu_id":${num(r.gpuId)},"load_percent":${num(r.loadPercent)},` +
    `"memory_used_mb":${num(r.memoryUsedMb)},"memory_total_mb":${num(r.memoryTotalMb)},` +
    `"memory_percent":${num(r.memoryPercent)},"temperature_celsius":${num(r.temperatureCelsius)},` +
    `"power_watts":${num(r.powerWatts)},"operation":${js.str(r.operation)}}`
  );
}

async function writeArray<T>(
  out: ChunkWriter,
  key: string,
  records: Iterable<T>,
  toJson: (r: T) => string,
  limit: number,
): Promise<void> {
  let p = out.push(`,\n"${key}":[`);
  if (p) await p;
  let first = true;
  let n = 0;
  for (const r of records) {
    if (++n > limit) break;
    p = out.push(first ? `\n${toJson(r)}` : `,\n${toJson(r)}`);
    first = false;
    if (p) await p;
  }
  p = out.push(']');
  if (p) await p;
}

/**
 * Writes every record of the three types and a summary to
 * `directory/metrics_YYYYMMDD_HHMMSS.json`; resolves to the path written.
 * The summary is computed first and at most as many records as it counted
 * are written per type, so records added while the file is being written
 * do not make the two disagree.
 */
export async function exportJson(source: ExportSource, directory: string): Promise<string> {
  if (typeof directory !== 'string' || directory.length === 0) {
    throw typeError('exportDirectory', 'a non-empty string', directory);
  }
  source.ingestSamples?.();
  const now = Date.now();
  const summary = {
    operations: source.getOperationSummary().map(toSnake),
    processing_stats: toSnake(source.getProcessingTimeStats()),
    memory_stats: toSnake(source.getMemoryUsageStats()),
    gpu_stats: toSnake(source.getGpuUsageStats()),
  };
  // The records the summary counted: iterators made now, before the file is opened.
  const processing = source.processingRecords();
  const memory = source.memoryRecords();
  const gpu = source.gpuRecords();
  const iso = new IsoFormatter();
  const js = new JsonStrings();
  const ops = new Fragments((op) => `","operation":${JSON.stringify(op)},"duration_ms":`);
  return writeAtomic('exportToJson', directory, `metrics_${fileStamp(new Date(now))}`, '.json', async (write) => {
    const out = new ChunkWriter(write);
    out.push(`{"export_time":${JSON.stringify(new Date(now).toISOString())},"perfprobe_version":${JSON.stringify(VERSION)}`);
    const lim = (n: unknown): number => (typeof n === 'number' ? n : Infinity);
    await writeArray(out, 'processing_metrics', processing, (r) => processingJson(r, iso, js, ops), lim(summary.processing_stats.count));
    await writeArray(out, 'memory_metrics', memory, (r) => memoryJson(r, iso, js), lim(summary.memory_stats.count));
    await writeArray(out, 'gpu_metrics', gpu, (r) => gpuJson(r, iso, js), lim(summary.gpu_stats.count));
    out.push(`,\n"summary":${JSON.stringify(summary)}}\n`);
    await out.end();
  });
}

// ---------------------------------------------------------------- CSV

export const CSV_COLUMNS: Readonly<Record<MetricType, readonly string[]>> = {
  processing: ['timestamp', 'operation', 'duration_ms', 'photo_id', 'job_id', 'stage', 'success', 'error_message'],
  memory: ['timestamp', 'total_mb', 'used_mb', 'available_mb', 'percent', 'process_memory_mb', 'operation'],
  gpu: [
    'timestamp', 'gpu_id', 'load_percent', 'memory_used_mb', 'memory_total_mb', 'memory_percent',
    'temperature_celsius', 'power_watts', 'operation',
  ],
};

/**
 * One CSV cell for a string: neutralised against spreadsheet formula
 * injection (a leading = + - @ tab or CR gets a ' in front, as OWASP
 * advises), then quoted per RFC 4180 when it holds a comma, quote, CR or LF
 * or was neutralised. Numbers are written by num() and never touched.
 */
export function csvText(s: string | null | undefined): string {
  if (s == null) return '';
  if (s.length === 0) return '';
  const c = s.charCodeAt(0);
  let neutral = false;
  // = + - @ \t \r
  if (c === 61 || c === 43 || c === 45 || c === 64 || c === 9 || c === 13) {
    s = `'${s}`;
    neutral = true;
  }
  if (neutral || /[",\r\n]/.test(s)) return `"${s.replace(/"/g, '""')}"`;
  return s;
}

const CSV_OK_TAIL = ',,,,true,\r\n';

class CsvStrings {
  private cache = new Map<string, string>();
  str(s: string | null | undefined): string {
    if (s == null) return '';
    let v = this.cache.get(s);
    if (v === undefined) {
      v = csvText(s);
      if (this.cache.size < 65536) this.cache.set(s, v);
    }
    return v;
  }
}

/**
 * A CSV number: at most 6 decimals (1 ns for durations in ms, about 1 byte
 * for MiB), trailing zeros dropped; integers as they are. Spreadsheets keep
 * 15 significant digits anyway, and this is 2-3x cheaper than the shortest
 * round-trip form String() builds (the JSON export keeps that, for import).
 */
export function csvNum(n: number | null | undefined): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '';
  if (Number.isInteger(n)) return String(n);
  const scaled = Math.round(n * 1e6);
  if (!Number.isSafeInteger(scaled)) return String(n);
  const neg = scaled < 0;
  const m = neg ? -scaled : scaled;
  const ip = Math.floor(m / 1e6);
  let fp = m - ip * 1e6;
  if (fp === 0) return neg && ip !== 0 ? `-${ip}` : String(ip);
  let digits = 6;
  while (fp % 10 === 0) {
    fp /= 10;
    digits--;
  }
  return `${neg ? '-' : ''}${ip}.${String(fp).padStart(digits, '0')}`;
}

/** Writes one metric type to `directory/<type>_metrics_YYYYMMDD_HHMMSS.csv`; resolves to the path. */
export async function exportCsv(source: ExportSource, type: MetricType, directory: string): Promise<string> {
  if (type !== 'processing' && type !== 'memory' && type !== 'gpu') {
    throw typeError('metricType', '"processing", "memory" or "gpu"', type);
  }
  if (typeof directory !== 'string' || directory.length === 0) {
    throw typeError('exportDirectory', 'a non-empty string', directory);
  }
  source.ingestSamples?.();
  const now = Date.now();
  // At most as many rows as held now (records added while writing are left for the next export).
  const limit =
    type === 'processing'
      ? source.getProcessingTimeStats().count
      : type === 'memory'
        ? source.getMemoryUsageStats().count
        : source.getGpuUsageStats().count;
  // The records held now: iterator made before the file is opened.
  const records: Iterable<ProcessingTimeMetric | MemoryUsageMetric | GpuUsageMetric> =
    type === 'processing' ? source.processingRecords() : type === 'memory' ? source.memoryRecords() : source.gpuRecords();
  let n = 0;
  const iso = new IsoFormatter();
  const cs = new CsvStrings();
  const ops = new Fragments((op) => `,${csvText(op)},`);
  return writeAtomic('exportToCsv', directory, `${type}_metrics_${fileStamp(new Date(now))}`, '.csv', async (write) => {
    const out = new ChunkWriter(write);
    out.push(`${CSV_COLUMNS[type].join(',')}\r\n`);
    let p: Promise<void> | undefined;
    if (type === 'processing') {
      for (const r of records as Iterable<ProcessingTimeMetric>) {
        if (++n > limit) break;
        const head = `${iso.format(r.timestamp)}${ops.get(r.operation)}${csvNum(r.durationMs)}`;
        p = out.push(
          r.success && r.photoId === null && r.jobId === null && r.stage === null && r.errorMessage === null
            ? head + CSV_OK_TAIL
            : `${head},${csvNum(r.photoId)},${cs.str(r.jobId)},${cs.str(r.stage)},${r.success ? 'true' : 'false'},` +
                `${cs.str(r.errorMessage)}\r\n`,
        );
        if (p) await p;
      }
    } else if (type === 'memory') {
      for (const r of records as Iterable<MemoryUsageMetric>) {
        if (++n > limit) break;
        p = out.push(
          `${iso.format(r.timestamp)},${csvNum(r.totalMb)},${csvNum(r.usedMb)},${csvNum(r.availableMb)},` +
            `${csvNum(r.percent)},${csvNum(r.processMemoryMb)},${cs.str(r.operation)}\r\n`,
        );
        if (p) await p;
      }
    } else {
      for (const r of records as Iterable<GpuUsageMetric>) {
        if (++n > limit) break;
        p = out.push(
          `${iso.format(r.timestamp)},${csvNum(r.gpuId)},${csvNum(r.loadPercent)},${csvNum(r.memoryUsedMb)},` +
            `${csvNum(r.memoryTotalMb)},${csvNum(r.memoryPercent)},${csvNum(r.temperatureCelsius)},` +
            `${csvNum(r.powerWatts)},${cs.str(r.operation)}\r\n`,
        );
        if (p) await p;
      }
    }
    await out.end();
  });
}

// ---------------------------------------------------------------- import

function optNum(where: string, v: unknown): number | null {
  if (v == null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw typeError(where, 'a finite number or null', v);
  return v;
}

function reqNum(where: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw typeError(where, 'a finite number', v);
  return v;
}

function optStr(where: string, v: unknown): string | null {
  if (v == null) return null;
  if (typeof v !== 'string') throw typeError(where, 'a string or null', v);
  return v;
}

function arrayOf(doc: Record<string, unknown>, key: string): Record<string, unknown>[] {
  const v = doc[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw typeError(key, 'an array', v);
  return v as Record<string, unknown>[];
}

const ARRAY_KEYS = new Set(['processing_metrics', 'memory_metrics', 'gpu_metrics']);

/**
 * Reads a file in exportJson's own layout (one record per line) line by
 * line, so a file of millions of records never becomes one string (V8 caps
 * strings at about 512 MiB). Returns null when the file is laid out
 * differently (e.g. pretty-printed by a tool), for a plain JSON.parse.
 */
export async function readOwnLayout(path: string): Promise<Record<string, unknown> | null> {
  const fh = await fsp.open(path, 'r');
  try {
    const first = Buffer.alloc(16);
    const { bytesRead } = await fh.read(first, 0, 16, 0);
    if (first.toString('utf8', 0, bytesRead) !== '{"export_time":"'.slice(0, bytesRead) || bytesRead < 16) return null;
    const doc: Record<string, unknown> = {};
    let array: unknown[] | null = null;
    let lineNo = 0;
    let done = false;
    let rest = '';
    // Record lines are parsed in batches (one JSON.parse per read chunk): far fewer calls.
    let batch: string[] = [];
    const flushBatch = (): void => {
      if (batch.length === 0 || !array) return;
      const parsed = JSON.parse(`[${batch.join(',')}]`) as unknown[];
      for (let i = 0; i < parsed.length; i++) array.push(parsed[i]);
      batch = [];
    };
    const onLine = (line: string): boolean => {
      lineNo++;
      if (done) return line.trim() === '';
      if (array) {
        let body = line.endsWith(',') ? line.slice(0, -1) : line;
        const closes = body.endsWith(']');
        if (closes) body = body.slice(0, -1);
        if (body.length > 0) {
          if (body.charCodeAt(0) !== 123 /* { */) return false;
          batch.push(body);
        }
        if (closes) {
          flushBatch();
          array = null;
        }
        return true;
      }
      if (lineNo === 1) {
        if (!line.endsWith(',')) return false;
        Object.assign(doc, JSON.parse(`${line.slice(0, -1)}}`));
        return true;
      }
      const m = /^"([a-z_]+)":(.*)$/.exec(line);
      if (!m) return false;
      const [, key, value] = m as unknown as [string, string, string];
      if (ARRAY_KEYS.has(key)) {
        const list: unknown[] = [];
        doc[key] = list;
        if (value === '[') array = list;
        else if (value !== '[],' && value !== '[]') return false;
        return true;
      }
      if (key === 'summary' && value.endsWith('}')) {
        doc.summary = JSON.parse(value.slice(0, -1));
        done = true;
        return true;
      }
      return false;
    };
    const decoder = new (await import('node:string_decoder')).StringDecoder('utf8');
    const buf = Buffer.allocUnsafe(1 << 20);
    let pos = 0;
    for (;;) {
      const { bytesRead: n } = await fh.read(buf, 0, buf.length, pos);
      if (n === 0) break;
      pos += n;
      const text = rest + decoder.write(buf.subarray(0, n));
      const lines = text.split('\n');
      rest = lines.pop()!;
      for (const line of lines) if (!onLine(line)) return null;
      flushBatch();
    }
    rest += decoder.end();
    if (rest.length > 0 && !onLine(rest)) return null;
    return done && array === null ? doc : null;
  } catch (err) {
    if (err instanceof SyntaxError) return null;
    throw err;
  } finally {
    await fh.close();
  }
}

/**
 * Reads a file written by exportJson and appends its records to `target`
 * (through importRecords). The whole file is validated before anything is
 * imported: a bad file changes nothing.
 */
export async function importJson(target: ImportTarget, path: string): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) throw typeError('path', 'a non-empty string', path);
  let doc: unknown;
  try {
    doc = (await readOwnLayout(path)) ?? JSON.parse(await fsp.readFile(path, 'utf8'));
  } catch (err) {
    throw Object.assign(
      new Error(`importFromJson: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }),
      { code: ERR_IMPORT_FAILED, path },
    );
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw typeError(`${path}`, 'a perfprobe JSON export (an object)', doc);
  }
  const d = doc as Record<string, unknown>;
  const iso = new IsoParser();
  const processing: ProcessingTimeMetric[] = [];
  arrayOf(d, 'processing_metrics').forEach((r, i) => {
    const w = `processing_metrics[${i}]`;
    if (r === null || typeof r !== 'object') throw typeError(w, 'an object', r);
    const operation = r.operation;
    if (typeof operation !== 'string') throw typeError(`${w}.operation`, 'a string', operation);
    const success = r.success;
    if (typeof success !== 'boolean') throw typeError(`${w}.success`, 'a boolean', success);
    processing.push({
      timestamp: iso.parse(`${w}.timestamp`, r.timestamp),
      operation,
      durationMs: reqNum(`${w}.duration_ms`, r.duration_ms),
      photoId: optNum(`${w}.photo_id`, r.photo_id),
      jobId: optStr(`${w}.job_id`, r.job_id),
      stage: optStr(`${w}.stage`, r.stage),
      success,
      errorMessage: optStr(`${w}.error_message`, r.error_message),
    });
  });
  // Memory figures: null where the probe did not know (the collector accepts that).
  const memory: MemoryUsageMetric[] = [];
  arrayOf(d, 'memory_metrics').forEach((r, i) => {
    const w = `memory_metrics[${i}]`;
    if (r === null || typeof r !== 'object') throw typeError(w, 'an object', r);
    memory.push({
      timestamp: iso.parse(`${w}.timestamp`, r.timestamp),
      totalMb: optNum(`${w}.total_mb`, r.total_mb),
      usedMb: optNum(`${w}.used_mb`, r.used_mb),
      availableMb: optNum(`${w}.available_mb`, r.available_mb),
      percent: optNum(`${w}.percent`, r.percent),
      processMemoryMb: optNum(`${w}.process_memory_mb`, r.process_memory_mb),
      operation: optStr(`${w}.operation`, r.operation),
    });
  });
  const gpu: GpuUsageMetric[] = [];
  arrayOf(d, 'gpu_metrics').forEach((r, i) => {
    const w = `gpu_metrics[${i}]`;
    if (r === null || typeof r !== 'object') throw typeError(w, 'an object', r);
    const gpuId = r.gpu_id;
    if (typeof gpuId !== 'number' || !Number.isInteger(gpuId) || gpuId < 0) {
      throw typeError(`${w}.gpu_id`, 'a non-negative integer', gpuId);
    }
    gpu.push({
      timestamp: iso.parse(`${w}.timestamp`, r.timestamp),
      gpuId,
      loadPercent: optNum(`${w}.load_percent`, r.load_percent),
      memoryUsedMb: optNum(`${w}.memory_used_mb`, r.memory_used_mb),
      memoryTotalMb: optNum(`${w}.memory_total_mb`, r.memory_total_mb),
      memoryPercent: optNum(`${w}.memory_percent`, r.memory_percent),
      temperatureCelsius: optNum(`${w}.temperature_celsius`, r.temperature_celsius),
      powerWatts: optNum(`${w}.power_watts`, r.power_watts),
      operation: optStr(`${w}.operation`, r.operation),
    });
  });
  doc = undefined;
  if (processing.length + memory.length + gpu.length === 0) return;
  target.importRecords({ processing, memory, gpu });
}
