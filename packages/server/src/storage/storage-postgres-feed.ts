/**
 * The PostgreSQL store's commit feed (invariant 6 of `server-store.ts`): every relay node hears of every committed
 * version, in version order; its own from memory, other nodes' read back from the database.
 *
 * ```
 *  own commit, in memory ───────────▶ offered: delivered once every version before it was
 *  pg_notify(version) ──LISTEN──┐
 *  own commit's version ────────┼──▶ read (position, newest announced version, else the counter], less the
 *  poll every pollMs ───────────┤      versions held: batches (version, at, source) + change log ⋈ current
 *  LISTEN (re)connected ────────┘      document rows ──▶ emit versions in order; a version whose changes were
 *                                                          purged ▶ gap
 * ```
 * A node's own commit is handed over as its group built it (`committing`): read back, each of its documents was
 * sent and decoded again. It waits in the emitter until the versions before it (other nodes', interleaved by the
 * counter) were read; a read leaves the versions held there out and counts them as found, so none is skipped or
 * read twice. No read starts while a group of this node is in progress: its version, unknown until the commit
 * returns, may already be announced (the NOTIFY can arrive before the COMMIT's answer), and would be read back.
 * Deferred reads run as the group ends, so another node's commit waits at most one group of this node.
 * A lost notification (the LISTEN connection dropped, PostgreSQL restarted) only delays: the poll and the
 * re-LISTEN read from the position, so nothing is skipped. An announced version v bounds the read without asking
 * the counter: versions commit in order, so every version up to v is committed. Versions missing from a read are
 * a gap (purged from the change log) only when a later version was found or the counter vouched for them. Reads
 * run one at a time, at most `maxVersions` versions each, until caught up. A change carries the document's state
 * as read (possibly from a later version: merging is idempotent) and the materialized document before the
 * version, kept in the change log so leaving a view can be told apart from never having been in it.
 */
import type { DocState } from '@loam/core';
import { decodeDoc } from '@loam/store/sql';
import type { Timers } from '@loam/sync';
import type { Sql } from 'postgres';
import type { createStoreStats } from '../metrics/histogram';
import { createCommitEmitter, lazyChange, once } from './commit-feed';
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
  /** Asks for a read (`version`: a version known to be committed). */
  poke(version?: number): void;
  /**
   * A group transaction of this node starts: reads wait until it ended (see the module documentation). Call the
   * function returned once it ended, with the version it committed and its changes as written, if any.
   */
  committing(): (commit?: StoreCommit) => void;
  close(): Promise<void>;
}

type BatchRow = { version: string; at: string; source: CommitSource };
type ChangeRow = { version: string; $change: string; before: Buffer | null } & Record<string, unknown>;

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
  /** Group transactions of this node in progress; while there is one, reads wait (`deferred`). */
  let holds = 0;
  let deferred = false;
  const released: (() => void)[] = [];

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
    const held = new Set(emitter.held(from, to));
    const skip = [...held];
    const [batches, ...perCollection] = await Promise.all([
      sql.unsafe<BatchRow[]>(
        `SELECT version, at, source FROM loam_server_batches
         WHERE version > $1 AND version <= $2 AND version <> ALL($3::bigint[]) ORDER BY version`,
        [from, to, skip],
        { prepare: true },
      ),
      ...[...collections.values()].map((c) =>
        sql.unsafe<ChangeRow[]>(
          `SELECT ch.version, ch.id AS "$change", ch.before, d."$live" AS "$found", ${c.stateColumns('d')}
           FROM loam_server_changes ch LEFT JOIN ${c.table} d ON d.id = ch.id
           WHERE ch.collection = $1 AND ch.version > $2 AND ch.version <= $3 AND ch.version <> ALL($4::bigint[])
           ORDER BY ch.version, ch.id`,
          [c.name, from, to, skip],
          { prepare: true },
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
      if (held.has(v)) continue;
      let next = v + 1;
      while (next <= to && !complete.has(next) && !held.has(next)) next++;
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
    if (holds > 0) {
      deferred = true;
      return;
    }
    const run = (async () => {
      for (;;) {
        if (closed) return;
        if (holds > 0) {
          deferred = true;
          return;
        }
        again = false;
        try {
          if (!(await readOnce()) && !again) return;
        } catch {
          return;
        }
      }
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
        while (!closed && (reading || deferred))
          await (reading ?? new Promise<void>((resolve) => released.push(resolve)));
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
    committing() {
      holds++;
      let ended = false;
      return (commit) => {
        if (ended) return;
        ended = true;
        holds--;
        if (commit) {
          emitter.offer(commit);
          if (commit.version > announced) announced = commit.version;
          if (commit.version > emitter.feed.position()) deferred = true;
        }
        if (holds > 0) return;
        for (const resolve of released.splice(0)) resolve();
        if (deferred) {
          deferred = false;
          pump();
        }
      };
    },
    async close() {
      closed = true;
      for (const resolve of released.splice(0)) resolve();
      timers.clearTimeout(poll);
      await unlisten?.().catch(() => undefined);
      await reading;
    },
  };
}
