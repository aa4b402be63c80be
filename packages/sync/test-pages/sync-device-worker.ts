/**
 * A test device for `sync-client.browser.test.ts`: a dedicated worker that opens the engine on wa-sqlite (OPFS
 * in Chromium) and runs the sync client against the relay over the browser's own `WebSocket`, exactly as the
 * database worker of `@loam/client` would. It can also close the database, copy its OPFS files aside and put them
 * back (a restore from an older copy). Exposed over Comlink; not part of the package's API.
 */

import type { WriteIntent } from '@loam/core';
import { createWaSqliteStorage, type Doc, type Engine, openEngine } from '@loam/store';
import * as Comlink from 'comlink';
import { createSyncClient, type SyncClient, type SyncStatus } from '../src/index';
import { deviceSchema } from './device-schema';

let engine: Engine | undefined;
let client: SyncClient | undefined;
const problems: string[] = [];

function opened(): { engine: Engine; client: SyncClient } {
  if (!engine || !client) throw new Error('call open() first');
  return { engine, client };
}

/** A file handle inside a worker (the DOM typings lack `createSyncAccessHandle`). */
interface SyncAccessible {
  createSyncAccessHandle(): Promise<{
    truncate(size: number): void;
    write(bytes: Uint8Array, options: { at: number }): number;
    flush(): void;
    close(): void;
  }>;
}

/** The OPFS directory AccessHandlePoolVFS keeps database `name` in (see `storage-wa-sqlite.ts`). */
async function directory(path: string[], create = false): Promise<FileSystemDirectoryHandle> {
  let dir = await navigator.storage.getDirectory();
  for (const part of path) dir = await dir.getDirectoryHandle(part, { create });
  return dir;
}

/** Replaces the files of directory `to` by copies of those of `from`. */
async function copyDirectory(from: string[], to: string[]): Promise<number> {
  const source = await directory(from);
  const target = await directory(to, true);
  for await (const name of (target as unknown as { keys(): AsyncIterable<string> }).keys())
    await target.removeEntry(name);
  let copied = 0;
  for await (const [name, handle] of (
    source as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }
  ).entries()) {
    if (handle.kind !== 'file') continue;
    const bytes = new Uint8Array(await (await (handle as FileSystemFileHandle).getFile()).arrayBuffer());
    const file = await target.getFileHandle(name, { create: true });
    const access = await (file as unknown as SyncAccessible).createSyncAccessHandle();
    access.truncate(0);
    access.write(bytes, { at: 0 });
    access.flush();
    access.close();
    copied++;
  }
  return copied;
}

const api = {
  ping: () => 'pong',
  /**
   * Opens the device's database and subscribes to the notes of `store` against relay `url`; with `start` (the
   * default) starts syncing and waits for the subscription's first set, else `start()` does it later.
   */
  async open(url: string, name: string, token: string, store: number, start = true): Promise<string> {
    engine = await openEngine({ driver: await createWaSqliteStorage({ name }), schema: deviceSchema });
    client = createSyncClient({
      store: engine.syncStore,
      url,
      getToken: async () => token,
      backoff: { baseMs: 100, maxMs: 2_000 },
    });
    client.onStatus((status) => {
      if (status.lastError) problems.push(status.lastError.code);
    });
    const sub = client.subscribe('notes', { op: 'eq', field: 'store', value: store });
    if (start) {
      client.start();
      await sub.ready;
    } else await sub.saved;
    return engine.replica;
  },
  /** Starts syncing (after `open(..., false)`). */
  start(): void {
    opened().client.start();
  },
  /** Stops sync and closes the database (its OPFS files are released). */
  async close(): Promise<void> {
    await client?.stop();
    await engine?.close();
    engine = undefined;
    client = undefined;
  },
  /** Copies database `name`'s OPFS files to `copy` (or back, with `restore`), while it is closed. */
  async copyFiles(name: string, copy: string, restore = false): Promise<number> {
    const files = ['loam-ahp', name];
    const aside = ['loam-copies', copy];
    return restore ? copyDirectory(aside, files) : copyDirectory(files, aside);
  },
  async write(title: string, store: number): Promise<string> {
    return opened().engine.insert('notes', { title, store });
  },
  /** Runs one write intent. */
  async apply(intent: WriteIntent): Promise<string> {
    return opened().engine.write(intent);
  },
  /**
   * Runs `transactions` at once, each incrementing note `id`'s counter and renaming it, those marked `fail` then
   * throwing; resolves with the names of those that committed and the ids of the ops left in the outbox.
   */
  async concurrent(id: string, transactions: { name: string; fail: boolean }[]) {
    const { engine: e } = opened();
    const outcomes = await Promise.allSettled(
      transactions.map(({ name, fail }) =>
        e.transaction(async (tx) => {
          await tx.increment('notes', id, 'count', 1);
          await tx.update('notes', id, { title: name });
          if (fail) throw new Error('the app changed its mind');
        }),
      ),
    );
    return {
      committed: transactions.filter((_, i) => outcomes[i]?.status === 'fulfilled').map((t) => t.name),
      opIds: (await e.syncStore.pendingOps(10_000)).map((op) => op.id as string),
    };
  },
  async get(id: string): Promise<Doc | undefined> {
    return opened().engine.get('notes', id);
  },
  async titles(): Promise<string[]> {
    const docs = await opened().engine.find({ collection: 'notes', sort: [{ field: 'title', dir: 'asc' }] });
    return docs.map((d) => String(d.title));
  },
  status(): SyncStatus {
    return opened().client.status();
  },
  /** Every problem code the status showed since open. */
  problems: () => [...problems],
};

/** What the test calls. */
export type SyncDeviceApi = typeof api;

Comlink.expose(api);
