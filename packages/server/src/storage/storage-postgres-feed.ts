/**
 * The PostgreSQL store's commit feed (invariant 6 of `server-store.ts`): every relay node reads committed versions
 * back from the database, its own commits and other nodes' alike, in version order.
 *
 * ```
 *  pg_notify(version) ──LISTEN──┐
 *  own commit ──────────────────┼──▶ read (position, newest announced version, else the counter]:
 *  poll every pollMs ───────────┤      batches (version, at, source) + change log ⋈ current document rows
 *  LISTEN (re)connected ────────┘    ──▶ emit versions in order; a version whose changes were purged ▶ gap
 * ```
 * A lost notification (the LISTEN connection dropped, PostgreSQL restarted) only delays: the poll and the
 * re-LISTEN read from the position, so nothing is skipped. An announced version v bounds the read without asking
 * the counter: versions commit in order, so every version up to v is committed. Versions missing from a read are
 * a gap (purged from the change log) only when a later version was found or the counter vouched for them. Reads
 * run one at a time, at most `maxVersions` versions each, until caught up. A change carries the document's state
 * as read (possibly from a later version: merging is idempotent) and the materialized document before the
 * version, kept in the change log so leaving a view can be told apart from never having been in it.
 */
import type { DocState, MaterializedDoc } from '@loam/core';
import { decodeDoc } from '@loam/store/sql';
import type { Timers } from '@loam/sync';
import type { Sql } from 'postgres';
import type { createStoreStats } from '../metrics/histogram';
import { createCommitEmitter } from './commit-feed';
import type { CommitFeed, CommitSource, CommittedDocChange, StoreCommit } from './server-store';
import { stateOfRow } from './storage-postgres-batch';
import type { PgCollection } from './storage-postgres-sql';
import { createWorkInFlight, type WorkInFlight } from './work-in-flight';

/** Options of {@link createPostgresFeed}. */
export interface PostgresFeedOptions {
  readonly sql: Sql;
  readonly channel: string;
  readonly collections: ReadonlyMap<string, PgCollection>;
  /** The version the feed starts after. */
  readonly position: number;
  readonly pollMs: number;
  readonly maxVersions?: number;
  readonly stats: ReturnType<typeof createStoreStats>;
  /** Counts each read while it runs (default: a counter of its own). */
  readonly work?: WorkInFlight;
  /** The poll's timer (default: the global timers). */
  readonly timers?: Timers;
}

/** The feed and its controls. */
export interface PostgresFeed {
  readonly feed: CommitFeed;
  /** Starts listening; resolves once the LISTEN is in place. */
  start(): Promise<void>;
  /** Asks for a read (e.g. after this node committed `version`). */
  poke(version?: number): void;
  close(): Promise<void>;
}

type BatchRow = { version: string; at: string; source: CommitSource };
type ChangeRow = { version: string; $change: string; before: Buffer | null } & Record<string, unknown>;

/** Memoizes a computation. */
function once<T>(compute: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) {
      value = compute();
      done = true;
    }
    return value;
  };
}

/**
 * A change whose states are decoded on first use: a node decodes only what its sessions and webhooks look at
 * (a document's Yjs fields and the change log's before image cost real time to decode).
 */
function lazyChange(
  collection: string,
  id: string,
  before: () => MaterializedDoc | undefined,
  after: () => DocState,
): CommittedDocChange {
  return {
    collection,
    id,
    get beforeDoc() {
      return before();
    },
    get after() {
      return after();
    },
  };
}

/** Creates the feed of a PostgreSQL store. */
export function createPostgresFeed(options: PostgresFeedOptions): PostgresFeed {
  const { sql, collections } = options;
  const work = options.work ?? createWorkInFlight();
  const timers = options.timers ?? globalThis;
  const emitter = createCommitEmitter(options.position, (version) => reach(version));
  const maxVersions = options.maxVersions ?? 500;
  let reading: Promise<void> | undefined;
  let announced = 0;
  let again = false;
  let closed = false;
  let unlisten: (() => Promise<void>) | undefined;

  const readOnce = async (): Promise<boolean> => {
    const from = emitter.feed.position();
    const started = performance.now();
    let newest = announced;
    const confirmed = newest <= from;
    if (confirmed) {
      const [counter] = await sql.unsafe<{ version: string }[]>('SELECT version FROM loam_server_counter');
      newest = Number(counter?.version ?? 0);
      if (newest <= from) return false;
    }
    const to = Math.min(newest, from + maxVersions);
    const [batches, ...perCollection] = await Promise.all([
      sql.unsafe<BatchRow[]>(
        'SELECT version, at, source FROM loam_server_batches WHERE version > $1 AND version <= $2 ORDER BY version',
        [from, to],
      ),
      ...[...collections.values()].map((c) =>
        sql.unsafe<ChangeRow[]>(
          `SELECT ch.version, ch.id AS "$change", ch.before, d."$live" AS "$found", ${c.stateColumns('d')}
           FROM loam_server_changes ch LEFT JOIN ${c.table} d ON d.id = ch.id
           WHERE ch.collection = $1 AND ch.version > $2 AND ch.version <= $3 ORDER BY ch.version, ch.id`,
          [c.name, from, to],
        ),
      ),
    ]);
    options.stats.dbLatency.observe((performance.now() - started) / 1000);
    const changes = new Map<number, CommittedDocChange[]>();
    [...collections.values()].forEach((c, i) => {
      const states = new Map<string, () => DocState>();
      for (const row of perCollection[i] as ChangeRow[]) {
        if (row.$found === null) continue;
        let after = states.get(row.$change);
        if (!after) {
          after = once(() => stateOfRow(c, row as never));
          states.set(row.$change, after);
        }
        const before = once(() => (row.before ? decodeDoc(row.before) : undefined));
        const version = Number(row.version);
        const list = changes.get(version) ?? [];
        list.push(lazyChange(c.name, row.$change, before, after));
        changes.set(version, list);
      }
    });
    const complete = new Map<number, StoreCommit>();
    for (const b of batches) {
      const version = Number(b.version);
      const list = changes.get(version);
      if (list) complete.set(version, { version, at: Number(b.at), source: b.source, changes: list });
    }
    for (let v = from + 1; v <= to; v++) {
      const commit = complete.get(v);
      if (commit) {
        emitter.offer(commit);
        continue;
      }
      let next = v + 1;
      while (next <= to && !complete.has(next)) next++;
      if (next > to && !confirmed) {
        announced = v - 1;
        return true;
      }
      emitter.gap(next);
      v = next - 1;
    }
    return to < newest;
  };

  const pump = () => {
    if (closed) return;
    if (reading) {
      again = true;
      return;
    }
    const run = (async () => {
      do {
        again = false;
        try {
          while (!closed && (await readOnce()));
        } catch {
          return;
        }
      } while (again && !closed);
    })();
    reading = work.track(run).finally(() => {
      reading = undefined;
    });
  };

  /** A version known to be committed (announced, or committed here): every version before it is committed too. */
  const announce = (version: number) => {
    if (!Number.isSafeInteger(version)) return;
    if (version > announced) announced = version;
    if (version > emitter.feed.position()) pump();
  };

  /** Reads now, up to the counter, until `version` is delivered or the counter shows it was never committed. */
  const reach = (version: number) => work.track(catchUp(version));
  const catchUp = async (version: number) => {
    try {
      for (let round = 0; round < 3 && !closed && emitter.feed.position() < version; round++) {
        const [counter] = await sql.unsafe<{ version: string }[]>('SELECT version FROM loam_server_counter');
        const newest = Number(counter?.version ?? 0);
        if (newest < version) return;
        announce(newest);
        while (reading) await reading;
      }
    } catch {
      return;
    }
  };

  let poll: unknown;
  const schedulePoll = () => {
    if (closed) return;
    poll = timers.setTimeout(() => {
      pump();
      schedulePoll();
    }, options.pollMs);
    (poll as { unref?: () => void }).unref?.();
  };

  return {
    feed: emitter.feed,
    async start() {
      const listener = await work.track(
        sql.listen(options.channel, (payload) => announce(Number(payload)), pump),
      );
      unlisten = listener.unlisten;
      schedulePoll();
    },
    poke(version) {
      if (version === undefined) pump();
      else announce(version);
    },
    async close() {
      closed = true;
      timers.clearTimeout(poll);
      await unlisten?.().catch(() => undefined);
      await reading;
    },
  };
}
