/**
 * The engine's side of `@loam/sync`'s `PeerLogPort`: signed transactions for peers, and the version vector.
 *
 * ```
 * loam_peer_log     (replica, seq) → last seq, encoded ops, signature, author's certificate (NULL: own)
 * loam_peer_vector  replica → its prefix: every transaction of it up to this seq is applied or refused here, or
 *                   will not be asked for (its sender had nothing there)
 * loam_peer_ahead   (replica, seq) → last seq: a transaction applied or refused above a hole in the prefix
 * loam_peer_gone    (collection, id, epoch, replica, seq) → the document as it was just before that logged
 *                   transaction deleted it (scalar fields, `_doc` encoding)
 * ```
 * Invariants (the port's 5 among them):
 * 1. A local transaction joins the log in the storage transaction that writes it (`logOwnTransaction`), signed.
 * 2. Own entries leave the log once none of their ops is pending in the outbox (acknowledged or refused);
 *    learned entries leave when the relay acknowledged them (`settlePeerTransactions`).
 * 3. A peer transaction is applied, logged and counted in the vector in one storage transaction; one the vector
 *    already covers (at or below the prefix, or in `loam_peer_ahead`) changes nothing. Counted = the prefix rises
 *    to what the caller vouches for (`prefix`) or the transaction joins `loam_peer_ahead`; in the same storage
 *    transaction, ahead entries the prefix reaches, or that continue it seq by seq, are absorbed into it. The vector
 *    announced to peers is the prefix: a peer re-sends from the hole, and what is already held is dropped.
 * 4. A logged transaction that deletes a live document keeps its last state in `loam_peer_gone`, written with it
 *    and dropped when it leaves the log (invariant 2): a deleted document's values stay on the device no longer
 *    than its delete may still travel to a peer.
 */
import {
  applyOp,
  ClockSkewError,
  createDocState,
  type DocState,
  isLive,
  type MaterializedDoc,
  materialize,
  type Op,
  parseOpId,
  type ReplicaId,
} from '@loam/core';
import type { LoggedTransaction, PeerLogPort, RefusedWrite } from '@loam/sync';
import type { SqlExecutor } from '../storage/driver';
import { type CollectionSql, keepDoc, loadStoredDoc, saveDoc, takeDoc } from './doc-rows';
import type { EngineCore } from './engine-core';
import { decode, encode } from './state-codec';

/** The peer log's tables; the refused-writes log gains the author of a refused peer transaction. */
export const PEER_LOG_DDL = `
CREATE TABLE IF NOT EXISTS loam_peer_log (
  replica TEXT NOT NULL, seq INTEGER NOT NULL, last INTEGER NOT NULL, ops BLOB NOT NULL, sig BLOB NOT NULL,
  cert BLOB, cert_sig BLOB, PRIMARY KEY (replica, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS loam_peer_vector (replica TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS loam_peer_ahead (
  replica TEXT NOT NULL, seq INTEGER NOT NULL, last INTEGER NOT NULL, PRIMARY KEY (replica, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS loam_peer_gone (
  collection TEXT NOT NULL, id TEXT NOT NULL, epoch INTEGER NOT NULL, replica TEXT NOT NULL, seq INTEGER NOT NULL,
  doc BLOB NOT NULL, PRIMARY KEY (collection, id, epoch, replica, seq)
) WITHOUT ROWID;
`;

const INSERT_LOG =
  'INSERT OR IGNORE INTO loam_peer_log (replica, seq, last, ops, sig, cert, cert_sig) VALUES (?, ?, ?, ?, ?, ?, ?)';
const PUT_VECTOR =
  'INSERT INTO loam_peer_vector (replica, seq) VALUES (?, ?) ON CONFLICT (replica) DO UPDATE SET seq = max(seq, excluded.seq)';

/** The prefix of `replica` held here (0: none). */
const prefixOf = async (sql: SqlExecutor, replica: string) =>
  (await sql.get<{ seq: number }>('SELECT seq FROM loam_peer_vector WHERE replica = ?', [replica]))?.seq ?? 0;

/**
 * The prefix of `replica`, and whether transaction (`replica`, `seq`) is applied or refused here (at or below the
 * prefix, or ahead of it), in one read.
 */
async function coverage(sql: SqlExecutor, replica: string, seq: number) {
  const row = await sql.get<{ prefix: number | null; ahead: number }>(
    'SELECT (SELECT seq FROM loam_peer_vector WHERE replica = ?) AS prefix, EXISTS (SELECT 1 FROM loam_peer_ahead WHERE replica = ? AND seq = ?) AS ahead',
    [replica, replica, seq],
  );
  const prefix = row?.prefix ?? 0;
  return { prefix, covered: seq <= prefix || Number(row?.ahead ?? 0) > 0 };
}

/**
 * Raises the prefix of `replica` to the caller's `prefix` and counts `tx` (its first and last seq, not yet covered)
 * in the vector (invariant 3): above the new prefix it joins the ahead set; then ahead entries at or below the
 * prefix, or starting just after it, are absorbed, until one is neither.
 */
async function count(
  sql: SqlExecutor,
  replica: string,
  prefix: number,
  tx?: { readonly seq: number; readonly last: number },
  known?: number,
) {
  const held = known ?? (await prefixOf(sql, replica));
  let p = Math.max(held, prefix);
  if (tx && tx.seq > p)
    await sql.run('INSERT OR IGNORE INTO loam_peer_ahead (replica, seq, last) VALUES (?, ?, ?)', [
      replica,
      tx.seq,
      tx.last,
    ]);
  for (;;) {
    const next = await sql.get<{ seq: number; last: number }>(
      'SELECT seq, last FROM loam_peer_ahead WHERE replica = ? ORDER BY seq LIMIT 1',
      [replica],
    );
    if (!next || next.seq > p + 1) break;
    p = Math.max(p, next.last);
    await sql.run('DELETE FROM loam_peer_ahead WHERE replica = ? AND seq = ?', [replica, next.seq]);
  }
  if (p > held) await sql.run(PUT_VECTOR, [replica, p]);
}

/** Creates the tables (and the refused-writes log's `author` column on databases made before it). */
export async function preparePeerLog(sql: SqlExecutor): Promise<void> {
  await sql.exec(PEER_LOG_DDL);
  const columns = await sql.all<{ name: string }>("SELECT name FROM pragma_table_info('loam_refused')");
  if (!columns.some((c) => c.name === 'author'))
    await sql.exec('ALTER TABLE loam_refused ADD COLUMN author TEXT');
}

/** A live document a transaction deletes, as it is just before the delete (invariant 4). */
export interface GoneDoc {
  readonly c: CollectionSql;
  readonly id: string;
  readonly state: DocState;
}

/**
 * `state`, live and about to take a delete, as it is now. O(1): a delete replaces the register and counter maps
 * rather than changing them, so they are kept, not copied; list and text fields are left out (its Yjs documents are
 * destroyed by the delete, and read filters compare scalar fields).
 */
function goneDoc(c: CollectionSql, id: string, state: DocState): GoneDoc {
  return {
    c,
    id,
    state: {
      epoch: state.epoch,
      created: true,
      deleted: false,
      regs: state.regs,
      counters: state.counters,
      crdts: {},
    },
  };
}

/** Records the live documents `op` deletes in `state`, before it is applied. */
export function noteGone(gone: GoneDoc[], c: CollectionSql, op: Op, state: DocState): void {
  if (op.kind === 'delete' && op.epoch === state.epoch && isLive(state)) gone.push(goneDoc(c, op.doc, state));
}

async function keepGone(sql: SqlExecutor, replica: string, seq: number, gone: readonly GoneDoc[]) {
  for (const g of gone) {
    const doc = materialize(g.c.def, g.id, g.state) as MaterializedDoc;
    for (const field of g.c.crdtFields) delete doc[field];
    await sql.run(
      'INSERT OR REPLACE INTO loam_peer_gone (collection, id, epoch, replica, seq, doc) VALUES (?, ?, ?, ?, ?, ?)',
      [g.c.name, g.id, g.state.epoch, replica, seq, encode(doc)],
    );
  }
}

/** Drops the last states whose deleting transaction left the log. */
const dropGone = (sql: SqlExecutor) =>
  sql.run(
    'DELETE FROM loam_peer_gone WHERE NOT EXISTS (SELECT 1 FROM loam_peer_log l WHERE l.replica = loam_peer_gone.replica AND l.seq = loam_peer_gone.seq)',
  );

/**
 * Keeps one signed local transaction in the log (inside the transaction that wrote it), with the documents it
 * deleted as they were before (invariant 4).
 */
export async function logOwnTransaction(
  sql: SqlExecutor,
  replica: ReplicaId,
  ops: readonly Op[],
  encoded: Uint8Array,
  signature: Uint8Array,
  gone: readonly GoneDoc[] = [],
): Promise<void> {
  const first = parseOpId((ops[0] as Op).id).seq;
  const last = parseOpId((ops[ops.length - 1] as Op).id).seq;
  await sql.run(INSERT_LOG, [replica, first, last, encoded, signature, null, null]);
  await keepGone(sql, replica, first, gone);
}

/** Drops own entries none of whose ops is still pending (the lowest pending seq is above their last). */
export async function pruneOwnLog(sql: SqlExecutor, replica: ReplicaId, lowestPending: number | undefined) {
  if (lowestPending === undefined) await sql.run('DELETE FROM loam_peer_log WHERE replica = ?', [replica]);
  else await sql.run('DELETE FROM loam_peer_log WHERE replica = ? AND last < ?', [replica, lowestPending]);
  await dropGone(sql);
}

const INSERT_REFUSED =
  'INSERT OR REPLACE INTO loam_refused (op, collection, doc, code, reason, at, author) VALUES (?, ?, ?, ?, ?, ?, ?)';

/** Records refused writes (with their author when they came from a peer). */
export async function insertRefusals(sql: SqlExecutor, refusals: readonly RefusedWrite[]): Promise<void> {
  for (const r of refusals)
    await sql.run(INSERT_REFUSED, [r.op, r.collection, r.doc, r.code, r.reason, r.at, r.author ?? null]);
}

/** Creates the peer-log half of the engine's sync store. */
export function createPeerLogPort(core: EngineCore): PeerLogPort {
  const { driver, replica } = core;
  const listeners = new Set<(logged: { readonly replica: ReplicaId; readonly seq: number }) => void>();
  core.onCommit((info) => {
    const first = info.ops[0];
    if (info.local && first) notify({ replica, seq: parseOpId(first.id).seq });
  });
  const notify = (logged: { replica: ReplicaId; seq: number }) => {
    for (const l of listeners) l(logged);
  };

  return {
    async peerVector() {
      const rows = await driver.all<{ replica: string; seq: number }>(
        'SELECT replica, seq FROM loam_peer_vector',
      );
      const vector: Record<string, number> = {};
      for (const row of rows) vector[row.replica] = row.seq;
      vector[replica] = core.writer.nextSeq() - 1;
      return vector;
    },
    peerHeld: async (r, seq) => r === replica || (await coverage(driver, r, seq)).covered,
    async peerTransactions(vector, limit) {
      const replicas = await driver.all<{ replica: string; prefix: number | null }>(
        'SELECT l.replica, v.seq AS prefix FROM (SELECT DISTINCT replica FROM loam_peer_log) l LEFT JOIN loam_peer_vector v ON v.replica = l.replica',
      );
      const out: LoggedTransaction[] = [];
      for (const { replica: r, prefix } of replicas) {
        if (out.length >= limit) break;
        const after = Object.hasOwn(vector, r) ? (vector[r] as number) : 0;
        const rows = await driver.all<{
          seq: number;
          ops: Uint8Array;
          sig: Uint8Array;
          cert: Uint8Array | null;
          cert_sig: Uint8Array | null;
        }>(
          'SELECT seq, ops, sig, cert, cert_sig FROM loam_peer_log WHERE replica = ? AND seq > ? ORDER BY seq LIMIT ?',
          [r, after, limit - out.length],
        );
        for (const row of rows)
          out.push({
            replica: r as ReplicaId,
            seq: row.seq,
            ops: row.ops,
            signature: row.sig,
            ...(row.cert && row.cert_sig
              ? { certificate: { bytes: row.cert, signature: row.cert_sig } }
              : {}),
            ...(r !== replica && row.seq > (prefix ?? 0) ? { prefix: prefix ?? 0 } : {}),
          });
      }
      return out;
    },
    // The database holds every committed state (the cache only saves reloading it), so it is read there.
    docState: async (collection, id) => (await loadStoredDoc(driver, core.collection(collection), id))?.state,
    async lastLiveDoc(collection, id, epoch) {
      const row = await driver.get<{ doc: Uint8Array }>(
        'SELECT doc FROM loam_peer_gone WHERE collection = ? AND id = ? AND epoch = ? LIMIT 1',
        [collection, id, epoch],
      );
      return row ? (decode(row.doc) as MaterializedDoc) : undefined;
    },
    async applyPeerTransaction(tx, ops, prefix) {
      const touched = new Set<string>();
      let applied: boolean;
      try {
        applied = await driver.transaction(async (sql) => {
          if (tx.replica === replica) return false;
          const held = await coverage(sql, tx.replica, tx.seq);
          if (held.covered) return false;
          const version = core.takeVersion();
          const gone: GoneDoc[] = [];
          for (const op of ops) {
            const c = core.collection(op.collection);
            const stored = (await takeDoc(core.docs, sql, c, op.doc)) ?? {
              state: createDocState(),
              logs: new Map(),
            };
            noteGone(gone, c, op, stored.state);
            applyOp(c.def, stored.state, op);
            await saveDoc(sql, c, op.doc, stored, version);
            keepDoc(core.docs, c, op.doc, stored);
            touched.add(c.name);
            try {
              core.clock.receive(op.ts);
            } catch (error) {
              if (!(error instanceof ClockSkewError)) throw error;
            }
          }
          const last = parseOpId((ops[ops.length - 1] as Op).id).seq;
          await sql.run(INSERT_LOG, [
            tx.replica,
            tx.seq,
            last,
            tx.ops,
            tx.signature,
            tx.certificate?.bytes ?? null,
            tx.certificate?.signature ?? null,
          ]);
          await keepGone(sql, tx.replica, tx.seq, gone);
          await count(sql, tx.replica, prefix, { seq: tx.seq, last }, held.prefix);
          await core.saveMeta(sql);
          return true;
        });
      } catch (error) {
        // Documents go back in the cache as they are saved: after a rollback some may hold this transaction's ops.
        core.docs.clear();
        throw error;
      }
      if (applied) {
        core.notify({ collections: [...touched], local: false, ops: [] });
        notify({ replica: tx.replica, seq: tx.seq });
      }
      return applied;
    },
    async refusePeerTransaction(refusals, seen) {
      const recorded = await driver.transaction(async (sql) => {
        if (seen) {
          const held = await coverage(sql, seen.replica, seen.seq);
          if (held.covered) return false;
          await count(sql, seen.replica, seen.prefix, seen, held.prefix);
        }
        await insertRefusals(sql, refusals);
        return true;
      });
      // The refused-writes log is read by live SQL queries (the app's refusals panel): they re-run now.
      if (recorded && refusals.length > 0) core.notify({ collections: [], local: false, ops: [] });
      return recorded;
    },
    async advancePeerVector(prefixes) {
      const entries = Object.entries(prefixes).filter(([r]) => r !== replica);
      if (entries.length === 0) return;
      await driver.transaction(async (sql) => {
        for (const [r, p] of entries) await count(sql, r, p);
      });
    },
    async settlePeerTransactions(keys) {
      if (keys.length === 0) return;
      await driver.transaction(async (sql) => {
        for (const k of keys)
          if (k.replica !== replica)
            await sql.run('DELETE FROM loam_peer_log WHERE replica = ? AND seq = ?', [k.replica, k.seq]);
        await dropGone(sql);
      });
    },
    onPeerLog(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}
