import { join } from 'node:path';
import { createClock, type DocId, type Op, type ReplicaId } from '@loam/core';
import { createMemoryReplica } from '@loam/core/testing';
import { afterAll, expect, it } from 'vitest';
import { createSqliteServerStore } from '../storage/storage-sqlite';
import { tempDir, testDevice, testRules, testSchema } from '../testing/fixtures';
import { createRelay } from './relay';

const tmp = tempDir('loam-group-commit-');
afterAll(() => tmp.cleanup());

async function openRelay(name: string) {
  const store = await createSqliteServerStore({ filename: join(tmp.dir, `${name}.db`), schema: testSchema });
  const meta = await store.meta();
  const relay = createRelay({
    store,
    schema: testSchema,
    rules: testRules,
    clock: createClock({ replica: meta.replica }),
    nextSeq: meta.nextSeq,
  });
  return { store, relay };
}

const manager = { sub: 'm', role: 'manager' };
const push = (
  relay: Awaited<ReturnType<typeof openRelay>>['relay'],
  replica: ReplicaId,
  claims: object,
  ops: Op[],
) => relay.push({ replica, claims: claims as never, ops });

it('pushes arriving together are committed as one version, each answered as if applied alone', async () => {
  const { store, relay } = await openRelay('grouped');
  const a = testDevice();
  const viewer = testDevice();
  const b = testDevice();
  const before = (await store.meta()).version;
  const shared = 'shared-doc' as DocId;
  const [ra, rv, rb] = await Promise.all([
    push(relay, a.replica, manager, a.insert('orders', { storeId: 's1', owner: 'm', total: 1 }).ops),
    // A viewer may not insert: refused, and its next op on the document depends on it.
    push(relay, viewer.replica, { sub: 'v', role: 'viewer' }, [
      ...viewer.upsert('orders', shared, { storeId: 's1', owner: 'v', total: 2 }),
      ...viewer.update('orders', shared, { total: 3 }),
    ]),
    // Another device creating the same document in the same group is not refused by the viewer's refusal.
    push(relay, b.replica, manager, b.upsert('orders', shared, { storeId: 's2', owner: 'm', total: 4 })),
  ]);
  expect(ra!.refused).toEqual([]);
  expect(ra!.accepted).toHaveLength(1);
  expect(rv!.accepted).toEqual([]);
  expect(rv!.refused.map((r) => r.code)).toEqual(['insert_denied', 'depends_on_refused']);
  expect(rb!.refused).toEqual([]);
  expect(rb!.accepted).toHaveLength(1);
  expect(ra!.version).toBe(before + 1);
  expect(rb!.version).toBe(before + 1);
  expect((await store.meta()).version).toBe(before + 1);
  const doc = await store.getDoc('orders', shared);
  expect(doc?.live).toBe(true);
  await store.close();
});

it('an op id reused with other content in a group refuses only that push; the others are stored', async () => {
  const { store, relay } = await openRelay('conflict');
  const replica = testDevice().replica;
  const first = createMemoryReplica({ schema: testSchema, replica });
  const firstPush = await push(
    relay,
    replica,
    manager,
    first.insert('orders', { storeId: 's', owner: 'm', total: 1 }).ops,
  );
  expect(firstPush.accepted).toHaveLength(1);
  // The same device restored from an older copy: its next op takes the same id with other content.
  const restored = createMemoryReplica({ schema: testSchema, replica });
  const other = testDevice();
  const otherWrite = other.insert('orders', { storeId: 's', owner: 'm', total: 7 });
  const [reused, fine] = await Promise.all([
    push(relay, replica, manager, restored.insert('orders', { storeId: 's', owner: 'm', total: 99 }).ops),
    push(relay, other.replica, manager, otherWrite.ops),
  ]);
  expect(reused!.accepted).toEqual([]);
  expect(reused!.refused.map((r) => r.code)).toEqual(['op_id_reused']);
  expect(fine!.accepted).toEqual(otherWrite.ops.map((op) => op.id));
  expect((await store.getDoc('orders', otherWrite.id))?.live).toBe(true);
  await store.close();
});

it('two pushes of one group holding one op id with different contents: the first is applied, the other refused', async () => {
  const { store, relay } = await openRelay('same-id');
  const replica = testDevice().replica;
  // A device's push still queued on the relay when the same device, put back to an older copy, pushes again:
  // both carry the op id of the copy's next op, with other contents.
  const before = createMemoryReplica({ schema: testSchema, replica });
  const after = createMemoryReplica({ schema: testSchema, replica });
  const old = before.insert('orders', { storeId: 's', owner: 'm', total: 1 });
  const restored = after.insert('orders', { storeId: 's', owner: 'm', total: 2 });
  expect(restored.ops.map((op) => op.id)).toEqual(old.ops.map((op) => op.id));
  expect(restored.id).not.toBe(old.id);
  const [first, second] = await Promise.all([
    push(relay, replica, manager, old.ops),
    push(relay, replica, manager, restored.ops),
  ]);
  expect(first!.accepted).toEqual(old.ops.map((op) => op.id));
  // Never acknowledged (it was, as a duplicate of the first push's ops, and silently not applied).
  expect(second!.accepted).toEqual([]);
  expect(second!.refused.map((r) => r.code)).toEqual(restored.ops.map(() => 'op_id_reused'));
  expect((await store.getDoc('orders', old.id))?.live).toBe(true);
  expect(await store.getDoc('orders', restored.id)).toBeUndefined();
  await store.close();
});
