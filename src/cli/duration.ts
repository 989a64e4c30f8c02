/**
 * Durations on the command line: `100ms`, `1s`, `2.5m`, `1h`; a bare number
 * is milliseconds. Zero, negative and unparseable values are refused with a
 * one-line error that names the option.
 */
import { rangeError } from '../errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PATTERN = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)?$/;

/** Upper bound the native sampler accepts (24 h). */
export const MAX_DURATION_MS = 24 * 3_600_000;

export function parseDuration(option: string, text: string, minMs = 1, maxMs = MAX_DURATION_MS): number {
  const expected = `a duration such as 100ms, 1s, 2m or 1h (a bare number is ms) from ${formatDuration(minMs)} to ${formatDuration(maxMs)}`;
  const m = PATTERN.exec(text.trim().toLowerCase());
  if (!m) throw rangeError(option, expected, text);
  const ms = Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
  if (!Number.isFinite(ms) || ms < minMs || ms > maxMs) throw rangeError(option, expected, text);
  return ms;
}

export function formatDuration(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** `1234.5` ms -> `1.23 s`, for summaries. */
export function humanDuration(ms: number): string {
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const m = Math.floor(ms / 60_000);
  const s = (ms - m * 60_000) / 1000;
  if (m < 60) return `${m} min ${s.toFixed(1)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
