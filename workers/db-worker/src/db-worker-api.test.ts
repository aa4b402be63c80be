import { defineSchema, f } from '@loam/core';
import { openEngine, StorageError } from '@loam/store';
import { createBetterSqlite3Storage } from '@loam/store/node';
import { afterEach, expect, it } from 'vitest';
import { createDbWorkerApi, type DbWorkerApi, type DbWorkerDeps } from './db-worker-api';

const schema = defineSchema({ version: 1, collections: { items: { fields: { name: f.string() } } } });
const apis: DbWorkerApi[] = [];
afterEach(async () => {
  for (const api of apis.splice(0)) await api.close();
});

/** Deps whose driver fails with `failures` in order before opening an in-memory better-sqlite3 database. */
function deps(failures: StorageError[]): DbWorkerDeps & { attempts: () => number } {
  let attempts = 0;
  return {
    attempts: () => attempts,
    openDriver: async () => {
      const failure = failures[attempts++];
      if (failure) throw failure;
      return await createBetterSqlite3Storage({ filename: ':memory:' });
    },
    openEngine: (options) => openEngine(options),
    whenLockFree: () => undefined,
  };
}

const open = (api: DbWorkerApi, openTimeoutMs = 5000) =>
  api.open({ name: 'db', schema, channel: `api-test-${Math.random()}`, leaderId: 'L', openTimeoutMs });

it('keeps retrying while the previous worker still holds the files, then serves requests', async () => {
  const busy = () => new StorageError('storage_busy', 'held by the previous worker');
  const d = deps([busy(), busy(), busy()]);
  const api = createDbWorkerApi(d);
  apis.push(api);
  expect(await open(api)).toMatchObject({ kind: 'file', backend: 'better-sqlite3' });
  expect(d.attempts()).toBe(4);
  await api.request({
    type: 'write',
    requestId: 'r',
    intents: [{ kind: 'insert', collection: 'items', doc: { name: 'a' } }],
  });
  expect(
    await api.request({ type: 'read', op: { kind: 'find', query: { collection: 'items' } } }),
  ).toHaveLength(1);
});

it('gives up with database_open_failed when the files stay busy, and does not retry other failures', async () => {
  const busyForever = Array.from({ length: 1000 }, () => new StorageError('storage_busy', 'held'));
  const stuck = createDbWorkerApi(deps(busyForever));
  apis.push(stuck);
  await expect(open(stuck, 100)).rejects.toMatchObject({ code: 'database_open_failed' });

  const d = deps([new StorageError('storage_corrupt', 'not a database')]);
  const corrupt = createDbWorkerApi(d);
  apis.push(corrupt);
  await expect(open(corrupt)).rejects.toMatchObject({ code: 'storage_corrupt' });
  expect(d.attempts()).toBe(1);
});

it('refuses requests before open with database_not_open', async () => {
  const api = createDbWorkerApi(deps([]));
  await expect(
    api.request({ type: 'read', op: { kind: 'get', collection: 'items', id: 'x' } }),
  ).rejects.toMatchObject({ code: 'database_not_open' });
});
