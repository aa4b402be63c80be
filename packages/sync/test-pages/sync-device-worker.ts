/**
 * A test device for `sync-client.browser.test.ts`: a dedicated worker that opens the engine on wa-sqlite (OPFS
 * in Chromium) and runs the sync client against the relay over the browser's own `WebSocket`, exactly as the
 * database worker of `@loam/client` would. Exposed over Comlink; not part of the package's API.
 */
import { createWaSqliteStorage, type Engine, openEngine } from '@loam/store';
import * as Comlink from 'comlink';
import { createSyncClient, type SyncClient, type SyncStatus } from '../src/index';
import { deviceSchema } from './device-schema';

let engine: Engine | undefined;
let client: SyncClient | undefined;

function opened(): { engine: Engine; client: SyncClient } {
  if (!engine || !client) throw new Error('call open() first');
  return { engine, client };
}

const api = {
  ping: () => 'pong',
  /** Opens the device's database, starts sync against `url` and subscribes to the notes of `store`. */
  async open(url: string, name: string, token: string, store: number): Promise<string> {
    engine = await openEngine({ driver: await createWaSqliteStorage({ name }), schema: deviceSchema });
    client = createSyncClient({
      store: engine.syncStore,
      url,
      getToken: async () => token,
      backoff: { baseMs: 100, maxMs: 2_000 },
    });
    client.start();
    const sub = client.subscribe('notes', { op: 'eq', field: 'store', value: store });
    await sub.ready;
    return engine.replica;
  },
  async write(title: string, store: number): Promise<string> {
    return opened().engine.insert('notes', { title, store });
  },
  async titles(): Promise<string[]> {
    const docs = await opened().engine.find({ collection: 'notes', sort: [{ field: 'title', dir: 'asc' }] });
    return docs.map((d) => String(d.title));
  },
  status(): SyncStatus {
    return opened().client.status();
  },
};

/** What the test calls. */
export type SyncDeviceApi = typeof api;

Comlink.expose(api);
