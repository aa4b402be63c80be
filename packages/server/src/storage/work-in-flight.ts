/**
 * Counts a store's database work in flight (queries, group transactions, commit-feed reads), so a caller can wait
 * until none is: a test that drives the relay in virtual time must let real I/O finish before it moves the clock.
 * Work waiting on a timer (a group's window, the next poll) is not in flight until its timer fires.
 */

/** The counter. */
export interface WorkInFlight {
  /** Counts `work` until it settles; returns it unchanged. */
  track<T>(work: Promise<T>): Promise<T>;
  /** Whether some tracked work has not settled yet. */
  busy(): boolean;
  /** Resolves once no tracked work is in flight (at once when none is). */
  settled(): Promise<void>;
}

/** Creates an empty counter. */
export function createWorkInFlight(): WorkInFlight {
  let count = 0;
  const waiters: (() => void)[] = [];
  const done = () => {
    count--;
    if (count === 0) for (const wake of waiters.splice(0)) wake();
  };
  return {
    track(work) {
      count++;
      work.then(done, done);
      return work;
    },
    busy: () => count > 0,
    settled: () => (count === 0 ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve))),
  };
}
