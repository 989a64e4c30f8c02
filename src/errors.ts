/**
 * The ground floor's errors: the one table of error and warning codes, and
 * the typed errors for bad input. Every message names the field, what was
 * expected and what was given, e.g.
 *   RangeError [ERR_PERFPROBE_INVALID_ARGUMENT]: maxHistorySize must be an integer >= 1, got -5
 */

/** Every `error.code` perfprobe throws or rejects with. Match on these, never on message text. */
export const ErrorCode = Object.freeze({
  /** A TypeError or RangeError for bad input (a caller's mistake: HTTP answers 400). */
  invalidArgument: 'ERR_PERFPROBE_INVALID_ARGUMENT',
  /** exportToJson / exportToCsv could not write the file (error.path names it). */
  exportFailed: 'ERR_PERFPROBE_EXPORT_FAILED',
  /** importFromJson could not read or parse the file (error.path names it). */
  importFailed: 'ERR_PERFPROBE_IMPORT_FAILED',
  /** readGpusSync / readGpuEnergy without NVML (the message says why). */
  nvmlUnavailable: 'ERR_PERFPROBE_NVML_UNAVAILABLE',
  /** A record iterator (or the export reading it) fell more than SNAPSHOT_SPILL_LIMIT evicted records behind. */
  snapshotOverrun: 'ERR_PERFPROBE_SNAPSHOT_OVERRUN',
} as const);

/** Every `process.emitWarning(..., { code })` perfprobe emits (each at most once per cause). */
export const WarningCode = Object.freeze({
  /** The native addon could not be loaded; the fallbacks are in use. */
  addonUnavailable: 'PERFPROBE_ADDON_UNAVAILABLE',
  /** A GPU answered NVML_ERROR_GPU_IS_LOST. */
  gpuLost: 'PERFPROBE_GPU_LOST',
  /** More distinct operation names than maxOperations. */
  operationOverflow: 'PERFPROBE_OPERATION_OVERFLOW',
  /** An automatic export (autoExportIntervalSec, exportOnExit) failed. */
  exportFailed: 'PERFPROBE_EXPORT_FAILED',
  /** The native sampler's ring overflowed before it was drained. */
  samplesDropped: 'PERFPROBE_SAMPLES_DROPPED',
  /** A GPU cannot register for NVML events (Xid, ECC): watchGpuEvents() watches the others (once per GPU). */
  gpuEventsUnavailable: 'PERFPROBE_GPU_EVENTS_UNAVAILABLE',
  /** serve() listens on an address other machines can reach, without a token. */
  unauthenticatedServer: 'PERFPROBE_UNAUTHENTICATED_SERVER',
} as const);

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];
export type WarningCodeValue = (typeof WarningCode)[keyof typeof WarningCode];

// The names the package exported before the table: kept as they are.
export const ERR_INVALID_ARGUMENT = ErrorCode.invalidArgument;
export const ERR_EXPORT_FAILED = ErrorCode.exportFailed;
export const ERR_IMPORT_FAILED = ErrorCode.importFailed;
export const ERR_NVML_UNAVAILABLE = ErrorCode.nvmlUnavailable;
export const GPU_LOST_WARNING_CODE = WarningCode.gpuLost;
export const ADDON_WARNING_CODE = WarningCode.addonUnavailable;

export type PerfprobeArgumentError = (TypeError | RangeError) & { code: string; field: string };

/** True for the TypeError / RangeError perfprobe throws for bad input. */
export function isArgumentError(err: unknown): err is PerfprobeArgumentError {
  return (err as { code?: unknown } | null)?.code === ErrorCode.invalidArgument;
}

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
  return Object.assign(error, { code: ErrorCode.invalidArgument, field });
}

/** Wrong type: `field must be EXPECTED, got VALUE`. */
export function typeError(field: string, expected: string, got: unknown): PerfprobeArgumentError {
  return make(new TypeError(`${field} must be ${expected}, got ${describeValue(got)}`), field);
}

/** Right type, out of range: `field must be EXPECTED, got VALUE`. */
export function rangeError(field: string, expected: string, got: unknown): PerfprobeArgumentError {
  return make(new RangeError(`${field} must be ${expected}, got ${describeValue(got)}`), field);
}

/** An error with one of the codes above and extra properties (path, cause). */
export function codedError<P extends object>(code: ErrorCodeValue, message: string, props: P, cause?: unknown): Error & { code: string } & P {
  return Object.assign(cause === undefined ? new Error(message) : new Error(message, { cause }), { code, ...props });
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
