/**
 * The PostgreSQL store's commit feed (invariant 6 of `server-store.ts`): every relay node reads committed versions
 * back from the database, its own commits and other nodes' alike, in version order.
 *
 * ```
 *  pg_notify(version) ──LISTEN──┐
 *  own commit ──────────────────┼──▶ read (position, counter] in one REPEATABLE READ snapshot:
 *  poll every pollMs ───────────┤      batches (version, at, source) + change log ⋈ current document rows
 *  LISTEN (re)connected ────────┘    ──▶ emit versions in order; a version whose changes were purged ▶ gap
 * ```
 * A lost notification (the LISTEN connection dropped, PostgreSQL restarted) only delays: the poll and the
 * re-LISTEN read from the position, so nothing is skipped. Reads run one at a time, at most `maxVersions`
 * versions each, until caught up with the counter. A change carries the document's state as read (possibly from
 * a later version: merging is idempotent) and the materialized document before the version, kept in the change
 * log so leaving a view can be told apart from never having been in it.
 */
import { decodeDoc } from '@loam/store';
import type { Sql } from 'postgres';
import type { createStoreStats } from '../metrics/histogram';
import { createCommitEmitter } from './commit-feed';
import type { CommitFeed, CommitSource, CommittedDocChange, StoreCommit } from './server-store';
import { stateOfRow } from './storage-postgres-batch';
import type { PgCollection } from './storage-postgres-sql';

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
}

/** The feed and its controls. */
export interface PostgresFeed {
  readonly feed: CommitFeed;
  /** Starts listening; resolves once the LISTEN is in place. */
  start(): Promise<void>;
  /** Asks for a read (e.g. after this node committed `version`). */
  poke(version?: number): void;
  /** Resolves once the feed has delivered `version` (or a gap past it). */
  reached(version: number): Promise<void>;
  close(): Promise<void>;
}

type BatchRow = { version: string; at: string; source: CommitSource };
type ChangeRow = { version: string; $change: string; before: Buffer | null } & Record<string, unknown>;

/** Creates the feed of a PostgreSQL store. */
export function createPostgresFeed(options: PostgresFeedOptions): PostgresFeed {
  const { sql, collections } = options;
  const emitter = createCommitEmitter(options.position);
  const maxVersions = options.maxVersions ?? 500;
  let reading: Promise<void> | undefined;
  let again = false;
  let closed = false;
  let unlisten: (() => Promise<void>) | undefined;
  const waiters = new Set<() => void>();
  emitter.feed.subscribe(() => {
    for (const w of [...waiters]) w();
  });

  const readOnce = async (): Promise<boolean> => {
    const from = emitter.feed.position();
    const started = performance.now();
    const read = await sql.begin('isolation level repeatable read read only', async (tx) => {
      const [counter] = await tx.unsafe<{ version: string }[]>('SELECT version FROM loam_server_counter');
      const newest = Number(counter?.version ?? 0);
      if (newest <= from) return undefined;
      const to = Math.min(newest, from + maxVersions);
      const [batches, ...perCollection] = await Promise.all([
        tx.unsafe<BatchRow[]>(
          'SELECT version, at, source FROM loam_server_batches WHERE version > $1 AND version <= $2 ORDER BY version',
          [from, to],
        ),
        ...[...collections.values()].map((c) =>
          tx.unsafe<ChangeRow[]>(
            `SELECT ch.version, ch.id AS "$change", ch.before, d."$live" AS "$found", ${c.stateColumns('d')}
             FROM loam_server_changes ch LEFT JOIN ${c.table} d ON d.id = ch.id
             WHERE ch.collection = $1 AND ch.version > $2 AND ch.version <= $3`,
            [c.name, from, to],
          ),
        ),
      ]);
      return { newest, to, batches, perCollection };
    });
    options.stats.dbLatency.observe((performance.now() - started) / 1000);
    if (!read) return false;
    const changes = new Map<number, CommittedDocChange[]>();
    [...collections.values()].forEach((c, i) => {
      const states = new Map<string, CommittedDocChange['after']>();
      for (const row of read.perCollection[i] as ChangeRow[]) {
        if (row.$found === null) continue;
        let after = states.get(row.$change);
        if (!after) {
          after = stateOfRow(c, row as never);
          states.set(row.$change, after);
        }
        const version = Number(row.version);
        const list = changes.get(version) ?? [];
        list.push({
          collection: c.name,
          id: row.$change,
          beforeDoc: row.before ? decodeDoc(row.before) : undefined,
          after,
        });
        changes.set(version, list);
      }
    });
    const complete = new Map<number, StoreCommit>();
    for (const b of read.batches) {
      const version = Number(b.version);
      const list = changes.get(version);
      if (list) complete.set(version, { version, at: Number(b.at), source: b.source, changes: list });
    }
    for (let v = from + 1; v <= read.to; v++) {
      const commit = complete.get(v);
      if (commit) {
        emitter.offer(commit);
        continue;
      }
      let next = v + 1;
      while (next <= read.to && !complete.has(next)) next++;
      emitter.gap(next);
      v = next - 1;
    }
    return read.to < read.newest;
  };

  const pump = () => {
    if (closed) return;
    if (reading) {
      again = true;
      return;
    }
    reading = (async () => {
      do {
        again = false;
        try {
          while (!closed && (await readOnce()));
        } catch {
          return;
        }
      } while (again && !closed);
    })().finally(() => {
      reading = undefined;
    });
  };

  const poll = setInterval(pump, options.pollMs);
  poll.unref();

  return {
    feed: emitter.feed,
    async start() {
      const listener = await sql.listen(
        options.channel,
        (payload) => {
          if (Number(payload) > emitter.feed.position()) pump();
        },
        pump,
      );
      unlisten = listener.unlisten;
    },
    poke(version) {
      if (version === undefined || version > emitter.feed.position()) pump();
    },
    reached(version) {
      return new Promise<void>((resolve) => {
        const check = () => {
          if (emitter.feed.position() < version && !closed) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
        pump();
      });
    },
    async close() {
      closed = true;
      clearInterval(poll);
      for (const w of [...waiters]) w();
      await unlisten?.().catch(() => undefined);
      await reading;
    },
  };
}
