/**
 * Input checks of the collector's public methods. Each throws a TypeError
 * or RangeError from src/errors.ts naming the field; none allocates on the
 * success path.
 */
import { rangeError, typeError } from '../errors.js';
import { METRIC_TYPES, type MetricType, type RecordMeta, type RecordQuery, type WindowQuery } from './types.js';

/** Longest operation name accepted. */
export const MAX_OPERATION_LENGTH = 256;

export function checkOperation(operation: unknown, field = 'operation'): void {
  if (typeof operation !== 'string') throw typeError(field, `a string of 1 to ${MAX_OPERATION_LENGTH} characters`, operation);
  if (operation.length === 0 || operation.length > MAX_OPERATION_LENGTH) {
    throw rangeError(field, `a string of 1 to ${MAX_OPERATION_LENGTH} characters`, operation);
  }
}

export function throwBadDuration(durationMs: unknown, field = 'durationMs'): void {
  if (typeof durationMs !== 'number') throw typeError(field, 'a finite number >= 0', durationMs);
  throw rangeError(field, 'a finite number >= 0', durationMs);
}

export function checkOptionalString(field: string, value: unknown): void {
  if (value != null && typeof value !== 'string') throw typeError(field, 'a string', value);
}

/** `prefix` names the record in error messages (importRecords: 'processing[3].'). */
export function checkMeta(meta: unknown, full: boolean, prefix = ''): void {
  if (meta === null || typeof meta !== 'object') throw typeError(`${prefix}meta`, 'an object', meta);
  const m = meta as RecordMeta;
  const photoId = m.photoId;
  if (photoId != null) {
    if (typeof photoId !== 'number') throw typeError(`${prefix}photoId`, 'an integer', photoId);
    if (!Number.isSafeInteger(photoId)) throw rangeError(`${prefix}photoId`, 'an integer', photoId);
  }
  if (m.jobId != null && typeof m.jobId !== 'string') checkOptionalString(`${prefix}jobId`, m.jobId);
  if (m.stage != null && typeof m.stage !== 'string') checkOptionalString(`${prefix}stage`, m.stage);
  if (full) {
    if (m.success != null && typeof m.success !== 'boolean') throw typeError(`${prefix}success`, 'a boolean', m.success);
    if (m.errorMessage != null && typeof m.errorMessage !== 'string') checkOptionalString(`${prefix}errorMessage`, m.errorMessage);
  }
}

export function checkWindow(query: WindowQuery | undefined): void {
  if (query === undefined) return;
  if (query === null || typeof query !== 'object') throw typeError('query', 'an object', query);
  const d = query.durationMinutes;
  if (d !== undefined) {
    if (typeof d !== 'number') throw typeError('durationMinutes', 'a positive number', d);
    if (!(d > 0) || d === Infinity) throw rangeError('durationMinutes', 'a positive number', d);
  }
  const since = (query as RecordQuery).since;
  if (since !== undefined) {
    if (typeof since !== 'number') throw typeError('since', 'a number (epoch ms)', since);
    if (Number.isNaN(since)) throw rangeError('since', 'a number (epoch ms)', since);
  }
}

export function checkGpuId(gpuId: unknown, field = 'gpuId'): void {
  if (gpuId === undefined) return;
  if (typeof gpuId !== 'number') throw typeError(field, 'an integer >= 0', gpuId);
  if (!Number.isInteger(gpuId) || gpuId < 0) throw rangeError(field, 'an integer >= 0', gpuId);
}

export function checkMetricType(type: unknown, field = 'type'): asserts type is MetricType {
  if (!METRIC_TYPES.includes(type as MetricType)) {
    const expected = `one of ${METRIC_TYPES.map((t) => `'${t}'`).join(', ')}`;
    if (typeof type !== 'string') throw typeError(field, expected, type);
    throw rangeError(field, expected, type);
  }
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
export function checkTimestamp(field: string, value: unknown): void {
  if (typeof value !== 'number') throw typeError(field, TIMESTAMP_RANGE, value);
  if (!(value >= MIN_TIMESTAMP && value < END_TIMESTAMP)) throw rangeError(field, TIMESTAMP_RANGE, value);
}

/** A figure of an imported record: finite, or null (NaN, the store's "unknown", reads back as null). */
export function checkNullableNumber(field: string, value: unknown): void {
  if (value == null) return;
  if (typeof value !== 'number') throw typeError(field, 'a finite number or null', value);
  if (value === Infinity || value === -Infinity) throw rangeError(field, 'a finite number or null', value);
}
