/**
 * `@loam/client`: the UI-side API of Loam. `openDatabase({ name, schema })` elects a leader tab (Web Locks) that
 * runs the database worker; every tab's collections, live queries, transactions and sync calls are served by it.
 * Collections, documents, filters and aggregates are typed by the schema (`@loam/core`'s `defineSchema`).
 */
export type { StorageReport } from '@loam/db-worker';
export type { Role } from './connection';
export {
  type AggregateCall,
  type AggregateFn,
  type AggregateOptions,
  type AggregateOptionsOf,
  type AggregateRow,
  type Collection,
  type CollectionWrites,
  type Database,
  type OpenDatabaseOptions,
  openDatabase,
  type QueryOptionsOf,
  type SqlRow,
  type SqlValue,
  type Transaction,
  type TransactionOptions,
  type Unsubscribe,
} from './database';
export {
  ClientErrorCode,
  DatabaseClosedError,
  LeaderUnavailableError,
  NotLeaderError,
  SyncNotConfiguredError,
  UnsupportedBrowserError,
} from './errors';
export type { LockManagerLike } from './leader-election';
export type {
  DeviceIdentity,
  PeerState,
  PeersControls,
  PeersOptions,
  PeerView,
  RosterPeer,
} from './peers';
export type { WriteCheck } from './permissions';
export type {
  DownloadProgress,
  RefusedWrite,
  SubscriptionOutcome,
  SyncControls,
  SyncIssue,
  SyncOptions,
  SyncState,
  SyncStatus,
  SyncSubscription,
} from './sync';
