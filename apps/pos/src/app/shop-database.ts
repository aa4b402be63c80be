/**
 * Opens this terminal's database with sync to the relay, and subscribes to what a till needs: its store, the
 * catalog, and its store's orders (the relay's rules would refuse other stores' orders anyway).
 */
import { type Database, openDatabase } from '@loam/client';
import { q } from '@loam/core';
import { type ShopSchema, shopSchema } from '../shop/schema';
import type { TerminalSession } from './terminal-session';

/** Sync state as the client reports it. */
export interface SyncStatus {
  readonly state: 'stopped' | 'offline' | 'connecting' | 'connected' | 'failed';
  readonly connected: boolean;
  readonly pendingUploads: number;
  readonly lastSyncedAt: number | null;
  readonly downloading: { readonly sub: string; readonly sent: number; readonly total: number } | null;
  readonly lastError: { readonly code: string; readonly message: string } | null;
}

/** A write the relay refused, with its reason; the document was put back to the server's state. */
export interface RefusedWrite {
  readonly op: string;
  readonly collection: string;
  readonly doc: string;
  readonly code: string;
  readonly reason: string;
  readonly at: number;
}

/** How a subscription's first sync ended. */
export interface SubscriptionOutcome {
  readonly status: 'synced' | 'denied' | 'unsubscribed';
  readonly code?: string;
  readonly message?: string;
}

/** The sync part of `@loam/client`'s database. */
export interface SyncApi {
  readonly sync: {
    start(): Promise<void>;
    stop(): Promise<void>;
    refreshToken(): Promise<void>;
    status(): Promise<SyncStatus>;
    onStatus(listener: (status: SyncStatus) => void): () => void;
  };
  subscribe(
    collection: string,
    filter?: unknown,
  ): Promise<{ id: string; ready: Promise<SubscriptionOutcome>; unsubscribe(): Promise<void> }>;
  refusedWrites(): Promise<RefusedWrite[]>;
  watchRefusedWrites(listener: (rows: RefusedWrite[]) => void): () => void;
}

/** The till's database. */
export type ShopDatabase = Database<ShopSchema> & SyncApi;

/** An open terminal: its database and the outcome of its subscriptions (settles when they first synced). */
export interface OpenTerminal {
  readonly db: ShopDatabase;
  readonly subscriptions: Promise<SubscriptionOutcome[]>;
}

/** Opens the database of `session`'s terminal and starts syncing; resolves once the local data is readable. */
export async function openTerminal(
  session: TerminalSession,
  getToken: () => Promise<string | null>,
): Promise<OpenTerminal> {
  const options = {
    name: `pos-terminal-${session.terminal}`,
    schema: shopSchema,
    sync: { url: session.syncUrl, getToken, autoStart: true },
  };
  const db = (await openDatabase(options)) as ShopDatabase;
  const handles = await Promise.all([
    db.subscribe('stores', q.eq('id', session.storeId)),
    db.subscribe('products'),
    db.subscribe('orders', q.eq('storeId', session.storeId)),
  ]);
  return { db, subscriptions: Promise.all(handles.map((h) => h.ready)) };
}
