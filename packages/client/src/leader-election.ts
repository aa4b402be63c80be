/**
 * Leader election between the tabs of one database, with an exclusive Web Lock held for the leader's lifetime.
 *
 * Invariants:
 * 1. At most one tab per origin holds the lock, hence at most one starts the database worker.
 * 2. A tab that is not leader waits in the lock's queue; the browser grants it the lock as soon as the leader's
 *    tab closes (or releases it), and {@link LeaderElectionOptions.onPromoted} runs once.
 * 3. `release()` leaves the election for good: it frees the lock if held and leaves the queue otherwise.
 */

/** The part of `navigator.locks` the election uses. */
export interface LockManagerLike {
  request(
    name: string,
    options: { mode?: 'exclusive' | 'shared'; ifAvailable?: boolean; signal?: AbortSignal },
    callback: (lock: unknown) => unknown,
  ): Promise<unknown>;
}

/** Options of {@link electLeader}. */
export interface LeaderElectionOptions {
  readonly locks: LockManagerLike;
  /** The lock's name (one per database). */
  readonly lockName: string;
  /** Runs once when this tab, first a follower, becomes leader. */
  readonly onPromoted: () => void;
}

/** This tab's place in the election. */
export interface LeaderElection {
  /** Whether this tab was leader as soon as it joined. */
  readonly leader: boolean;
  /** Leaves the election (frees the lock, or leaves the queue). Idempotent. */
  release(): void;
}

/** Joins the election: takes the lock if nobody holds it, else queues for it. */
export async function electLeader(options: LeaderElectionOptions): Promise<LeaderElection> {
  const { locks, lockName } = options;
  let free: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    free = resolve;
  });
  const abort = new AbortController();
  let released = false;

  const leader = await new Promise<boolean>((resolve, reject) => {
    locks
      .request(lockName, { mode: 'exclusive', ifAvailable: true }, (lock) => {
        resolve(lock !== null);
        return lock === null ? undefined : held;
      })
      .catch(reject);
  });

  if (!leader) {
    locks
      .request(lockName, { mode: 'exclusive', signal: abort.signal }, () => {
        if (released) return undefined;
        options.onPromoted();
        return held;
      })
      .catch(() => undefined);
  }

  return {
    leader,
    release() {
      if (released) return;
      released = true;
      abort.abort();
      free();
    },
  };
}

/** Holds the lock `name` until `release` is called (a tab's presence, watched by the leader's worker). */
export function holdLock(locks: LockManagerLike, name: string): { release(): void } {
  let free: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    free = resolve;
  });
  locks.request(name, { mode: 'exclusive' }, () => held).catch(() => undefined);
  return { release: () => free() };
}
