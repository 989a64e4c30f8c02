/**
 * Reading JSON exports back: the document (line by line in exportJson's own
 * layout, so a file of millions of records never becomes one string; any
 * other layout through JSON.parse), and importFromJson, which turns each
 * record into a record of its schema, checks it (one bad record and nothing
 * is imported; errors name `processing_metrics[3].duration_ms`) and hands
 * them to the collector's importRecords. `perfprobe compare` reads its
 * files through readExportDocument too.
 */
import { promises as fsp } from 'node:fs';
import { ErrorCode, codedError, typeError } from '../../errors.js';
import { checkRecord } from '../../schema/record.js';
import type { GpuUsageMetric, MemoryUsageMetric, MetricType, ProcessingTimeMetric } from '../../types.js';
import { IsoParser } from './codecs.js';
import { SCHEMAS, compileFromJson } from './record-text.js';

/** What importJson needs from a collector. */
export interface ImportTarget {
  importRecords(records: { processing?: ProcessingTimeMetric[]; memory?: MemoryUsageMetric[]; gpu?: GpuUsageMetric[] }): unknown;
}

const ARRAY_KEYS = new Set(Object.values(SCHEMAS).map((s) => s.arrayKey));

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

/** A JSON document from a file: exportJson's own layout streamed (readOwnLayout), anything else through JSON.parse. */
export async function readExportDocument(path: string): Promise<unknown> {
  return (await readOwnLayout(path)) ?? JSON.parse(await fsp.readFile(path, 'utf8'));
}

const FROM_JSON = {
  processing: compileFromJson(SCHEMAS.processing),
  memory: compileFromJson(SCHEMAS.memory),
  gpu: compileFromJson(SCHEMAS.gpu),
} as const;

function arrayOf(doc: Record<string, unknown>, key: string): unknown[] {
  const v = doc[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw typeError(key, 'an array', v);
  return v;
}

/** The records of one type in a JSON export document, checked against the schema. */
export function recordsOf<R>(doc: Record<string, unknown>, type: MetricType, iso = new IsoParser()): R[] {
  const schema = SCHEMAS[type];
  const from = FROM_JSON[type] as (raw: Record<string, unknown>, where: string, iso: IsoParser) => unknown;
  const list = arrayOf(doc, schema.arrayKey);
  const out: R[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const raw = list[i];
    const where = `${schema.arrayKey}[${i}]`;
    if (raw === null || typeof raw !== 'object') throw typeError(where, 'an object', raw);
    const r = from(raw as Record<string, unknown>, where, iso);
    checkRecord(schema, r, where, 'snake', 'an object');
    out[i] = r as R;
  }
  return out;
}

/**
 * Reads a file written by exportJson and appends its records to `target`
 * (through importRecords). The whole file is checked before anything is
 * imported: a bad file changes nothing.
 */
export async function importJson(target: ImportTarget, path: string): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) throw typeError('path', 'a non-empty string', path);
  let doc: unknown;
  try {
    doc = await readExportDocument(path);
  } catch (err) {
    throw codedError(ErrorCode.importFailed, `importFromJson: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`, { path }, err);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw typeError(`${path}`, 'a perfprobe JSON export (an object)', doc);
  }
  const d = doc as Record<string, unknown>;
  const iso = new IsoParser();
  const processing = recordsOf<ProcessingTimeMetric>(d, 'processing', iso);
  const memory = recordsOf<MemoryUsageMetric>(d, 'memory', iso);
  const gpu = recordsOf<GpuUsageMetric>(d, 'gpu', iso);
  doc = undefined;
  if (processing.length + memory.length + gpu.length === 0) return;
  target.importRecords({ processing, memory, gpu });
}
