/**
 * Input checks of the collector's public methods. Each throws a TypeError
 * or RangeError from src/errors.ts naming the field; none allocates on the
 * success path. The checks of record fields are the schema's
 * (src/schema/field.ts), so the record path and imports agree.
 */
import { rangeError, typeError } from '../errors.js';
import { checkOptionalInteger, checkOptionalString } from '../schema/field.js';
import { METRIC_TYPES, type MetricType, type RecordMeta, type RecordQuery, type WindowQuery } from '../types.js';

export { MAX_OPERATION_LENGTH, checkGpuId, checkOperation, throwBadDuration } from '../schema/field.js';

/** The optional metadata of a record: photoId, jobId, stage, and with `full` success and errorMessage. */
export function checkMeta(meta: unknown, full: boolean): void {
  if (meta === null || typeof meta !== 'object') throw typeError('meta', 'an object', meta);
  const m = meta as RecordMeta;
  if (m.photoId != null && !Number.isSafeInteger(m.photoId)) checkOptionalInteger('photoId', m.photoId);
  if (m.jobId != null && typeof m.jobId !== 'string') checkOptionalString('jobId', m.jobId);
  if (m.stage != null && typeof m.stage !== 'string') checkOptionalString('stage', m.stage);
  if (full) {
    if (m.success != null && typeof m.success !== 'boolean') throw typeError('success', 'a boolean', m.success);
    if (m.errorMessage != null && typeof m.errorMessage !== 'string') checkOptionalString('errorMessage', m.errorMessage);
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

export function checkMetricType(type: unknown, field = 'type'): asserts type is MetricType {
  if (!METRIC_TYPES.includes(type as MetricType)) {
    const expected = `one of ${METRIC_TYPES.map((t) => `'${t}'`).join(', ')}`;
    if (typeof type !== 'string') throw typeError(field, expected, type);
    throw rangeError(field, expected, type);
  }
}
