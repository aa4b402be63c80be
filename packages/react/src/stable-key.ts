/**
 * Stable keys for live queries: two queries that ask the same thing get the same key, however their objects were
 * built, so every component asking it shares one worker subscription.
 */

function normalize(value: unknown): unknown {
  if (value instanceof Date) return { $date: value.getTime() };
  if (typeof value === 'bigint') return { $bigint: value.toString() };
  if (Array.isArray(value)) return value.map((item) => (item === undefined ? null : normalize(item)));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== undefined) out[key] = normalize(item);
    }
    return out;
  }
  return value;
}

/**
 * A string equal for structurally equal values: object keys sorted, `undefined` properties dropped (as
 * `JSON.stringify` does), dates by their time, bigints by their digits. Distinct kinds never collide: a date and
 * the number of its milliseconds give different keys.
 */
export function stableKey(value: unknown): string {
  return JSON.stringify(normalize(value)) ?? 'undefined';
}
