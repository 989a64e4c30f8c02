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
 * test/schema/writers-follow-schema.test.ts checks record by record.
 */
import { compile, ident, objectLiteral, quote } from '../../schema/compile.js';
import { type FieldSpec } from '../../schema/field.js';
import { GPU_SCHEMA } from '../../schema/gpu.js';
import { MEMORY_SCHEMA } from '../../schema/memory.js';
import { PROCESSING_SCHEMA, type ProcessingTimeMetric } from '../../schema/processing.js';
import { type MetricType, type RecordSchema } from '../../schema/record.js';
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
