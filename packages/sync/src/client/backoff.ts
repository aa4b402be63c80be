/**
 * Reconnection delays: exponential backoff with full jitter. The n-th retry after a failure waits a uniformly
 * random time in `[0, min(maxMs, baseMs · 2ⁿ))`, so a fleet of devices that lost the same server does not come back
 * in lock-step, and a device that keeps failing settles at one attempt per `maxMs / 2` on average.
 */

/** Backoff settings. */
export interface BackoffOptions {
  /** Ceiling of the first retry's delay, ms (default 500). */
  readonly baseMs?: number;
  /** Largest ceiling, ms (default 30 000). */
  readonly maxMs?: number;
}

/** A backoff schedule: `next()` gives the delay before the next attempt; `reset()` after a success. */
export interface Backoff {
  /** The delay before the next attempt, ms, and counts the attempt. */
  next(): number;
  /** Starts over from the first delay (call once a connection succeeded). */
  reset(): void;
  /** Attempts counted since the last reset. */
  readonly attempts: number;
}

/** The ceiling of the `attempt`-th delay (0-based): `min(maxMs, baseMs · 2^attempt)`. */
export function backoffCeiling(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 500;
  const max = options.maxMs ?? 30_000;
  return Math.min(max, base * 2 ** Math.min(attempt, 52));
}

/** Creates a full-jitter exponential backoff; `random` returns floats in [0, 1) (inject a seeded one in tests). */
export function createBackoff(options: BackoffOptions = {}, random: () => number = Math.random): Backoff {
  let attempts = 0;
  return {
    next() {
      const delay = Math.floor(random() * backoffCeiling(attempts, options));
      attempts++;
      return delay;
    },
    reset() {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}
