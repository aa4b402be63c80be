/**
 * Every error raised by `@loam/client` itself. Errors raised in the worker (validation, not found, storage, sync...)
 * arrive rebuilt from their `code` as the classes of `@loam/core`, `@loam/store`, `@loam/sync` and `@loam/db-worker`.
 */
import { LoamError } from '@loam/core';

/**
 * A sync call (`db.sync.start()`, `db.subscribe`...) on a database opened without `sync` options (code
 * `sync_not_configured`). Raised by the leader's worker and rebuilt in the calling tab.
 */
export { SyncNotConfiguredError } from '@loam/db-worker';

/** Stable codes of the errors `@loam/client` raises. */
export const ClientErrorCode = {
  /** The database was closed in this tab; no call can run on it any more. */
  closed: 'database_closed',
  /** This browser lacks what Loam needs in a tab (Web Locks, BroadcastChannel or module workers). */
  unsupported: 'browser_unsupported',
  /** No leader tab answered within `leaderTimeoutMs`; the tab keeps looking for one, later calls may succeed. */
  leaderUnavailable: 'leader_unavailable',
  /** A call only the leader tab can make (it owns the database worker), made in another tab. */
  notLeader: 'not_leader',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** A call on a database after `close()` in this tab. */
export class DatabaseClosedError extends LoamError {
  constructor() {
    super(ClientErrorCode.closed, 'The database was closed in this tab: open it again with openDatabase()');
  }
}

/** The browser lacks a feature Loam needs. */
export class UnsupportedBrowserError extends LoamError {
  constructor(feature: string) {
    super(
      ClientErrorCode.unsupported,
      `This browser lacks ${feature}, which Loam needs: use a current Chromium, Firefox or Safari`,
    );
  }
}

/** A call only the leader tab can serve (e.g. `db.peers.connect`, which hands a port to its worker). */
export class NotLeaderError extends LoamError {
  constructor(what: string) {
    super(
      ClientErrorCode.notLeader,
      `${what} works only in the tab that runs the database worker (db.role === 'leader'); call it there`,
    );
  }
}

/** No leader's worker answered a call within the configured time (code `leader_unavailable`). Nothing was applied
 * by this call; the tab keeps waiting for a leader, so a later call may succeed. */
export class LeaderUnavailableError extends LoamError {
  constructor(waitedMs: number) {
    super(
      ClientErrorCode.leaderUnavailable,
      `No tab's database worker answered within ${waitedMs} ms: the database is not available in this tab yet; retry`,
    );
  }
}
