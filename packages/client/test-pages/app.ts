/**
 * Test page of `@loam/client` (browser tests and benchmarks): opens the database named by `?db=` (default
 * `test`) and exposes `globalThis.app` for Playwright to drive. `?fallback=1` starts the worker without OPFS sync
 * access handles; `?sync=<relay url>&token=<jwt>` syncs with that relay, signing in with that token. Not part of
 * the package's API.
 */

import {
  openDatabase,
  type RefusedWrite,
  type SubscriptionOutcome,
  type SyncStatus,
  type SyncSubscription,
} from '@loam/client';
import { type DocOf, type Filter, type FilterOf, LoamError, type Problem } from '@loam/core';
import { createDbWorker, leaderLockName } from '@loam/db-worker';
import { schema } from './schema';

/** A note as read back. */
export type Note = DocOf<typeof schema, 'notes'>;

/** An error as plain data for the Node side. */
export interface ErrorInfo {
  readonly name: string;
  readonly code: string | undefined;
  readonly message: string;
  readonly isLoamError: boolean;
  readonly problems?: readonly Problem[];
}

const params = new URL(location.href).searchParams;
const name = params.get('db') ?? 'test';
let worker: Worker | undefined;
const startWorker = () => {
  worker =
    params.get('fallback') === '1'
      ? new Worker(new URL('./no-opfs-worker.ts', import.meta.url), { type: 'module' })
      : params.get('blocking') === '1'
        ? new Worker(new URL('./blocking-worker.ts', import.meta.url), { type: 'module' })
        : createDbWorker();
  return worker;
};
const watchdog = params.get('watchdog') === '1' ? { heartbeatMs: 250, workerTimeoutMs: 2000 } : {};
const restarts: string[] = [];

const syncUrl = params.get('sync');
const token = params.get('token');

const openStart = performance.now();
const db = await openDatabase({
  name,
  schema,
  worker: startWorker,
  ...watchdog,
  ...(syncUrl ? { sync: { url: syncUrl, getToken: async () => token } } : {}),
});
db.onWorkerRestart((reason) => restarts.push(reason));
const notes = db.collection('notes');
const opened = performance.now();
const firstResult =
  params.get('probe') === '1'
    ? await notes.find({
        filter: { op: 'eq', field: 'group', value: 'hot' },
        sort: [{ field: 'n', dir: 'asc' }],
      })
    : [];
const firstResultAt = performance.now();

const live = new Map<string, { docs: Note[]; calls: number; stop: () => void }>();
const resolved: string[] = [];
const statuses: SyncStatus[] = [];
let refused: RefusedWrite[] = [];
const subscriptions = new Map<string, { handle: SyncSubscription; outcome?: SubscriptionOutcome }>();

function errorInfo(error: unknown): ErrorInfo {
  const e = error as { name?: string; code?: string; message?: string; problems?: readonly Problem[] };
  return {
    name: e.name ?? 'Error',
    code: e.code,
    message: e.message ?? String(error),
    isLoamError: error instanceof LoamError,
    ...(e.problems ? { problems: e.problems } : {}),
  };
}

const app = {
  db,
  notes,
  role: () => db.role,
  /** With `?probe=1`: ms from calling openDatabase to open, and to the first result of the `hot` query. */
  coldOpen: () => ({
    openMs: opened - openStart,
    firstResultMs: firstResultAt - openStart,
    rows: firstResult.length,
  }),
  storage: () => db.storage,
  /** Starts a live query on `notes` kept under `key`. */
  watch(key: string, options: Parameters<typeof notes.watch>[0] = {}) {
    const entry: { docs: Note[]; calls: number; stop: () => void } = { docs: [], calls: 0, stop: () => {} };
    entry.stop = notes.watch(options, (docs) => {
      entry.docs = docs;
      entry.calls++;
    });
    live.set(key, entry);
  },
  /** The latest result of live query `key`. */
  live: (key: string) => live.get(key)?.docs ?? [],
  calls: (key: string) => live.get(key)?.calls ?? 0,
  unwatch: (key: string) => live.get(key)?.stop(),
  /** Runs `fn` and returns its error as plain data, or null when it did not throw. */
  async failure(fn: () => Promise<unknown>): Promise<ErrorInfo | null> {
    try {
      await fn();
      return null;
    } catch (error) {
      return errorInfo(error);
    }
  },
  /** Inserts `count` notes one after the other (`title` = `${prefix}-${i}`), recording each that resolved. */
  async burst(prefix: string, count: number, group?: string) {
    for (let i = 0; i < count; i++) {
      const title = `${prefix}-${i}`;
      await notes.insert(group === undefined ? { title, n: i } : { title, n: i, group });
      resolved.push(title);
    }
  },
  /**
   * `count` transactions one after the other, each inserting the two notes `${prefix}-${i}-a` and `-b`; the
   * pair's title is recorded once its transaction resolved.
   */
  async pairBurst(prefix: string, count: number) {
    for (let i = 0; i < count; i++) {
      await db.transaction(async (tx) => {
        const c = tx.collection('notes');
        await c.insert({ title: `${prefix}-${i}-a`, n: i, group: prefix });
        await c.insert({ title: `${prefix}-${i}-b`, n: i, group: prefix });
      });
      resolved.push(`${prefix}-${i}`);
    }
  },
  resolved: () => [...resolved],
  /** Records every sync status (`statuses`, `status`) and the refused-writes log (`refused`) from now on. */
  trackSync() {
    db.sync.onStatus((status) => statuses.push(status));
    db.watchRefusedWrites((rows) => {
      refused = rows;
    });
  },
  statuses: () => [...statuses],
  status: () => statuses.at(-1),
  refused: () => refused,
  /** Subscribes to the notes matching `filter`, kept under `key`; its outcome shows in `outcome(key)`. */
  async subscribe(key: string, filter?: Filter): Promise<string> {
    // Filters arrive from the test as JSON, malformed ones included: the relay and the worker judge them.
    const handle = await db.subscribe('notes', filter as FilterOf<typeof schema, 'notes'> | undefined);
    const entry: { handle: SyncSubscription; outcome?: SubscriptionOutcome } = { handle };
    subscriptions.set(key, entry);
    void handle.ready.then((outcome) => {
      entry.outcome = outcome;
    });
    return handle.id;
  },
  outcome: (key: string) => subscriptions.get(key)?.outcome,
  /** Terminates the worker at once, like a crash, and returns what had resolved by then. */
  killWorker(): string[] {
    worker?.terminate();
    return [...resolved];
  },
  /** Blocks the worker's event loop for good (`?blocking=1` only). */
  blockWorker() {
    worker?.postMessage('loam-test-block');
  },
  /** Why this tab replaced its worker, each time it did. */
  restarts: () => [...restarts],
  /**
   * Opens database `other` while holding its leader lock without serving it (a leader tab whose worker never
   * came up): resolves with the error opening gave after `leaderTimeoutMs`, or null.
   */
  async openWithoutLeader(other: string, leaderTimeoutMs: number): Promise<ErrorInfo | null> {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await new Promise<void>((locked) => {
      void navigator.locks.request(leaderLockName(other), () => {
        locked();
        return held;
      });
    });
    try {
      const orphan = await openDatabase({ name: other, schema, leaderTimeoutMs });
      await orphan.close();
      return null;
    } catch (error) {
      return errorInfo(error);
    } finally {
      release();
    }
  },
};

/** The API the test page exposes as `globalThis.app`. */
export type App = typeof app;

(globalThis as unknown as { app: App }).app = app;
