/**
 * The database worker of `relay-signaling.browser.test.ts`: an engine on wa-sqlite (OPFS) with a sync client
 * signed in to the relay, used only for what the page needs to open WebRTC links: this device's replica, the
 * relay's roster, and signals to and from peers. Exposed over Comlink; not part of the package's API.
 */
import type { ReplicaId } from '@loam/core';
import { createWaSqliteStorage, openEngine } from '@loam/store';
import { createSyncClient, type SyncClient } from '@loam/sync';
import * as Comlink from 'comlink';
import { deviceSchema } from './device-schema';

let client: SyncClient | undefined;
let replica: string | undefined;

const api = {
  ping: () => 'pong',
  /** Opens the database and signs in; resolves with this device's replica id once connected. */
  async open(url: string, name: string, token: string): Promise<string> {
    const engine = await openEngine({ driver: await createWaSqliteStorage({ name }), schema: deviceSchema });
    replica = engine.syncStore.replica;
    const c = createSyncClient({ store: engine.syncStore, url, getToken: async () => token });
    client = c;
    c.start();
    await new Promise<void>((resolve) => {
      const stop = c.onStatus((s) => {
        if (s.connected) {
          stop();
          resolve();
        }
      });
    });
    return replica;
  },
  /** The online peers of the relay's roster. */
  onlinePeers: () => (client?.peers.roster() ?? []).filter((p) => p.online).map((p) => p.replica as string),
  signal: (to: string, data: string) => client?.peers.signal(to as ReplicaId, data) ?? false,
  onSignal(listener: (from: string, data: string) => void) {
    client?.peers.onSignal((from, data) => listener(from, data));
  },
  connected: () => client?.status().connected ?? false,
};

export type RelaySignalWorker = typeof api;
Comlink.expose(api);
