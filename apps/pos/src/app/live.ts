/**
 * React hooks over the database's live queries and sync status. Each hook subscribes on mount, unsubscribes on
 * unmount, and re-renders with whole results (see `@loam/client`'s live-query invariants).
 */
import type { DocOf, QueryOptions } from '@loam/core';
import { useEffect, useState } from 'react';
import type { ShopSchema } from '../shop/schema';
import type { RefusedWrite, ShopDatabase, SyncStatus } from './shop-database';

type ShopCollection = keyof ShopSchema['collections'] & string;

/** The live result of a query on `collection`; `undefined` until the first result arrives. */
export function useLiveQuery<C extends ShopCollection>(
  db: ShopDatabase,
  collection: C,
  options: QueryOptions,
): DocOf<ShopSchema, C>[] | undefined {
  const [docs, setDocs] = useState<DocOf<ShopSchema, C>[] | undefined>(undefined);
  const key = JSON.stringify(options);
  useEffect(() => {
    const query = JSON.parse(key) as QueryOptions;
    return db.collection(collection).watch(query, (next) => setDocs(next));
  }, [db, collection, key]);
  return docs;
}

/** The sync status, updated on every change; `undefined` until known. */
export function useSyncStatus(db: ShopDatabase): SyncStatus | undefined {
  const [status, setStatus] = useState<SyncStatus | undefined>(undefined);
  useEffect(() => db.sync.onStatus((next) => setStatus(next)), [db]);
  return status;
}

/** The refused-writes log, newest first. */
export function useRefusedWrites(db: ShopDatabase): RefusedWrite[] {
  const [rows, setRows] = useState<RefusedWrite[]>([]);
  useEffect(() => db.watchRefusedWrites((next) => setRows(next)), [db]);
  return rows;
}

/** The current time, refreshed every `everyMs` (for "synced 2 min ago" and today's totals). */
export function useNow(everyMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
