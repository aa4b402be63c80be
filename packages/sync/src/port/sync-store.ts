/**
 * The port sync needs from a local database: everything the sync client (and, next, peer sync) reads or writes
 * locally goes through a {@link SyncStore}. `@loam/store`'s engine implements it (`engine.syncStore`); sync never
 * sees SQL, tables or the engine's other methods.
 *
 * ```
 *  SyncStore
 *  ├ OutboxPort      local transactions not yet acknowledged, indexed by document; sequence numbers
 *  ├ DownloadPort    snapshots from the relay (merge / replace), removals, client-reset clean-up
 *  ├ SyncStatePort   the cursor and the client's own settings (subscriptions...), owned by sync
 *  └ PeerLogPort     signed transactions: this replica's own not yet acknowledged, and those learned from peers
 *                    not yet settled by the relay, keyed by (replica, seq); the version vector of what it holds
 *                    (a prefix per replica, and the transactions held above a hole in it)
 * ```
 *
 * Invariants every implementation keeps:
 * 1. **Atomic.** Each call is one local transaction: a download's documents, removals and cursor are stored
 *    together or not at all; a refusal leaves the outbox and enters the refused-writes log together.
 * 2. **Nothing pending is lost.** An op leaves the outbox only through `acknowledge` or `recordRefusals`. A
 *    download in `replace` mode re-applies the pending ops of that document on top of the snapshot; `removeDocs`
 *    and `finishReset` keep (or replay) what pending ops of this device wrote.
 * 3. **Op ids are never reused.** Sequence numbers only grow (`skipSequence` never lowers them; `renumber` takes
 *    new ones), under the database's write lock.
 * 4. **The cursor and the sync settings belong to sync.** The store persists them; nothing else writes them.
 * 5. **Signed once, with the write.** With a device key, each local transaction is signed in the storage
 *    transaction that writes it and joins the peer log there; a peer transaction is applied, logged and counted in
 *    the version vector together, or not at all. Logged bytes are never re-encoded (their signature covers them).
 *    The vector holds, per replica, a prefix (everything up to it is applied, refused, or not to be asked for) and
 *    the transactions applied or refused above it (a hole below them: an earlier one waits); they are absorbed
 *    into the prefix, in the transaction that fills the hole. Covered = at or below the prefix, or above it and
 *    held; only the prefix is announced to peers.
 * 6. **A deleted document's last state lives as long as its delete is logged.** A logged transaction that deletes
 *    a live document keeps, beside it, the document as it was just before (`lastLiveDoc`): peers judge who may
 *    receive the delete on it. It leaves the device with that transaction (acknowledged or settled).
 */
import type { DocState, Filter, MaterializedDoc, Op, PackedDocState, ReplicaId, Schema } from '@loam/core';

/** A write the relay refused, as kept in the refused-writes log. */
export interface RefusedWrite {
  /** The refused op's id. */
  readonly op: string;
  readonly collection: string;
  readonly doc: string;
  /** Stable code from the relay, e.g. `field_denied`. */
  readonly code: string;
  /** The relay's reason, for people. */
  readonly reason: string;
  /** When the refusal was recorded (ms since epoch). */
  readonly at: number;
  /** For a transaction refused when it came from a peer: its author (`user (replica)`). */
  readonly author?: string;
}

/** One document snapshot of a download. */
export interface DownloadedDoc {
  readonly collection: string;
  readonly id: string;
  /**
   * The snapshot's state: a `DocState`; a format-2 snapshot as decoded (`readDocSnapshot`), which a store may write
   * without building a `DocState` when it holds nothing of the document (else `unpackDocState`, once); or the
   * snapshot's bytes as the relay sent them, which the store decodes (`readDocSnapshot`) as it applies them, so that
   * the decoded states of a large download are made one at a time and die young. Bytes that do not decode fail the
   * whole download with the decoder's `OpDecodeError`, changing nothing (invariant 1).
   */
  readonly state: DocState | PackedDocState | Uint8Array;
  /** `merge`: join into the local state. `replace`: take it as the state, then re-apply this replica's pending ops. */
  readonly mode: 'merge' | 'replace';
}

/** A batch of changes from the relay, applied in one local transaction. */
export interface Download {
  readonly docs: readonly DownloadedDoc[];
  /** Documents that left every subscription: removed from this device (not deleted; no op is written). */
  readonly removed: readonly { readonly collection: string; readonly id: string }[];
  /** Sync cursor to store with the changes, if any. */
  readonly cursor?: number;
}

/** A collection and a filter: the documents a subscription covers. */
export interface Coverage {
  readonly collection: string;
  readonly filter: Filter;
}

/** The outbox: this replica's local ops not yet acknowledged, in commit order, indexed by document. */
export interface OutboxPort {
  /** Pending ops, oldest transaction first: whole transactions, at least `limit` ops when there are that many. */
  pendingOps(limit: number): Promise<Op[]>;
  /** How many ops are pending. */
  pendingCount(): Promise<number>;
  /** Called after each local transaction that added ops to the outbox. Returns the unsubscribe function. */
  onPending(listener: () => void): () => void;
  /** Drops acknowledged ops (never call it before the relay made them durable). */
  acknowledge(opIds: readonly string[]): Promise<void>;
  /**
   * Drops refused ops from the outbox and appends them to the refused-writes log, then applies `correction` (the
   * relay's authoritative state of their documents), in one transaction. A correction may come with no refusal:
   * for ops answered `op_id_reused` (renumbered next) and for echoes (acknowledged, not applied by the relay). The
   * refusals of transactions forwarded for peers (other replicas' ops, never in the outbox) are recorded here too.
   */
  recordRefusals(refusals: readonly RefusedWrite[], correction?: Download): Promise<void>;
  /** The sequence number the next local op will get. */
  nextSeq(): Promise<number>;
  /** Makes every later local op's sequence number at least `next` (persisted; never lowers it). */
  skipSequence(next: number): Promise<void>;
  /**
   * Gives the pending ops `opIds` new sequence numbers (content and timestamps unchanged; local state follows, e.g.
   * a counter's increment is re-keyed). Used when the relay holds those ids with other content (this database was
   * restored from an older copy). Resolves with old id → new id for the ops found.
   */
  renumber(opIds: readonly string[]): Promise<ReadonlyMap<string, string>>;
}

/** What the relay sends down. */
export interface DownloadPort {
  /** Applies a download (see {@link Download}); resolves with how many documents changed. */
  applyDownload(download: Download): Promise<number>;
  /**
   * Removes from the device the documents of `coverage` that no pending op of this device wrote (removal, not
   * deletion: no op is written). Resolves with the ids kept because pending ops wrote them.
   */
  removeDocs(coverage: Coverage): Promise<string[]>;
  /**
   * Ends a client reset: every local document covered by one of `covered` whose key (`collection\0id`) is not in
   * `received` is replaced by an empty state with this device's pending ops replayed on top (so it is gone unless
   * one of them created it), and `cursor` is stored, in one transaction. Resolves with how many documents changed.
   */
  finishReset(covered: readonly Coverage[], received: ReadonlySet<string>, cursor: number): Promise<number>;
  /**
   * Ends one subscription's full set (asked for while the device already held documents, e.g. a subscription made
   * again): every local document covered by `coverage` whose key is not in `received` and that no coverage of
   * `keep` (the other subscriptions) covers is replaced by this device's pending ops replayed on an empty state, in
   * one transaction. Resolves with how many documents changed.
   */
  finishSet(coverage: Coverage, received: ReadonlySet<string>, keep: readonly Coverage[]): Promise<number>;
}

/** Sync's own persisted state. */
export interface SyncStatePort {
  /** The stored cursor (0 when the device never synced). */
  cursor(): Promise<number>;
  setCursor(cursor: number): Promise<void>;
  /** A setting sync saved under `key` (any MessagePack-encodable value), or undefined. */
  readState(key: string): Promise<unknown>;
  writeState(key: string, value: unknown): Promise<void>;
}

/** A replica's key in a version vector or the peer log, and the highest sequence number held of it. */
export type VersionVector = Readonly<Record<string, number>>;

/** A signed transaction as the peer log keeps it (see `peers/signed-transaction.ts`). */
export interface LoggedTransaction {
  readonly replica: ReplicaId;
  /** The sequence number of its first op (its key with `replica`). */
  readonly seq: number;
  /** `encodeOps` of its ops, exactly as signed. */
  readonly ops: Uint8Array;
  readonly signature: Uint8Array;
  /** The author's certificate (signed bytes and the relay's signature); absent on this replica's own. */
  readonly certificate?: { readonly bytes: Uint8Array; readonly signature: Uint8Array };
  /**
   * Set by `peerTransactions` on a learned transaction held above a hole (an earlier one of its author is not held
   * here): the author's prefix here. A peer it is sent to must not count anything above this as held through it.
   */
  readonly prefix?: number;
}

/** Signed transactions for peers; see the module documentation. */
export interface PeerLogPort {
  /**
   * The vector announced to peers: replica → this replica's own highest sequence number, and each other replica's
   * prefix (every transaction of it up to there is applied, refused, or not to be asked for; invariant 5).
   */
  peerVector(): Promise<Record<string, number>>;
  /** Whether transaction (`replica`, `seq`) is covered here: own, at or below the prefix, or held above it. */
  peerHeld(replica: ReplicaId, seq: number): Promise<boolean>;
  /**
   * Logged transactions the holder of `vector` lacks (`seq` above its entry), in seq order within each replica:
   * at most `limit` transactions. The log may hold a replica's transactions with holes (invariant 5): those above
   * this replica's prefix carry it (`prefix`).
   */
  peerTransactions(vector: VersionVector, limit: number): Promise<LoggedTransaction[]>;
  /** A document's current merge state (what a received transaction is judged against). */
  docState(collection: string, id: string): Promise<DocState | undefined>;
  /**
   * Incarnation `epoch` of a document as it was just before a transaction still in the log deleted it (list and
   * text fields left out: read filters compare scalar fields), or undefined (invariant 6).
   */
  lastLiveDoc(collection: string, id: string, epoch: number): Promise<MaterializedDoc | undefined>;
  /**
   * Applies a checked peer transaction: merges `ops` (its decoded ops) into local state, keeps it in the log and
   * counts it in the vector, in one local transaction. `prefix` is what the caller vouches for: every transaction
   * of `tx.replica` up to it is now applied, refused or not to be asked for; the prefix rises to it, and the
   * transaction, when above it, is held above a hole (invariant 5). Resolves false, changing nothing, when the
   * vector already covers it (a replay or a duplicate).
   */
  applyPeerTransaction(tx: LoggedTransaction, ops: readonly Op[], prefix: number): Promise<boolean>;
  /**
   * Records the refusals of a peer transaction and, when `seen` is given (an authentic transaction: its replica,
   * first and last seq, and the prefix as for `applyPeerTransaction`), counts it in the vector, in one local
   * transaction. Resolves false, recording nothing, when the vector already covers `seen`.
   */
  refusePeerTransaction(
    refusals: readonly RefusedWrite[],
    seen?: {
      readonly replica: ReplicaId;
      readonly seq: number;
      readonly last: number;
      readonly prefix: number;
    },
  ): Promise<boolean>;
  /**
   * Raises prefixes (replica → what the caller vouches for, as for `applyPeerTransaction`) and absorbs what they
   * reach of the transactions held above them, in one local transaction; never lowers one.
   */
  advancePeerVector(prefixes: Readonly<Record<string, number>>): Promise<void>;
  /** Drops logged transactions of other replicas the relay acknowledged. */
  settlePeerTransactions(keys: readonly { replica: ReplicaId; seq: number }[]): Promise<void>;
  /**
   * Called after a transaction joined the log (a local commit or a peer's), with its key. Returns the unsubscribe
   * function.
   */
  onPeerLog(listener: (logged: { readonly replica: ReplicaId; readonly seq: number }) => void): () => void;
}

/** Everything sync needs from one local database; see the module documentation. */
export interface SyncStore extends OutboxPort, DownloadPort, SyncStatePort, PeerLogPort {
  readonly replica: ReplicaId;
  readonly schema: Schema;
  /**
   * This device's Ed25519 public key when the database signs its transactions (peer sync): sent at sign-in so the
   * relay certifies it. Absent: no device key, no peer sync.
   */
  readonly devicePublicKey?: Uint8Array;
}

/** The key `finishReset` matches documents by: collection and id. */
export function docKey(collection: string, id: string): string {
  return `${collection}\u0000${id}`;
}
