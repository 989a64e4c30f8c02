/**
 * Collector configuration: defaults and validation. `validateConfig`
 * checks a whole partial update before anything is applied, so
 * updateConfig is all-or-nothing.
 */
import { checkInteger, checkNumber, rangeError, typeError } from '../errors.js';
import type { CollectorConfig } from '../types.js';

export const DEFAULT_CONFIG: Readonly<CollectorConfig> = Object.freeze({
  maxHistorySize: 10_000,
  autoExportIntervalSec: 0,
  exportDirectory: 'data/metrics',
  enableGpuTracking: true,
  enableMemoryTracking: true,
  memorySampleIntervalMs: 60_000,
  maxOperations: 10_000,
  exportOnExit: false,
});

export const CONFIG_KEYS = Object.keys(DEFAULT_CONFIG) as Array<keyof CollectorConfig>;

/** Largest history per metric type (100 million records, a few GB). */
export const MAX_HISTORY_SIZE = 100_000_000;
/** setInterval's limit, in seconds. */
export const MAX_AUTO_EXPORT_SEC = 2_147_483;
export const MAX_SAMPLE_INTERVAL_MS = 86_400_000;

type Checker = (key: string, value: unknown) => void;

const bool: Checker = (key, value) => {
  if (typeof value !== 'boolean') throw typeError(key, 'a boolean', value);
};

const CHECKS: Record<keyof CollectorConfig, Checker> = {
  maxHistorySize: (k, v) => void checkInteger(k, v, 1, MAX_HISTORY_SIZE, `an integer from 1 to ${MAX_HISTORY_SIZE}`),
  autoExportIntervalSec: (k, v) =>
    void checkNumber(k, v, 0, MAX_AUTO_EXPORT_SEC, `a number of seconds from 0 (off) to ${MAX_AUTO_EXPORT_SEC}`),
  exportDirectory: (k, v) => {
    if (typeof v !== 'string') throw typeError(k, 'a non-empty string', v);
    if (v.length === 0) throw rangeError(k, 'a non-empty string', v);
  },
  enableGpuTracking: bool,
  enableMemoryTracking: bool,
  memorySampleIntervalMs: (k, v) =>
    void checkNumber(k, v, 1, MAX_SAMPLE_INTERVAL_MS, `a number of milliseconds from 1 to ${MAX_SAMPLE_INTERVAL_MS}`),
  maxOperations: (k, v) => void checkInteger(k, v, 1, 1_000_000, 'an integer from 1 to 1000000'),
  exportOnExit: bool,
};

/**
 * Validates a partial configuration; throws a TypeError/RangeError naming
 * the first bad key. Returns a plain copy holding only the given keys.
 */
export function validateConfig(partial: unknown, field = 'config'): Partial<CollectorConfig> {
  if (partial === undefined) return {};
  if (partial === null || typeof partial !== 'object' || Array.isArray(partial)) throw typeError(field, 'an object', partial);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(partial)) {
    const check = (CHECKS as Record<string, Checker | undefined>)[key];
    if (!Object.hasOwn(CHECKS, key) || check === undefined) {
      throw rangeError(key, `a known config key (${CONFIG_KEYS.join(', ')})`, key);
    }
    const value = (partial as Record<string, unknown>)[key];
    check(key, value);
    out[key] = value;
  }
  return out as Partial<CollectorConfig>;
}
