/**
 * Per-user cooldown after refused frames (invariant 5 of `limits.ts`). The relay reads a frame whole before it can
 * refuse it (4 MiB nested a million deep is refused in microseconds, but receiving it is not free), and each
 * attacking connection sends one frame and is gone, so no per-connection limit sees it twice. Signed-in connections
 * have a user: each one that ends on a refused frame is a strike against that user, and a user with more than
 * `perMinute` strikes within a minute may not sign in for `cooldownMs`. A device with a bug that sends a bad frame
 * now and then is not affected; one that sends them over and over is refused until it is fixed or the cooldown ends.
 *
 * The table holds only users struck within the last minute or cooling down: entries expire.
 */

/** Strikes and cooldowns per user. */
export interface BadFrameLimits {
  /** A signed-in connection of `user` ended on a refused frame. */
  strike(user: string): void;
  /** Ms left of `user`'s cooldown, or 0 when it may sign in. */
  coolingDown(user: string): number;
  /** Stops the periodic sweep. */
  close(): void;
}

interface Entry {
  /** Strike times within the last minute, oldest first. */
  readonly strikes: number[];
  until: number;
}

const MINUTE = 60_000;

/** Creates the table; `now` is the clock in ms. */
export function createBadFrameLimits(options: {
  readonly perMinute: number;
  readonly cooldownMs: number;
  readonly now?: () => number;
}): BadFrameLimits {
  const now = options.now ?? (() => performance.now());
  const entries = new Map<string, Entry>();
  const prune = (e: Entry, t: number) => {
    while (e.strikes.length > 0 && e.strikes[0]! <= t - MINUTE) e.strikes.shift();
  };
  const timer = setInterval(() => {
    const t = now();
    for (const [user, e] of entries) {
      prune(e, t);
      if (e.strikes.length === 0 && e.until <= t) entries.delete(user);
    }
  }, 10_000);
  timer.unref();
  return {
    strike(user) {
      const t = now();
      let e = entries.get(user);
      if (!e) {
        e = { strikes: [], until: 0 };
        entries.set(user, e);
      }
      prune(e, t);
      e.strikes.push(t);
      if (e.strikes.length > options.perMinute) {
        e.until = t + options.cooldownMs;
        e.strikes.length = 0;
      }
    },
    coolingDown(user) {
      const e = entries.get(user);
      return e ? Math.max(0, e.until - now()) : 0;
    },
    close: () => clearInterval(timer),
  };
}
