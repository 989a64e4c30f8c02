/**
 * Records of a JSON export parsed straight from the file's bytes into
 * columns (./json-scan.ts tokens), compiled from the metric type's schema:
 * one function per schema reads a record object in any key order (unknown
 * keys read and dropped, the last of duplicate keys kept, as JSON.parse
 * does), converts it as compileFromJson does (timestamps through
 * IsoParser's rules, absent nullable fields null) and checks it with the
 * schema's field tests (fitsExpression, inlined: a good record allocates
 * nothing but its strings). A record that fails is handed to checkRecord,
 * which throws the error importRecords and importFromJson always threw
 * (`processing_metrics[3].duration_ms must be ...`); nothing is written for
 * it.
 *
 * The columns (RecordColumns) hold a record in ~41 bytes for processing
 * (float64 numbers, NaN for null; booleans in bytes; strings as shared
 * references), far less than the record objects, and are turned into
 * records a batch at a time for importRecords.
 */
import { compile, objectLiteral, quote } from '../../schema/compile.js';
import { MAX_OPERATION_LENGTH, fitsExpression, type FieldSpec } from '../../schema/field.js';
import { checkRecord, type RecordSchema } from '../../schema/record.js';
import type { IsoParser } from './codecs.js';
import type { RecordScanner } from './record-scan.js';

type ColumnKind = 'f64' | 'u8' | 'ref';

function columnKind(f: FieldSpec): ColumnKind {
  switch (f.kind) {
    case 'boolean':
      return 'u8';
    case 'operation':
    case 'string':
    case 'object':
      return 'ref';
    default:
      return 'f64';
  }
}

/** A schema's records as columns: `c<i>` is field i's column. */
export class RecordColumns {
  n = 0;
  cap: number;
  /** Timestamps never decreased so far (then the records can go to importRecords in batches). */
  sorted = true;
  readonly cols: Array<Float64Array | Uint8Array | unknown[]>;
  constructor(
    readonly schema: RecordSchema,
    cap = 1024,
  ) {
    this.cap = cap;
    this.cols = schema.fields.map((f) => {
      const k = columnKind(f);
      return k === 'f64' ? new Float64Array(cap) : k === 'u8' ? new Uint8Array(cap) : refs(cap);
    });
  }
  grow(): void {
    const cap = this.cap * 2;
    this.cols.forEach((c, i) => {
      if (c instanceof Float64Array) {
        const g = new Float64Array(cap);
        g.set(c);
        this.cols[i] = g;
      } else if (c instanceof Uint8Array) {
        const g = new Uint8Array(cap);
        g.set(c);
        this.cols[i] = g;
      } else {
        const g = refs(cap);
        for (let j = 0; j < this.n; j++) g[j] = c[j];
        this.cols[i] = g;
      }
    });
    this.cap = cap;
  }
  /** Bytes held by the typed columns and the reference slots (4 bytes each, compressed pointers). */
  get byteLength(): number {
    return this.cols.reduce<number>((s, c) => s + (Array.isArray(c) ? 4 * c.length : c.byteLength), 0);
  }
  clear(): void {
    this.n = 0;
    this.sorted = true;
    for (const c of this.cols) if (Array.isArray(c)) c.fill(null);
  }
}

/**
 * A reference column of `cap` slots, allocated whole: storing past the end
 * of a large JS array (V8 growing it a step at a time) cost ~50x a store
 * into allocated slots (900 against 22 ns for four columns).
 */
function refs(cap: number): unknown[] {
  return new Array<unknown>(cap).fill(null);
}

/** Parses one record object at the scanner (buf[p] is '{') into `cols`; `index` names it in errors. */
export type RecordParser = (S: RecordScanner, cols: RecordColumns, index: number, iso: IsoParser) => void;
/** Record `i` of the columns as a record object (schema key order). */
export type RecordReader<R> = (cols: RecordColumns, i: number) => R;

/** How a field's value is read: the scanner method for its kind. */
function readExpr(f: FieldSpec): string {
  switch (f.kind) {
    case 'timestamp':
      return 'S.timestamp()';
    case 'operation':
    case 'string':
      return 'S.str()';
    case 'duration':
    case 'integer':
    case 'id':
    case 'number':
      return 'S.num()';
    default:
      return 'S.value(3)';
  }
}

/**
 * The record parser of a schema. Fast path: the keys in schema order with
 * no whitespace (the layout exportJson and `jq -c` write), each matched
 * with the bytes before its value (`,"photo_id":`, and `,"photo_id":null`
 * for a null); at the first difference it goes on with the general loop
 * (any order, whitespace, unknown keys), from where the fast path stopped.
 */
export function compileRecordParser(schema: RecordSchema): RecordParser {
  const fields = schema.fields;
  const ts = fields.findIndex((f) => f.kind === 'timestamp');
  const v = (i: number): string => `v${i}`;
  const frag = (i: number, tail = ''): Buffer => Buffer.from(`${i === 0 ? '' : ','}${JSON.stringify(f0(i))}:${tail}`, 'utf8');
  const f0 = (i: number): string => fields[i]!.snake;
  const FRAGS: Buffer[] = [];
  const fragRef = (b: Buffer): string => `F[${FRAGS.push(b) - 1}]`;
  const fast = fields
    .map((f, i) => {
      const tries: string[] = [];
      if (f.nullable) tries.push(`if (S.frag(${fragRef(frag(i, 'null'))})) ${v(i)} = null;`);
      if (f.kind === 'boolean') {
        tries.push(`if (S.frag(${fragRef(frag(i, 'true'))})) ${v(i)} = true;`);
        tries.push(`if (S.frag(${fragRef(frag(i, 'false'))})) ${v(i)} = false;`);
      }
      tries.push(`if (S.frag(${fragRef(frag(i))})) ${v(i)} = ${readExpr(f)};`);
      return `if (k === ${i}) { ${tries.join(' else ')} else k = -k - 1; if (k >= 0) k++; }`;
    })
    .join('\n  ');
  const cases = fields.map((f, i) => `case ${i}: ${v(i)} = ${readExpr(f)}; break;`).join('\n        ');
  const where = `AK + '[' + index + ']'`;
  const body = `
  let ${fields.map((_, i) => v(i)).join(', ')};
  S.p++;
  // k: keys read so far by the fast path; -k-1 once it has stopped.
  let k = 0;
  ${fast}
  if (k < 0) k = -k - 1;
  let b = S.ws();
  if (k > 0 && b !== 125) {
    if (b !== 44) S.fail();
    S.p++;
    b = S.ws();
  }
  if (b !== 125) {
    for (; ; k++) {
      if (b !== 34) S.fail();
      switch (S.key(KEYS, NAMES, k)) {
        ${cases}
        default: S.value(3);
      }
      b = S.ws();
      if (b === 44) { S.p++; b = S.ws(); continue; }
      if (b === 125) break;
      S.fail();
    }
  }
  S.p++;
  ${ts >= 0 ? `if (typeof ${v(ts)} !== 'number' || ${v(ts)} - ${v(ts)} !== 0) ${v(ts)} = iso.parse(${where} + ${quote(`.${fields[ts]!.snake}`)}, ${v(ts)});` : ''}
  ${fields.map((f, i) => (f.nullable ? `if (${v(i)} === undefined) ${v(i)} = null;` : '')).join(' ')}
  if (!(${fields.map((f, i) => fitsExpression(f, v(i))).join(' &&\n      ')})) {
    checkRecord(SCHEMA, ${objectLiteral(fields.map((f, i) => [f.key, v(i)] as const))}, ${where}, 'snake', 'an object');
  }
  const n = cols.n;
  if (n === cols.cap) cols.grow();
  const c = cols.cols;
  ${ts >= 0 ? `if (n > 0 && ${v(ts)} < c[${ts}][n - 1]) cols.sorted = false;` : ''}
  ${fields
    .map((f, i) => {
      const kind = columnKind(f);
      if (kind === 'u8') return `c[${i}][n] = ${v(i)} === true ? 1 : ${v(i)} === false ? 0 : 2;`;
      if (kind === 'ref') return `c[${i}][n] = ${v(i)};`;
      return f.nullable ? `c[${i}][n] = ${v(i)} === null ? NaN : ${v(i)};` : `c[${i}][n] = ${v(i)};`;
    })
    .join('\n  ')}
  cols.n = n + 1;`;
  return compile<RecordParser>(`${schema.type}RecordParser`, ['S', 'cols', 'index', 'iso'], body, {
    KEYS: fields.map((f) => Buffer.from(f.snake, 'utf8')),
    NAMES: new Map(fields.map((f, i) => [f.snake, i])),
    F: FRAGS,
    AK: schema.arrayKey,
    SCHEMA: schema,
    checkRecord,
    MAX_OPERATION_LENGTH,
  });
}

/** The reader of record objects out of a schema's columns. */
export function compileRecordReader<R>(schema: RecordSchema): RecordReader<R> {
  const entries = schema.fields.map((f, i) => {
    const col = `c[${i}][i]`;
    const k = columnKind(f);
    if (k === 'u8') return [f.key, `${col} === 1 ? true : ${col} === 0 ? false : null`] as const;
    if (k === 'ref' || !f.nullable) return [f.key, col] as const;
    return [f.key, `${col} !== ${col} ? null : ${col}`] as const;
  });
  return compile<RecordReader<R>>(`${schema.type}RecordReader`, ['cols', 'i'], `const c = cols.cols;\nreturn ${objectLiteral(entries)};`);
}
