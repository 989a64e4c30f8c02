/**
 * One record as one line of text, and back: the JSON export's record
 * objects, the CSV rows and header, and the conversion of a JSON record
 * (snake_case keys, ISO timestamps) into a record. Each is compiled from the
 * metric type's schema (field order, snake_case names, kinds: see
 * src/schema/compile.ts for why compiled), so a field added to a schema
 * appears in every format at once.
 *
 * The processing type, the one exported by the million, also has
 * hand-specialised writers (processingJson, processingCsv) with a fast path
 * for the common record (no photo, job, stage or error; success): they must
 * write exactly what the compiled ones write, which
 * test/schema/writers-follow-schema.test.ts checks record by record. The
 * exports write those through byte twins (writeProcessingJson,
 * writeProcessingCsv: cached byte fragments and digits into a ByteSink),
 * checked against them byte for byte by test/exporters/byte-writers.test.ts.
 */
import { compile, ident, objectLiteral, quote } from '../../schema/compile.js';
import { type FieldSpec } from '../../schema/field.js';
import { GPU_SCHEMA } from '../../schema/gpu.js';
import { MEMORY_SCHEMA } from '../../schema/memory.js';
import { PROCESSING_SCHEMA, type ProcessingTimeMetric } from '../../schema/processing.js';
import { type MetricType, type RecordSchema } from '../../schema/record.js';
import { ByteFragments, type ByteSink } from './byte-sink.js';
import { writeNumber } from './number-text.js';
import { CsvStrings, Fragments, IsoFormatter, IsoParser, JsonStrings, csvNum, csvText, jsonNum } from './codecs.js';

/** The per-export state the line writers share (caches). */
export interface TextState {
  iso: IsoFormatter;
  js: JsonStrings;
  cs: CsvStrings;
}

export function textState(): TextState {
  return { iso: new IsoFormatter(), js: new JsonStrings(), cs: new CsvStrings() };
}

export type LineWriter<R> = (r: R, t: TextState) => string;

/** Concatenation of constant pieces and expressions, adjacent constants merged. */
function concat(pieces: ReadonlyArray<{ text: string } | { expr: string }>): string {
  const out: string[] = [];
  let pending = '';
  for (const p of pieces) {
    if ('text' in p) pending += p.text;
    else {
      if (pending) out.push(quote(pending));
      pending = '';
      out.push(`(${p.expr})`);
    }
  }
  if (pending) out.push(quote(pending));
  return out.join(' + ');
}

function jsonValue(f: FieldSpec): { text: string } | { expr: string } | Array<{ text: string } | { expr: string }> {
  const v = `r.${ident(f.key)}`;
  switch (f.kind) {
    case 'timestamp':
      return [{ text: '"' }, { expr: `t.iso.format(${v})` }, { text: '"' }];
    case 'operation':
    case 'string':
      return { expr: `t.js.str(${v})` };
    case 'boolean':
      return { expr: `${v} ? 'true' : 'false'` };
    case 'object':
      return { expr: `JSON.stringify(${v})` };
    default:
      return { expr: `jsonNum(${v})` };
  }
}

function csvValue(f: FieldSpec): { expr: string } {
  const v = `r.${ident(f.key)}`;
  switch (f.kind) {
    case 'timestamp':
      return { expr: `t.iso.format(${v})` };
    case 'operation':
    case 'string':
      return { expr: `t.cs.str(${v})` };
    case 'boolean':
      return { expr: `${v} ? 'true' : 'false'` };
    case 'object':
      return { expr: `csvText(JSON.stringify(${v}))` };
    default:
      return { expr: `csvNum(${v})` };
  }
}

/** `{"timestamp":"...","snake":value,...}` in schema order. */
export function compileJsonLine<R extends object>(schema: RecordSchema<R>): LineWriter<R> {
  const pieces = schema.fields.flatMap((f, i) => [{ text: `${i === 0 ? '{' : ','}${quote(f.snake)}:` }, jsonValue(f)].flat());
  pieces.push({ text: '}' });
  return compile(`${schema.type}JsonLine`, ['r', 't'], `return ${concat(pieces)};`, { jsonNum });
}

/** One CSV row (cells in schema order) ending in CRLF. */
export function compileCsvLine<R extends object>(schema: RecordSchema<R>): LineWriter<R> {
  const pieces = schema.fields.flatMap((f, i) => (i === 0 ? [csvValue(f)] : [{ text: ',' }, csvValue(f)]));
  pieces.push({ text: '\r\n' });
  return compile(`${schema.type}CsvLine`, ['r', 't'], `return ${concat(pieces)};`, { csvNum, csvText });
}

/** The CSV header row of a schema (no line end). */
export function csvHeader(schema: { readonly fields: readonly FieldSpec[] }): string {
  return schema.fields.map((f) => f.snake).join(',');
}

/**
 * A JSON export's record (snake_case keys) as a record: timestamps parsed
 * (errors name `${where}.timestamp`), absent nullable fields null, the rest
 * as they are (the caller checks the record against the schema next).
 */
export function compileFromJson<R extends object>(schema: RecordSchema<R>): (raw: Record<string, unknown>, where: string, iso: IsoParser) => R {
  const entries = schema.fields.map((f) => {
    const v = `raw[${quote(f.snake)}]`;
    if (f.kind === 'timestamp') return [f.key, `iso.parse(where + ${quote(`.${f.snake}`)}, ${v})`] as const;
    return [f.key, f.nullable ? `${v} ?? null` : v] as const;
  });
  return compile(`${schema.type}FromJson`, ['raw', 'where', 'iso'], `return ${objectLiteral(entries)};`);
}

/** The schema of each metric type. */
export const SCHEMAS = Object.freeze({ processing: PROCESSING_SCHEMA, memory: MEMORY_SCHEMA, gpu: GPU_SCHEMA } as const) satisfies Readonly<
  Record<MetricType, { readonly type: MetricType; readonly arrayKey: string; readonly fields: readonly FieldSpec[] }>
>;

/** The CSV columns of each metric type (snake_case, schema order). */
export const CSV_COLUMNS: Readonly<Record<MetricType, readonly string[]>> = Object.freeze({
  processing: Object.freeze(PROCESSING_SCHEMA.fields.map((f) => f.snake)),
  memory: Object.freeze(MEMORY_SCHEMA.fields.map((f) => f.snake)),
  gpu: Object.freeze(GPU_SCHEMA.fields.map((f) => f.snake)),
});

// ---------------------------------------------- processing, hand-specialised

const JSON_OK_TAIL = ',"photo_id":null,"job_id":null,"stage":null,"success":true,"error_message":null}';
const CSV_OK_TAIL = ',,,,true,\r\n';

/** State of one processing export: the shared caches and a fragment per operation. */
export interface ProcessingText extends TextState {
  /** `","operation":"op","duration_ms":` per operation. */
  jsonOps: Fragments;
  /** `,op,` (CSV cell) per operation. */
  csvOps: Fragments;
}

export function processingText(): ProcessingText {
  return {
    ...textState(),
    jsonOps: new Fragments((op) => `","operation":${JSON.stringify(op)},"duration_ms":`),
    csvOps: new Fragments((op) => `,${csvText(op)},`),
  };
}

/** Same text as compileJsonLine(PROCESSING_SCHEMA), in fewer steps. */
export function processingJson(r: ProcessingTimeMetric, t: ProcessingText): string {
  const head = `{"timestamp":"${t.iso.format(r.timestamp)}${t.jsonOps.get(r.operation)}${jsonNum(r.durationMs)}`;
  if (r.success && r.photoId === null && r.jobId === null && r.stage === null && r.errorMessage === null) return head + JSON_OK_TAIL;
  return (
    `${head},"photo_id":${jsonNum(r.photoId)},"job_id":${t.js.str(r.jobId)},"stage":${t.js.str(r.stage)},` +
    `"success":${r.success ? 'true' : 'false'},"error_message":${t.js.str(r.errorMessage)}}`
  );
}

/** Same text as compileCsvLine(PROCESSING_SCHEMA), in fewer steps. */
export function processingCsv(r: ProcessingTimeMetric, t: ProcessingText): string {
  const head = `${t.iso.format(r.timestamp)}${t.csvOps.get(r.operation)}${csvNum(r.durationMs)}`;
  if (r.success && r.photoId === null && r.jobId === null && r.stage === null && r.errorMessage === null) return head + CSV_OK_TAIL;
  return `${head},${csvNum(r.photoId)},${t.cs.str(r.jobId)},${t.cs.str(r.stage)},${r.success ? 'true' : 'false'},${t.cs.str(r.errorMessage)}\r\n`;
}

// ------------------------------------------ processing, as bytes (the exports)

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
export const JSON_OK_TAIL_BYTES = ascii(JSON_OK_TAIL);
export const CSV_OK_TAIL_BYTES = ascii(CSV_OK_TAIL);
export const NULL_BYTES = ascii('null');
export const PHOTO_KEY = ascii(',"photo_id":');
export const JOB_NULL = ascii(',"job_id":null');
export const STAGE_NULL = ascii(',"stage":null');
export const COMMA = ascii(',');
export const SUCCESS_TRUE = ascii(',"success":true,"error_message":');
export const SUCCESS_FALSE = ascii(',"success":false,"error_message":');
export const CSV_TRUE = ascii(',true,');
export const CSV_FALSE = ascii(',false,');
export const EMPTY = Buffer.alloc(0);
/** Bytes of a record besides its strings, at most (timestamp 27, numbers 2 x 24, keys and literals). */
export const RECORD_FIXED_BYTES = 256;

/**
 * IsoFormatter, writing bytes, after a constant lead (`{"timestamp":"` for
 * the JSON records): the lead, the "YYYY-MM-DDTHH:MM:SS" prefix and the "."
 * are made once per second and copied as one run of bytes.
 */
export class IsoBytes {
  private sec = NaN;
  private readonly prefix: Buffer;
  private readonly lead: number;
  constructor(lead = '') {
    this.lead = lead.length;
    this.prefix = Buffer.alloc(lead.length + 20);
    this.prefix.write(lead, 'latin1');
    this.prefix[lead.length + 19] = 46; // .
  }
  /** Writes the lead and the 27 bytes of `ms` as IsoFormatter.format writes them (no room check). */
  write(ms: number, o: ByteSink): void {
    let sec = Math.floor(ms / 1000);
    let micros = Math.round((ms - sec * 1000) * 1000);
    if (micros >= 1_000_000) {
      sec += 1;
      micros -= 1_000_000;
    }
    const prefix = this.prefix;
    if (sec !== this.sec) {
      this.sec = sec;
      prefix.write(new Date(sec * 1000).toISOString().slice(0, 19), this.lead, 'latin1');
    }
    const buf = o.buf;
    let pos = o.pos;
    for (let i = 0; i < prefix.length; i++) buf[pos++] = prefix[i]!;
    o.pos = pos;
    o.fixed(micros, 6);
    buf[o.pos++] = 90; // Z
  }
}

/** jsonNum, writing bytes (no room check): the shortest round-trip text computed without a string (./number-text.ts). */
export function jsonNumBytes(n: number | null, o: ByteSink): void {
  if (typeof n !== 'number' || !Number.isFinite(n)) o.put(NULL_BYTES);
  else writeNumber(n, o);
}

/** csvNum, writing bytes (no room check): the same digits, computed without a string. */
export function csvNumBytes(n: number | null, o: ByteSink): void {
  if (typeof n !== 'number' || !Number.isFinite(n)) return;
  if (Number.isInteger(n)) {
    if (n >= 0 && n <= Number.MAX_SAFE_INTEGER) o.uint(n);
    else o.ascii(String(n));
    return;
  }
  const scaled = Math.round(n * 1e6);
  if (!Number.isSafeInteger(scaled)) {
    o.ascii(String(n));
    return;
  }
  const neg = scaled < 0;
  const m = neg ? -scaled : scaled;
  const ip = Math.floor(m / 1e6);
  let fp = m - ip * 1e6;
  if (fp === 0) {
    if (neg && ip !== 0) o.buf[o.pos++] = 45; // -
    o.uint(ip);
    return;
  }
  let digits = 6;
  while (fp % 10 === 0) {
    fp /= 10;
    digits--;
  }
  if (neg) o.buf[o.pos++] = 45;
  o.uint(ip);
  o.buf[o.pos++] = 46; // .
  o.fixed(fp, digits);
}

/** State of one processing export written as bytes: byte fragments per operation and per string (each keeps its first 65,536 keys). */
export interface ProcessingBytes {
  /** `{"timestamp":"` and the timestamp's text up to its closing quote (JSON). */
  isoJson: IsoBytes;
  /** The timestamp's text (CSV). */
  iso: IsoBytes;
  /** `","operation":"op","duration_ms":` per operation (closes the timestamp's string). */
  jsonOps: ByteFragments;
  /** `,op,` (CSV cell) per operation. */
  csvOps: ByteFragments;
  /** `,"job_id":"..."` and `,"stage":"..."` per string: a key and its value in one copy. */
  jsonJob: ByteFragments;
  jsonStage: ByteFragments;
  /** JSON text of a string (error messages). */
  js: ByteFragments;
  /** `,cell` per string (csvText) for the job and stage columns. */
  csvJob: ByteFragments;
  csvStage: ByteFragments;
  /** CSV cell of a string (csvText; error messages). */
  cs: ByteFragments;
}

export function processingBytes(): ProcessingBytes {
  return {
    isoJson: new IsoBytes('{"timestamp":"'),
    iso: new IsoBytes(),
    jsonOps: new ByteFragments((op) => `","operation":${JSON.stringify(op)},"duration_ms":`),
    csvOps: new ByteFragments((op) => `,${csvText(op)},`),
    jsonJob: new ByteFragments((s) => `,"job_id":${JSON.stringify(s)}`),
    jsonStage: new ByteFragments((s) => `,"stage":${JSON.stringify(s)}`),
    js: new ByteFragments(JSON.stringify),
    csvJob: new ByteFragments((s) => `,${csvText(s)}`),
    csvStage: new ByteFragments((s) => `,${csvText(s)}`),
    cs: new ByteFragments(csvText),
  };
}

/** The bytes of processingJson(r) (the same text), written into `o`. */
export function writeProcessingJson(r: ProcessingTimeMetric, t: ProcessingBytes, o: ByteSink): void {
  const op = t.jsonOps.get(r.operation);
  if (r.success && r.photoId === null && r.jobId === null && r.stage === null && r.errorMessage === null) {
    o.ensure(RECORD_FIXED_BYTES + op.length);
    t.isoJson.write(r.timestamp, o);
    o.put(op);
    jsonNumBytes(r.durationMs, o);
    o.put(JSON_OK_TAIL_BYTES);
    return;
  }
  const job = r.jobId === null ? JOB_NULL : t.jsonJob.get(r.jobId);
  const stage = r.stage === null ? STAGE_NULL : t.jsonStage.get(r.stage);
  const err = r.errorMessage === null ? NULL_BYTES : t.js.get(r.errorMessage);
  o.ensure(RECORD_FIXED_BYTES + op.length + job.length + stage.length + err.length);
  t.isoJson.write(r.timestamp, o);
  o.put(op);
  jsonNumBytes(r.durationMs, o);
  o.put(PHOTO_KEY);
  jsonNumBytes(r.photoId, o);
  o.put(job);
  o.put(stage);
  o.put(r.success ? SUCCESS_TRUE : SUCCESS_FALSE);
  o.put(err);
  o.buf[o.pos++] = 125; // }
}

/** The bytes of processingCsv(r) (the same row), written into `o`. */
export function writeProcessingCsv(r: ProcessingTimeMetric, t: ProcessingBytes, o: ByteSink): void {
  const op = t.csvOps.get(r.operation);
  if (r.success && r.photoId === null && r.jobId === null && r.stage === null && r.errorMessage === null) {
    o.ensure(RECORD_FIXED_BYTES + op.length);
    t.iso.write(r.timestamp, o);
    o.put(op);
    csvNumBytes(r.durationMs, o);
    o.put(CSV_OK_TAIL_BYTES);
    return;
  }
  const job = r.jobId === null ? COMMA : t.csvJob.get(r.jobId);
  const stage = r.stage === null ? COMMA : t.csvStage.get(r.stage);
  const err = r.errorMessage === null ? EMPTY : t.cs.get(r.errorMessage);
  o.ensure(RECORD_FIXED_BYTES + op.length + job.length + stage.length + err.length);
  t.iso.write(r.timestamp, o);
  o.put(op);
  csvNumBytes(r.durationMs, o);
  o.buf[o.pos++] = 44; // ,
  csvNumBytes(r.photoId, o);
  o.put(job);
  o.put(stage);
  o.put(r.success ? CSV_TRUE : CSV_FALSE);
  o.put(err);
  o.buf[o.pos++] = 13; // \r
  o.buf[o.pos++] = 10; // \n
}
