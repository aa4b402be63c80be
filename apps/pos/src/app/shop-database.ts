/**
 * Opens this terminal's database with sync to the relay and to the store's other tills (peers, over WebRTC links
 * signaled through the relay, which keep working when the relay is gone), and subscribes to what a till needs: its
 * store, the catalog, and its store's orders and order lines (the relay's rules would refuse other stores' anyway).
 */
import { type Database, openDatabase } from '@loam/client';
import { q, type Rules } from '@loam/core';
import rules from '../../loam/rules.json';
import { type ShopSchema, shopSchema } from '../shop/schema';
import type { TerminalSession } from './terminal-session';

export type { PeerView, RefusedWrite, SyncStatus } from '@loam/client';

/** The till's database. */
export type ShopDatabase = Database<ShopSchema>;

/**
 * Opens the database of `session`'s terminal, starts syncing and subscribes (subscriptions are persisted, so this
 * works offline too). Resolves once the local data is readable, before anything has been downloaded.
 */
export async function openTerminal(
  session: TerminalSession,
  getToken: () => Promise<string | null>,
): Promise<ShopDatabase> {
  const db = await openDatabase({
    name: `pos-terminal-${session.terminal}`,
    schema: shopSchema,
    sync: { url: session.syncUrl, getToken },
    // The relay's own rules file: a till judges what another till sends by the rules the relay would apply.
    peers: { rules: rules as unknown as Rules },
  });
  await Promise.all([
    db.subscribe('stores', q.eq('id', session.storeId)),
    db.subscribe('products'),
    db.subscribe('orders', q.eq('storeId', session.storeId)),
    db.subscribe('orderLines', q.eq('storeId', session.storeId)),
  ]);
  return db;
}
