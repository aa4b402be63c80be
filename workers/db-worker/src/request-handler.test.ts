import { defineSchema, f } from '@loam/core';
import { type Engine, openEngine } from '@loam/store';
import { createBetterSqlite3Storage } from '@loam/store/node';
import { afterEach, expect, it } from 'vitest';
import type { BeginResult, DbRequest } from './protocol';
import { createRequestHandler } from './request-handler';

const schema = defineSchema({
  version: 1,
  collections: { items: { fields: { name: f.string(), qty: f.number() } } },
});

const engines: Engine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
});

async function setup(idleMs?: number) {
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: ':memory:' }),
    schema,
  });
  engines.push(engine);
  const handler = createRequestHandler(engine, idleMs === undefined ? {} : { idleMs });
  const names = async () =>
    (
      (await handler.handle({ type: 'read', op: { kind: 'find', query: { collection: 'items' } } })) as {
        name: string;
      }[]
    ).map((d) => d.name);
  return { engine, handler, handle: (r: DbRequest) => handler.handle(r), names };
}

it('applies a write resent with the same requestId once, answering with the first result', async () => {
  const { handle, names } = await setup();
  const write: DbRequest = {
    type: 'write',
    requestId: 'r-1',
    intents: [{ kind: 'insert', collection: 'items', doc: { name: 'apple', qty: 1 } }],
  };
  const first = await handle(write);
  expect(await handle(write)).toEqual(first);
  expect(await names()).toEqual(['apple']);
});

it('runs a session: its reads see its writes, commit keeps all of them, rollback none', async () => {
  const { handle, names } = await setup();
  const begun = (await handle({ type: 'begin', requestId: 'tx-1' })) as BeginResult;
  if (begun.committed) throw new Error('a fresh requestId must start a session');
  const insert = (name: string) =>
    handle({
      type: 'tx',
      txId: begun.txId,
      op: { kind: 'insert', collection: 'items', doc: { name, qty: 1 } },
    });
  await insert('a');
  await insert('b');
  const seen = await handle({
    type: 'tx',
    txId: begun.txId,
    op: { kind: 'find', query: { collection: 'items' } },
  });
  expect(seen).toHaveLength(2);
  expect(await handle({ type: 'commit', txId: begun.txId, result: 'done' })).toBe('done');

  const other = (await handle({ type: 'begin', requestId: 'tx-2' })) as BeginResult;
  if (other.committed) throw new Error('a fresh requestId must start a session');
  await handle({
    type: 'tx',
    txId: other.txId,
    op: { kind: 'insert', collection: 'items', doc: { name: 'c', qty: 1 } },
  });
  await handle({ type: 'rollback', txId: other.txId });
  expect((await names()).sort()).toEqual(['a', 'b']);

  expect(await handle({ type: 'begin', requestId: 'tx-1' })).toEqual({ committed: true, result: 'done' });
  expect((await names()).sort()).toEqual(['a', 'b']);
});

it('rolls back a session left idle, and its later calls fail with transaction_expired', async () => {
  const { handler, handle, names } = await setup(30);
  const begun = (await handle({ type: 'begin', requestId: 'idle' })) as BeginResult;
  if (begun.committed) throw new Error('a fresh requestId must start a session');
  await handle({
    type: 'tx',
    txId: begun.txId,
    op: { kind: 'insert', collection: 'items', doc: { name: 'x', qty: 1 } },
  });
  const deadline = Date.now() + 5000;
  while (handler.openSessions() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await expect(handle({ type: 'commit', txId: begun.txId, result: null })).rejects.toMatchObject({
    code: 'transaction_expired',
  });
  expect(await names()).toEqual([]);
});

it('answers a transaction id it never opened with transaction_unknown (the caller then retries)', async () => {
  const { handle } = await setup();
  await expect(
    handle({ type: 'tx', txId: 'from-old-leader', op: { kind: 'get', collection: 'items', id: 'x' } }),
  ).rejects.toMatchObject({ code: 'transaction_unknown' });
});
