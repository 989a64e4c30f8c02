/**
 * snake_case names of keys that no record schema lists (statistics and
 * summary objects): the JSON export's `summary` and the HTTP answers use
 * them, as the seed's dataclasses serialised. Record fields carry their
 * snake_case name in their schema row instead.
 */

const snakeCache = new Map<string, string>();

/** snake_case of a camelCase key: avgDurationMs -> avg_duration_ms. */
export function snakeKey(key: string): string {
  let s = snakeCache.get(key);
  if (s === undefined) {
    s = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    snakeCache.set(key, s);
  }
  return s;
}

/** A shallow copy of a statistics object with snake_case keys and null for non-finite numbers. */
export function toSnake(obj: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    out[snakeKey(k)] = typeof v === 'number' && !Number.isFinite(v) ? null : v;
  }
  return out;
}
