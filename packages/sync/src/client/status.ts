/**
 * What the sync client reports: its state, problems as values, pending uploads and download progress. A status is
 * a plain, structured-cloneable value (it crosses worker and tab boundaries as is), a new object on every change.
 */

/** Where the client is in its life cycle (see `sync-client.ts`). */
export type SyncState = 'stopped' | 'offline' | 'connecting' | 'connected' | 'failed';

/** A problem the client ran into, as a value (it also travels across the worker boundary as is). */
export interface SyncIssue {
  /** Stable code: one of `SyncClientErrorCode`, or the relay's error code (`auth_invalid`, `limit_exceeded`...). */
  readonly code: string;
  readonly message: string;
  /** True when the client stopped retrying because of it (state `failed`); `start()` tries again. */
  readonly fatal: boolean;
  /** When it happened (ms since epoch, from the injected clock). */
  readonly at: number;
}

/** Download progress of a subscription's first full set. */
export interface DownloadProgress {
  readonly sub: string;
  readonly sent: number;
  readonly total: number;
}

/** What the UI shows about sync. */
export interface SyncStatus {
  readonly state: SyncState;
  /** True between the relay's `welcome` and the end of that connection. */
  readonly connected: boolean;
  /** Local ops not yet acknowledged by the relay. */
  readonly pendingUploads: number;
  /** Last time a frame from the relay was applied (welcome, ack, docs, synced); null before the first. */
  readonly lastSyncedAt: number | null;
  /** Progress of the subscription whose first full set is streaming in, or null. */
  readonly downloading: DownloadProgress | null;
  /** The latest problem; cleared when a connection is welcomed. */
  readonly lastError: SyncIssue | null;
  /** Peer connections syncing or live (0 without peer sync). */
  readonly peers: number;
}

/** The client's current status and its listeners. */
export interface StatusStore {
  current(): SyncStatus;
  /** Applies `patch`; listeners hear the new status only when something changed. */
  set(patch: Partial<SyncStatus>): void;
  /** Records a problem in `lastError` and returns it. */
  issue(code: string, message: string, fatal?: boolean): SyncIssue;
  /** Called with each new status. Returns the unsubscribe function. */
  subscribe(listener: (status: SyncStatus) => void): () => void;
}

/** The status of a client that never ran. */
export const INITIAL_SYNC_STATUS: SyncStatus = Object.freeze({
  state: 'stopped',
  connected: false,
  pendingUploads: 0,
  lastSyncedAt: null,
  downloading: null,
  lastError: null,
  peers: 0,
});

/** Creates a status store; `now` stamps issues. */
export function createStatusStore(now: () => number): StatusStore {
  const listeners = new Set<(status: SyncStatus) => void>();
  let current = INITIAL_SYNC_STATUS;
  const set = (patch: Partial<SyncStatus>) => {
    if (!Object.entries(patch).some(([k, v]) => current[k as keyof SyncStatus] !== v)) return;
    current = { ...current, ...patch };
    for (const l of [...listeners]) l(current);
  };
  return {
    current: () => current,
    set,
    issue(code, message, fatal = false) {
      const value = { code, message, fatal, at: now() };
      set({ lastError: value });
      return value;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}
