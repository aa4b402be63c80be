/**
 * Group commit for the PostgreSQL store: pushes arriving within a few milliseconds share one transaction.
 *
 * ```
 *  applyBatch ─┐ (window: groupWindowMs, or the previous group's commit)
 *  applyBatch ─┼─▶ BEGIN
 *  applyBatch ─┘   1. advisory locks on every touched document, in key order   (no two groups interleave on a doc)
 *                  2. INSERT op ids ON CONFLICT DO NOTHING RETURNING id         (ids not returned: known before)
 *                     + read the touched documents                               (1 and 2: one flight)
 *                     then, only if some ids were known: read their digests      (same content: duplicate;
 *                                                                                 other: conflict)
 *                  3. screen and apply each batch in memory, in arrival order    (planBatch)
 *                  4. DELETE the ids of refused ops; raise replicas' sequences   (refused ops leave no trace)
 *                  5. UPDATE counter SET version = version + 1 RETURNING         (taken last: commit order =
 *                  6. upsert documents, change log, batch row, webhook outbox,    version order)
 *                     this node's clock and sequence, pg_notify(version)
 *                 COMMIT                                                          (4 to COMMIT: one flight)
 *             ─▶ resolve every batch of the group (the relay acks now)
 * ```
 * Why no cursor skips a row: the counter row stays locked from step 5 to commit, so version v+1 commits after v is
 * visible; a reader that sees v+1 sees v. Steps 4 to COMMIT go out in one flight (statements after step 5 read the
 * version with a subquery), so the counter is held for the database's own work only, never for a round trip to this
 * node. A statement of that flight that fails turns the COMMIT into a rollback; the group then fails.
 *
 * Why a retried push is never applied twice: its op ids are inserted while its documents are locked, so a second
 * transaction carrying the same op waits for the first and then finds the id taken; the digest recorded with it
 * tells a re-sent op from an id reused with other content (a conflict: nothing of that batch is applied). The op
 * ids' side of a group is `storage-postgres-op-ledger.ts`; it raises the replicas' sequence numbers before the
 * counter is taken, so a group never holds the counter while waiting for another's row. A group fails as a whole
 * (nothing stored, every batch rejected) when the database fails; a batch that fails on its own (an op of an
 * unknown collection) is rejected without touching the others.
 */
import { type DocState, getCollection, type Schema } from '@loam/core';
import { decodeDoc, decodeDocState } from '@loam/store/sql';
import type { Timers } from '@loam/sync';
import type { PendingQuery, Row, Sql, TransactionSql } from 'postgres';
import * as Y from 'yjs';
import { ServerStorageError } from '../errors';
import type { createStoreStats } from '../metrics/histogram';
import { planBatch } from './batch-plan';
import { lazyChange, once } from './commit-feed';
import type {
  ApplyBatchRequest,
  BatchResult,
  CommitSource,
  DocChange,
  OutboxRenderer,
  StoreCommit,
} from './server-store';
import { createGroupLedger } from './storage-postgres-op-ledger';
import { byteaArray, type PgCollection, upsertDocsSql } from './storage-postgres-sql';
import type { WorkInFlight } from './work-in-flight';

/** What the group committer needs from its store. */
export interface GroupContext {
  readonly sql: Sql;
  readonly schema: Schema;
  /** The collections' layouts, by name. */
  readonly collections: ReadonlyMap<string, PgCollection>;
  /** This node's replica (its row keeps the clock and sequence). */
  readonly replica: string;
  /** The channel committed versions are announced on. */
  readonly channel: string;
  readonly stats: ReturnType<typeof createStoreStats>;
  outbox(): OutboxRenderer | undefined;
  /**
   * Called as a group transaction starts; the function it returns is called once it ended, with the version it
   * committed and its changes as written, if it took one.
   */
  committing(): (commit?: StoreCommit) => void;
  /** Queues webhook deliveries of the version this transaction takes (see `VERSION`). */
  enqueueDeliveries(
    tx: TransactionSql,
    entries: ReturnType<OutboxRenderer>,
    now: number,
  ): PendingQuery<Row[]>;
  /** Counts each group's transaction while it runs. */
  readonly work: WorkInFlight;
  /** The group window's timer. */
  readonly timers: Timers;
}

/** Options of {@link createGroupCommitter}. */
export interface GroupOptions {
  /** How long a group waits for more pushes after the first; default 2 ms. */
  readonly windowMs: number;
  /** Most ops in one group (a larger batch goes alone); default 5000. */
  readonly maxOps: number;
}

/** The group committer. */
export interface GroupCommitter {
  submit(request: ApplyBatchRequest): Promise<BatchResult>;
  /** Starts the group waiting for its window now. */
  flush(): void;
  /** Resolves once no group is pending or running. */
  idle(): Promise<void>;
}

interface Pending {
  readonly request: ApplyBatchRequest;
  resolve(result: BatchResult): void;
  reject(error: unknown): void;
}

/** A document as the group read it: its state before the group, its stored `$doc` bytes and its state now. */
interface GroupDoc {
  readonly c: PgCollection;
  readonly id: string;
  readonly beforeBytes: Buffer | null;
  current: DocState | undefined;
  dirty: boolean;
}

type DocRow = { id: string; $v: string; $live: boolean; $state: Buffer; $doc: Buffer | null } & Record<
  string,
  unknown
>;

/** Decodes a row read with `stateColumns` into a document state (Yjs fields included). */
export function stateOfRow(c: PgCollection, row: DocRow): DocState {
  const state = decodeDocState(row.$state);
  for (const field of c.crdtFields) {
    const bytes = row[`$y:${field}`] as Buffer | null;
    if (!bytes) continue;
    const doc = new Y.Doc({ guid: field });
    Y.applyUpdate(doc, bytes);
    state.crdts[field] = doc;
  }
  return state;
}

const LOCK_DOCS = `SELECT pg_advisory_xact_lock(k) FROM (
  SELECT DISTINCT hashtextextended(current_schema() || ':' || c || ':' || i, 0) AS k
  FROM unnest($1::text[], $2::text[]) AS u(c, i)
) s ORDER BY k`;
const RETRYABLE = new Set(['40P01', '40001']);
/** The version this transaction took (statements after the counter's UPDATE see their own update). */
export const VERSION = '(SELECT version FROM loam_server_counter)';

/** Creates the group committer of a store. */
export function createGroupCommitter(ctx: GroupContext, options: GroupOptions): GroupCommitter {
  const { sql } = ctx;
  const queue: Pending[] = [];
  let running: Promise<void> | undefined;
  let timer: unknown;
  const idleWaiters: (() => void)[] = [];

  const coll = (name: string): PgCollection => {
    const c = ctx.collections.get(name);
    if (!c) getCollection(ctx.schema, name);
    return c as PgCollection;
  };

  const take = (): Pending[] => {
    const group: Pending[] = [];
    let ops = 0;
    const source = queue[0]?.request.source ?? 'device';
    for (let i = 0; i < queue.length; ) {
      const p = queue[i] as Pending;
      if ((p.request.source ?? 'device') !== source) {
        i++;
        continue;
      }
      if (group.length > 0 && ops + p.request.ops.length > options.maxOps) break;
      group.push(p);
      ops += p.request.ops.length;
      queue.splice(i, 1);
    }
    return group;
  };

  const start = () => {
    timer = undefined;
    if (running || queue.length === 0) return;
    const group = take();
    const ended = ctx.committing();
    running = ctx.work.track(runGroup(group, ended)).finally(() => {
      ended();
      running = undefined;
      if (queue.length > 0) start();
      else for (const w of idleWaiters.splice(0)) w();
    });
  };

  const runGroup = async (group: Pending[], ended: (commit: StoreCommit) => void) => {
    const valid: Pending[] = [];
    for (const p of group) {
      try {
        for (const op of p.request.ops) coll(op.collection);
        valid.push(p);
      } catch (error) {
        p.reject(error);
      }
    }
    if (valid.length === 0) return;
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      let planned = false;
      try {
        const outcome = await sql.begin((tx) =>
          commitGroup(tx, valid, () => {
            planned = true;
          }),
        );
        await Promise.all(outcome.settled);
        if (outcome.failures.length > 0) throw outcome.failures[0];
        const version = outcome.counted ? Number((await outcome.counted)[0]?.version) : undefined;
        ctx.stats.dbLatency.observe((performance.now() - started) / 1000);
        ctx.stats.batchRequests.observe(valid.length);
        ctx.stats.batchOps.observe(valid.reduce((n, p) => n + p.request.ops.length, 0));
        if (version !== undefined && outcome.written)
          ended({
            version,
            at: outcome.written.at,
            source: outcome.written.source,
            changes: outcome.written.docs.map((d) => {
              const before = d.beforeBytes;
              return lazyChange(
                d.c.name,
                d.id,
                once(() => (before ? decodeDoc(before) : undefined)),
                () => d.current as DocState,
              );
            }),
          });
        for (const [p, result] of outcome.results) p.reject(result);
        for (const { p, changes, plan } of outcome.plans)
          p.resolve({
            version: version ?? outcome.current,
            accepted: plan.accepted,
            duplicates: plan.duplicates,
            refused: plan.refused,
            changes,
            conflicts: plan.conflicts,
            echoes: plan.echoes,
          });
        return;
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (!planned && attempt < 3 && code !== undefined && RETRYABLE.has(code)) continue;
        const failure =
          error instanceof ServerStorageError
            ? error
            : new ServerStorageError(`The batch was not stored: ${(error as Error).message}`, {
                cause: error,
              });
        for (const p of valid) p.reject(failure);
        return;
      }
    }
  };

  const commitGroup = async (tx: TransactionSql, group: Pending[], onPlanned: () => void) => {
    const docKeys = new Map<string, { c: PgCollection; id: string }>();
    for (const p of group)
      for (const op of p.request.ops)
        docKeys.set(`${op.collection}\u0000${op.doc}`, { c: coll(op.collection), id: op.doc });
    const ledger = createGroupLedger(group.map((p) => p.request));
    const keys = [...docKeys.values()];
    const byCollection = new Map<PgCollection, string[]>();
    for (const { c, id } of keys) {
      const ids = byCollection.get(c);
      if (ids) ids.push(id);
      else byCollection.set(c, [id]);
    }
    const [, inserted, , [counter], ...rowsPerCollection] = await Promise.all([
      tx.unsafe(LOCK_DOCS, [keys.map((k) => k.c.name), keys.map((k) => k.id)], { prepare: true }),
      ledger.insert(tx),
      ledger.readReissues(tx),
      tx.unsafe<{ version: string }[]>('SELECT version FROM loam_server_counter'),
      ...[...byCollection].map(([c, ids]) =>
        tx.unsafe<DocRow[]>(
          `SELECT ${c.stateColumns()}, "$doc" FROM ${c.table} WHERE id = ANY($1::text[])`,
          [ids],
          { prepare: true },
        ),
      ),
    ]);
    await ledger.readHeld(tx, inserted);
    const docs = new Map<string, GroupDoc>();
    [...byCollection.keys()].forEach((c, i) => {
      for (const row of rowsPerCollection[i] as DocRow[])
        docs.set(`${c.name}\u0000${row.id}`, {
          c,
          id: row.id,
          beforeBytes: row.$live ? row.$doc : null,
          current: stateOfRow(c, row),
          dirty: false,
        });
    });
    for (const [key, { c, id }] of docKeys)
      if (!docs.has(key)) docs.set(key, { c, id, beforeBytes: null, current: undefined, dirty: false });

    const results: [Pending, Error][] = [];
    const plans: { p: Pending; changes: DocChange[]; plan: Awaited<ReturnType<typeof planBatch>> }[] = [];
    onPlanned();
    for (const p of group) {
      try {
        const plan = await planBatch(p.request, {
          def: (name) => coll(name).def,
          recorded: ledger.recorded,
          digests: ledger.digests,
          reissued: ledger.reissued,
          load: (collection, id) => docs.get(`${collection}\u0000${id}`)?.current,
        });
        const changes: DocChange[] = [];
        for (const e of plan.docs) {
          if (!e.dirty) continue;
          const doc = docs.get(`${e.collection}\u0000${e.id}`) as GroupDoc;
          doc.current = e.current;
          doc.dirty = true;
          changes.push({ collection: e.collection, id: e.id, before: e.before, after: e.current });
        }
        ledger.accept(plan);
        plans.push({ p, changes, plan });
      } catch (error) {
        results.push([p, error as Error]);
      }
    }

    const dirty = [...docs.values()].filter((d) => d.dirty);
    const tail: Promise<unknown>[] = [];
    const send = (query: Promise<unknown>) => {
      tail.push(query);
    };
    for (const statement of ledger.settle(tx)) send(statement);
    let counted: PendingQuery<{ version: string }[]> | undefined;
    let written: { at: number; source: CommitSource; docs: GroupDoc[] } | undefined;
    const now = Math.max(...group.map((p) => p.request.now ?? Date.now()));
    if (dirty.length > 0) {
      counted = tx.unsafe<{ version: string }[]>(
        'UPDATE loam_server_counter SET version = version + 1 RETURNING version',
      );
      send(counted);
      const source = group[0]?.request.source ?? 'device';
      written = { at: now, source, docs: dirty };
      for (const [c, list] of groupBy(dirty)) send(upsertDocs(tx, c, list));
      send(
        tx.unsafe(
          `INSERT INTO loam_server_changes (version, collection, id, before) SELECT ${VERSION}, * FROM unnest($1::text[], $2::text[], $3::bytea[])`,
          [dirty.map((d) => d.c.name), dirty.map((d) => d.id), byteaArray(dirty.map((d) => d.beforeBytes))],
          { prepare: true },
        ),
      );
      send(
        tx.unsafe(
          `INSERT INTO loam_server_batches (version, at, source) VALUES (${VERSION}, $1, $2)`,
          [now, source],
          { prepare: true },
        ),
      );
      send(tx.unsafe(`SELECT pg_notify($1, ${VERSION}::text)`, [ctx.channel], { prepare: true }));
      const entries =
        ctx.outbox()?.({
          source,
          changes: dirty.map((d) => ({ collection: d.c.name, id: d.id, after: d.current as DocState })),
        }) ?? [];
      if (entries.length > 0) send(ctx.enqueueDeliveries(tx, entries, now));
    }
    const clocks = group.map((p) => p.request.clock).filter((t) => t !== undefined);
    const seqs = group.map((p) => p.request.nextSeq).filter((n) => n !== undefined);
    if (clocks.length > 0 || seqs.length > 0)
      send(
        tx.unsafe(
          'UPDATE loam_server_nodes SET clock = GREATEST(clock, $2), seq = GREATEST(seq, $3) WHERE replica = $1',
          [ctx.replica, clocks.sort().at(-1) ?? null, seqs.length > 0 ? Math.max(...seqs) : null],
          { prepare: true },
        ),
      );
    const failures: unknown[] = [];
    const settled = tail.map((query) =>
      query.catch((error: unknown) => {
        failures.push(error);
      }),
    );
    return { counted, written, settled, failures, plans, results, current: Number(counter?.version ?? 0) };
  };

  const upsertDocs = (tx: TransactionSql, c: PgCollection, list: GroupDoc[]) => {
    const { text, arrays } = upsertDocsSql(
      c,
      list.map((d) => ({ id: d.id, state: d.current as DocState })),
      VERSION,
    );
    return tx.unsafe(
      text,
      arrays.map((a) =>
        a.type === 'bytea'
          ? byteaArray(a.values as (Uint8Array | null)[])
          : a.type === 'boolean'
            ? sql.array(a.values as never[], 16)
            : a.values,
      ) as never[],
      { prepare: true },
    );
  };

  return {
    submit(request) {
      return new Promise<BatchResult>((resolve, reject) => {
        queue.push({ request, resolve, reject });
        if (running || timer) return;
        timer = ctx.timers.setTimeout(start, options.windowMs);
      });
    },
    flush() {
      if (timer === undefined) return;
      ctx.timers.clearTimeout(timer);
      start();
    },
    idle() {
      if (!running && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}

function groupBy(docs: readonly GroupDoc[]): Map<PgCollection, GroupDoc[]> {
  const out = new Map<PgCollection, GroupDoc[]>();
  for (const d of docs) {
    const list = out.get(d.c);
    if (list) list.push(d);
    else out.set(d.c, [d]);
  }
  return out;
}
