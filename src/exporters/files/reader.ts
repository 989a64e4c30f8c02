/**
 * Reading JSON exports back. Every file is read in chunks by one streaming
 * scanner (./json-scan.ts), whatever its layout (exportJson's own, one line
 * as `jq -c` writes it, pretty-printed): the work is linear in the file's
 * size and no file ever becomes one string (V8 caps strings at ~512 MiB).
 *  - readExportDocument(path): the document as JSON.parse would give it,
 *    its top-level arrays read an element at a time, those in skipArrays
 *    scanned and dropped (`perfprobe compare`: a run report's samples);
 *  - importJson(target, path): importFromJson. The record arrays are parsed
 *    straight into columns (./record-parse.ts), each record checked as it
 *    is read (one bad record and nothing is imported; errors name
 *    `processing_metrics[3].duration_ms`), then handed to the collector's
 *    importRecords a batch at a time. Memory: the columns (~41 bytes per
 *    processing record) and one batch of record objects, never the text.
 */
import { promises as fsp } from 'node:fs';
import { ErrorCode, codedError, isArgumentError, typeError } from '../../errors.js';
import { checkRecord } from '../../schema/record.js';
import type { GpuUsageMetric, MemoryUsageMetric, MetricType, ProcessingTimeMetric, RecordQuery } from '../../types.js';
import { IsoParser } from './codecs.js';
import { CHUNK_BYTES, INCOMPLETE } from './json-scan.js';
import { RecordScanner } from './record-scan.js';
import { RecordColumns, compileRecordParser, compileRecordReader, type RecordParser, type RecordReader } from './record-parse.js';
import { SCHEMAS, compileFromJson } from './record-text.js';

/** What importJson needs from a collector (the record iterators, when present, let it import in batches). */
export interface ImportTarget {
  importRecords(records: { processing?: ProcessingTimeMetric[]; memory?: MemoryUsageMetric[]; gpu?: GpuUsageMetric[] }): unknown;
  processingRecords?(query?: RecordQuery): Iterator<{ timestamp: number }>;
  memoryRecords?(query?: RecordQuery): Iterator<{ timestamp: number }>;
  gpuRecords?(query?: RecordQuery): Iterator<{ timestamp: number }>;
}

/** Options of the readers (tests: a small chunk puts many records across chunk boundaries). */
export interface ReadOptions {
  chunkBytes?: number;
  /** Filled in: the file's size and the bytes scanned more than once. */
  stats?: { bytes: number; rescanned: number };
  /**
   * Top-level arrays the caller does not need (`perfprobe compare` on a run
   * report: its samples): each element is still scanned, so the file must be
   * valid JSON, but none is kept and the key holds an empty array. Memory is
   * then one element, whatever the array's length.
   */
  skipArrays?: ReadonlySet<string>;
}

/** A record array parsed into columns instead of the document. */
interface Sink {
  parse: RecordParser;
  cols: RecordColumns;
}

/** A scanner over the bytes `{}`: a record without fields, checked as any other. */
function EMPTY_RECORD(): RecordScanner {
  const S = new RecordScanner(null as never, 16);
  S.buf.write('{}', 0, 'latin1');
  S.end = 2;
  S.buf[2] = 0;
  S.eof = true;
  return S;
}

/** Stands in the document for a record array that went to a sink. */
const IN_COLUMNS = Symbol('in columns');

const enum State {
  Begin,
  FirstKey,
  NextKey,
  Value,
  FirstElement,
  NextElement,
  AfterValue,
  End,
}

function setKey(o: Record<string, unknown>, key: string, v: unknown): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value: v, writable: true, enumerable: true, configurable: true });
  else o[key] = v;
}

/**
 * Reads the JSON document at `path`. A top-level object's array values are
 * read an element at a time (each element one unit of the scanner), into
 * its sink when `sinks` has one for the key; any other value is one unit.
 * With `objectOnly`, a document that is not an object is refused at its
 * first byte (`notObject` is called with what it is).
 */
async function readDocument(
  path: string,
  sinks: ReadonlyMap<string, Sink> | null,
  options: ReadOptions,
  notObject?: (got: unknown) => never,
): Promise<unknown> {
  const fh = await fsp.open(path, 'r');
  try {
    const S = new RecordScanner(fh, options.chunkBytes ?? CHUNK_BYTES);
    const iso = new IsoParser();
    let state = State.Begin;
    let doc: Record<string, unknown> = {};
    let root: unknown = doc;
    let key = '';
    let list: unknown[] = [];
    let sink: Sink | undefined;
    let skip = false;
    let index = 0;
    await S.refill();
    for (;;) {
      try {
        for (;;) {
          S.mark = S.p;
          switch (state) {
            case State.Begin: {
              const b = S.ws();
              if (b === 123) {
                S.p++;
                state = State.FirstKey;
              } else {
                if (notObject) notObject(b === 91 ? [] : S.value(0));
                root = S.value(0);
                state = State.End;
              }
              break;
            }
            case State.FirstKey:
            case State.NextKey: {
              const b = S.ws();
              if (b === 125 && state === State.FirstKey) {
                S.p++;
                state = State.End;
                break;
              }
              if (b !== 34) S.fail();
              key = S.string();
              S.expect(58);
              state = State.Value;
              break;
            }
            case State.Value: {
              if (S.ws() === 91) {
                S.p++;
                sink = sinks?.get(key);
                skip = !sink && options.skipArrays?.has(key) === true;
                if (sink) {
                  sink.cols.clear();
                  index = 0;
                  setKey(doc, key, IN_COLUMNS);
                } else {
                  list = [];
                  setKey(doc, key, list);
                }
                state = State.FirstElement;
              } else {
                setKey(doc, key, S.value(1));
                state = State.AfterValue;
              }
              break;
            }
            case State.FirstElement:
            case State.NextElement: {
              // One element per unit; the loop stays here until the array ends.
              let b = S.ws();
              if (state === State.FirstElement) {
                if (b === 93) {
                  S.p++;
                  state = State.AfterValue;
                  break;
                }
              } else {
                if (b === 93) {
                  S.p++;
                  state = State.AfterValue;
                  break;
                }
                if (b !== 44) S.fail();
                S.p++;
                b = S.ws();
              }
              if (sink) {
                if (b === 123) sink.parse(S, sink.cols, index, iso);
                else {
                  const got = S.value(2);
                  // As recordsOf: an array is an object without the fields (the first missing one is named), the rest are not objects.
                  if (!Array.isArray(got)) throw typeError(`${key}[${index}]`, 'an object', got);
                  sink.parse(EMPTY_RECORD(), sink.cols, index, iso);
                }
                index++;
              } else if (skip) S.value(2);
              else list.push(S.value(2));
              state = State.NextElement;
              break;
            }
            case State.AfterValue: {
              const b = S.ws();
              if (b === 44) state = State.NextKey;
              else if (b === 125) state = State.End;
              else S.fail();
              S.p++;
              break;
            }
            case State.End:
              if (!S.atEnd()) S.fail();
              if (options.stats) {
                options.stats.bytes = S.base + S.end;
                options.stats.rescanned = S.rescanned;
              }
              return root;
          }
        }
      } catch (err) {
        if (err !== INCOMPLETE) throw err;
        await S.refill();
      }
    }
  } finally {
    await fh.close();
  }
}

/** A JSON document from a file (any layout), as JSON.parse would give it, read in chunks. */
export function readExportDocument(path: string, options: ReadOptions = {}): Promise<unknown> {
  return readDocument(path, null, options);
}

/**
 * The document when the file is in exportJson's own layout (its first
 * line `{"export_time":...,"perfprobe_version":...,` then the records one
 * per line), else null. Every layout reads the same now
 * (readExportDocument); this says whether a file is laid out as
 * perfprobe wrote it.
 */
export async function readOwnLayout(path: string): Promise<Record<string, unknown> | null> {
  const fh = await fsp.open(path, 'r');
  let head: string;
  try {
    const first = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(first, 0, first.length, 0);
    head = first.toString('latin1', 0, bytesRead);
  } finally {
    await fh.close();
  }
  if (!/^\{"export_time":"[^"\n]*","perfprobe_version":"[^"\n]*",\n"processing_metrics":\[/.test(head)) return null;
  try {
    const doc = await readExportDocument(path);
    return doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>) : null;
  } catch (err) {
    if (err instanceof SyntaxError) return null;
    throw err;
  }
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

const PARSERS: Readonly<Record<MetricType, RecordParser>> = {
  processing: compileRecordParser(SCHEMAS.processing as never),
  memory: compileRecordParser(SCHEMAS.memory as never),
  gpu: compileRecordParser(SCHEMAS.gpu as never),
};
const READERS: Readonly<Record<MetricType, RecordReader<unknown>>> = {
  processing: compileRecordReader(SCHEMAS.processing as never),
  memory: compileRecordReader(SCHEMAS.memory as never),
  gpu: compileRecordReader(SCHEMAS.gpu as never),
};

/** Records handed to importRecords per call, when they may go in batches. */
export const IMPORT_BATCH = 16_384;

/** Hands the records of `cols` to the target: in batches when that cannot make it re-sort what it holds. */
function deliver(target: ImportTarget, type: MetricType, cols: RecordColumns): void {
  const n = cols.n;
  if (n === 0) return;
  const read = READERS[type];
  // Batches are safe when the records are in time order and the target holds none newer than the first:
  // each batch then appends (a batch older than what is held would make importRecords re-sort all it holds).
  const first = (cols.cols[0] as Float64Array)[0]!;
  const iterate = type === 'processing' ? target.processingRecords : type === 'memory' ? target.memoryRecords : target.gpuRecords;
  let batched = false;
  if (cols.sorted && typeof iterate === 'function') {
    const it = iterate.call(target, { since: first });
    batched = it.next().done === true;
    it.return?.();
  }
  const step = batched ? IMPORT_BATCH : n;
  for (let start = 0; start < n; start += step) {
    const end = Math.min(n, start + step);
    const batch = new Array<unknown>(end - start);
    for (let i = start; i < end; i++) batch[i - start] = read(cols, i);
    target.importRecords({ [type]: batch });
  }
}

/**
 * Reads a file written by exportJson (any layout) and appends its records
 * to `target` (through importRecords). The whole file is read and checked
 * before anything is imported: a bad file changes nothing.
 */
export async function importJson(target: ImportTarget, path: string, options: ReadOptions = {}): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) throw typeError('path', 'a non-empty string', path);
  const sinks = new Map<string, Sink>(
    (['processing', 'memory', 'gpu'] as const).map((t) => [SCHEMAS[t].arrayKey, { parse: PARSERS[t], cols: new RecordColumns(SCHEMAS[t] as never) }]),
  );
  let doc: unknown;
  try {
    doc = await readDocument(path, sinks, options, (got) => {
      throw typeError(`${path}`, 'a perfprobe JSON export (an object)', got);
    });
  } catch (err) {
    if (isArgumentError(err)) throw err;
    throw codedError(ErrorCode.importFailed, `importFromJson: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`, { path }, err);
  }
  const d = doc as Record<string, unknown>;
  for (const [key] of sinks) {
    const v = d[key];
    if (v !== undefined && v !== IN_COLUMNS) throw typeError(key, 'an array', v);
  }
  for (const t of ['processing', 'memory', 'gpu'] as const) deliver(target, t, sinks.get(SCHEMAS[t].arrayKey)!.cols);
}
