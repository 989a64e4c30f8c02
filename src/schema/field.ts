/**
 * What one field of a record is, said once: its camelCase key (records,
 * readings, the library API), its snake_case name (JSON export key, CSV
 * column, HTTP), its kind (which fixes the check, the JSON and CSV
 * encoding and the store column), whether it may be null, and its unit.
 * The check of each kind lives here too, so the record path, importRecords
 * and importFromJson reject the same values with the same message.
 */
import { rangeError, typeError } from '../errors.js';

/** Longest operation name accepted (record path, imports, HTTP `operation`): a longer one is a RangeError. */
export const MAX_OPERATION_LENGTH = 256;
/** Longest stored jobId: a longer one is cut (see capString). */
export const MAX_JOB_ID_LENGTH = 256;
/** Longest stored stage: a longer one is cut (see capString). */
export const MAX_STAGE_LENGTH = 256;
/** Longest stored errorMessage: a longer one is cut (see capString). */
export const MAX_ERROR_MESSAGE_LENGTH = 1024;

/**
 * A string cut to at most `max` characters (UTF-16 code units), marked: its
 * first characters, then `…[truncated N chars]`, where N is how many were
 * dropped, `max` characters in all. The cut never splits a surrogate pair.
 * A string of at most `max` characters is returned as it is, so a stored
 * (already cut) string read back and stored again is unchanged.
 */
export function capString(s: string, max: number): string {
  if (s.length <= max) return s;
  let kept = max;
  let marker = '';
  do {
    kept = Math.max(0, Math.min(kept, max - marker.length));
    if (kept > 0 && (s.charCodeAt(kept - 1) & 0xfc00) === 0xd800) kept--; // a high surrogate: keep the pair whole
    marker = `\u2026[truncated ${s.length - kept} chars]`;
  } while (kept + marker.length > max && kept > 0);
  return s.slice(0, kept) + marker;
}

/**
 * - timestamp: epoch ms (fractional), years 0000-9999; ISO-8601 UTC in files
 * - operation: a string of 1 to MAX_OPERATION_LENGTH characters
 * - duration:  a finite number >= 0 (ms)
 * - integer:   a safe integer (photoId)
 * - id:        an integer >= 0 (gpuId)
 * - number:    a finite number; null (NaN in the store) when unknown
 * - string:    any string
 * - boolean:   true or false
 * - object:    a structured value (a list, an object): readings only, never stored
 */
export type FieldKind = 'timestamp' | 'operation' | 'duration' | 'integer' | 'id' | 'number' | 'string' | 'boolean' | 'object';

export interface FieldSpec<K extends string = string> {
  /** camelCase key in records and readings, e.g. `loadPercent`. */
  readonly key: K;
  /** snake_case name: the JSON export key, the CSV column and the HTTP name, e.g. `load_percent`. */
  readonly snake: string;
  readonly kind: FieldKind;
  /** null allowed (and written as null in JSON, an empty cell in CSV). */
  readonly nullable: boolean;
  /** Unit of the value: 'MiB', 'ms', '%', 'W', 'C', 'MHz', 'epoch ms', or '' for none. */
  readonly unit: string;
  readonly doc: string;
}

/** Shorthand for a field row: `field('loadPercent', 'load_percent', 'number', true, '%', 'GPU utilization')`. */
export function field<K extends string>(
  key: K,
  snake: string,
  kind: FieldKind,
  nullable: boolean,
  unit: string,
  doc: string,
): FieldSpec<K> {
  return Object.freeze({ key, snake, kind, nullable, unit, doc });
}

// ----------------------------------------------------------------- checks

export function checkOperation(operation: unknown, name = 'operation'): void {
  if (typeof operation !== 'string') throw typeError(name, `a string of 1 to ${MAX_OPERATION_LENGTH} characters`, operation);
  if (operation.length === 0 || operation.length > MAX_OPERATION_LENGTH) {
    throw rangeError(name, `a string of 1 to ${MAX_OPERATION_LENGTH} characters`, operation);
  }
}

/** Throws the error for a duration that failed `typeof d === 'number' && d >= 0 && d !== Infinity`. */
export function throwBadDuration(durationMs: unknown, name = 'durationMs'): never {
  if (typeof durationMs !== 'number') throw typeError(name, 'a finite number >= 0', durationMs);
  throw rangeError(name, 'a finite number >= 0', durationMs);
}

export function checkOptionalString(name: string, value: unknown): void {
  if (value != null && typeof value !== 'string') throw typeError(name, 'a string', value);
}

export function checkOptionalInteger(name: string, value: unknown): void {
  if (value == null) return;
  if (typeof value !== 'number') throw typeError(name, 'an integer', value);
  if (!Number.isSafeInteger(value)) throw rangeError(name, 'an integer', value);
}

export function checkGpuId(gpuId: unknown, name = 'gpuId'): void {
  if (gpuId === undefined) return;
  if (typeof gpuId !== 'number') throw typeError(name, 'an integer >= 0', gpuId);
  if (!Number.isInteger(gpuId) || gpuId < 0) throw rangeError(name, 'an integer >= 0', gpuId);
}

/** Epoch ms of 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z: the years an ISO-8601 export can write. */
const MIN_TIMESTAMP = -62_167_219_200_000;
const END_TIMESTAMP = 253_402_300_800_000;
const TIMESTAMP_RANGE = 'epoch ms within years 0000 to 9999';

/**
 * A record timestamp. Bounded: the time column is kept sorted, so one far
 * future timestamp would pin every later record to it, and one outside the
 * 4-digit-year range cannot be exported as ISO-8601.
 */
export function checkTimestamp(name: string, value: unknown): void {
  if (typeof value !== 'number') throw typeError(name, TIMESTAMP_RANGE, value);
  if (!(value >= MIN_TIMESTAMP && value < END_TIMESTAMP)) throw rangeError(name, TIMESTAMP_RANGE, value);
}

/** A figure of an imported record: finite, or null (NaN, the store's "unknown", reads back as null). */
export function checkNullableNumber(name: string, value: unknown): void {
  if (value == null) return;
  if (typeof value !== 'number') throw typeError(name, 'a finite number or null', value);
  if (value === Infinity || value === -Infinity) throw rangeError(name, 'a finite number or null', value);
}

/**
 * A JavaScript expression, true when `v` (an expression read once per use)
 * fits field `f`: the fast path of checkField, inlined by checkRecord's
 * compiled checks. Whenever it is true checkField passes; when it is false
 * checkField throws.
 */
export function fitsExpression(f: FieldSpec, v: string): string {
  // null and undefined: allowed when nullable, except an absent id or boolean.
  const okNull = f.nullable;
  const okUndefined = f.nullable && f.kind !== 'id' && f.kind !== 'boolean';
  let test: string;
  switch (f.kind) {
    case 'timestamp':
      test = `typeof ${v} === 'number' && ${v} >= ${MIN_TIMESTAMP} && ${v} < ${END_TIMESTAMP}`;
      break;
    case 'operation':
      test = `typeof ${v} === 'string' && ${v}.length > 0 && ${v}.length <= MAX_OPERATION_LENGTH`;
      break;
    case 'duration':
      test = `typeof ${v} === 'number' && ${v} >= 0 && ${v} !== Infinity`;
      break;
    case 'integer':
      test = `Number.isSafeInteger(${v})`;
      break;
    case 'id':
      test = `Number.isInteger(${v}) && ${v} >= 0`;
      break;
    case 'number':
      test = `typeof ${v} === 'number' && ${v} !== Infinity && ${v} !== -Infinity`;
      break;
    case 'string':
      test = `typeof ${v} === 'string'`;
      break;
    case 'boolean':
      test = `typeof ${v} === 'boolean'`;
      break;
    case 'object':
      test = `typeof ${v} === 'object'`;
      break;
  }
  return `(${v} === null ? ${okNull} : ${v} === undefined ? ${okUndefined} : (${test}))`;
}

/** Throws a TypeError/RangeError naming `name` unless `value` fits field `f`. */
export function checkField(f: FieldSpec, value: unknown, name: string): void {
  switch (f.kind) {
    case 'timestamp':
      checkTimestamp(name, value);
      return;
    case 'operation':
      if (value == null && f.nullable) return;
      checkOperation(value, name);
      return;
    case 'duration':
      if (typeof value !== 'number' || !(value >= 0) || value === Infinity) throwBadDuration(value, name);
      return;
    case 'integer':
      if (value == null && !f.nullable) throw typeError(name, 'an integer', value);
      checkOptionalInteger(name, value);
      return;
    case 'id':
      if (value == null && f.nullable) return;
      if (value === undefined) throw typeError(name, 'an integer >= 0', value);
      checkGpuId(value, name);
      return;
    case 'number':
      if (value == null && !f.nullable) throw typeError(name, 'a finite number', value);
      checkNullableNumber(name, value);
      return;
    case 'string':
      if (value == null && !f.nullable) throw typeError(name, 'a string', value);
      checkOptionalString(name, value);
      return;
    case 'boolean':
      if (value == null && f.nullable) return;
      if (typeof value !== 'boolean') throw typeError(name, 'a boolean', value);
      return;
    case 'object':
      if (value == null && f.nullable) return;
      if (value === null || typeof value !== 'object') throw typeError(name, 'an object', value);
      return;
  }
}
