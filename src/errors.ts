/**
 * Typed errors for bad input. Every message names the field, what was
 * expected and what was given, e.g.
 *   RangeError [ERR_PERFPROBE_INVALID_ARGUMENT]: maxHistorySize must be an integer >= 1, got -5
 */

export const ERR_INVALID_ARGUMENT = 'ERR_PERFPROBE_INVALID_ARGUMENT';

export type PerfprobeArgumentError = (TypeError | RangeError) & { code: string; field: string };

/** Short, safe rendering of an offending value for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
    return JSON.stringify(shown) + (value.length > 40 ? ` (${value.length} characters)` : '');
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  return `an ${typeof value}`;
}

function make<E extends TypeError | RangeError>(error: E, field: string): E & { code: string; field: string } {
  return Object.assign(error, { code: ERR_INVALID_ARGUMENT, field });
}

/** Wrong type: `field must be EXPECTED, got VALUE`. */
export function typeError(field: string, expected: string, got: unknown): PerfprobeArgumentError {
  return make(new TypeError(`${field} must be ${expected}, got ${describeValue(got)}`), field);
}

/** Right type, out of range: `field must be EXPECTED, got VALUE`. */
export function rangeError(field: string, expected: string, got: unknown): PerfprobeArgumentError {
  return make(new RangeError(`${field} must be ${expected}, got ${describeValue(got)}`), field);
}

/** Throws unless value is a finite number within [min, max]. */
export function checkNumber(field: string, value: unknown, min: number, max: number, expected?: string): number {
  const want = expected ?? `a number from ${min} to ${max}`;
  if (typeof value !== 'number') throw typeError(field, want, value);
  if (!Number.isFinite(value) || value < min || value > max) throw rangeError(field, want, value);
  return value;
}

/** Throws unless value is an integer within [min, max]. */
export function checkInteger(field: string, value: unknown, min: number, max: number, expected?: string): number {
  const want = expected ?? `an integer from ${min} to ${max}`;
  if (typeof value !== 'number') throw typeError(field, want, value);
  if (!Number.isInteger(value) || value < min || value > max) throw rangeError(field, want, value);
  return value;
}
