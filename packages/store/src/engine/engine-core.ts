/**
 * What the parts of one open engine share (the write context, the sync store, live queries). Internal to the
 * package: the app sees `Engine`, sync sees `SyncStore`.
 *
 * Invariant: `takeVersion` and the writer's sequence numbers are only used inside a storage transaction (the
 * driver runs one at a time), and are never given back.
 */
import type { Clock, ReplicaId, Schema, Writer } from '@loam/core';
import type { SqlExecutor, StorageDriver } from '../storage/driver';
import type { DocCache } from './doc-cache';
import type { CollectionSql } from './doc-rows';
import type { CommitInfo } from './engine';

/** The shared state and services of one open engine. */
export interface EngineCore {
  readonly driver: StorageDriver;
  readonly schema: Schema;
  readonly replica: ReplicaId;
  readonly clock: Clock;
  readonly writer: Writer;
  /** Hot documents' committed merge states (see `doc-cache.ts`). */
  readonly docs: DocCache;
  /** The prepared SQL of a collection; throws `SchemaError` for an unknown one. */
  collection(name: string): CollectionSql;
  /**
   * Gives the writer a fresh Yjs client id: call it when merge state the writer may have edited was dropped from the
   * device (removed documents, states replaced by a fresh set), so no Yjs item id is spent twice.
   */
  renewYjsClient(): void;
  /** The next row version (call inside the storage transaction that writes the rows). */
  takeVersion(): number;
  /** Saves the clock, the next op sequence number and the row version counter, inside the current transaction. */
  saveMeta(sql: SqlExecutor): Promise<unknown>;
  /** Tells live queries and listeners that a transaction committed. */
  notify(info: CommitInfo): void;
  /** Called after every committed transaction. Returns the unsubscribe function. */
  onCommit(listener: (info: CommitInfo) => void): () => void;
}
