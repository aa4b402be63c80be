/**
 * Downloads of format-2 snapshots: a device writes a document it holds nothing of straight from the snapshot
 * (`packedRowParams`), and must end exactly where joining the unpacked state would have taken it, whatever else the
 * download and the device hold (its own pending writes, tombstones, the same document twice).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  asReplicaId,
  type DocId,
  type DocState,
  decodeDocSnapshot,
  defineSchema,
  encodeDocSnapshot,
  f,
  OpDecodeError,
  readDocSnapshot,
} from '@loam/core';
import { canonicalDocState, createMemoryReplica } from '@loam/core/testing';
import type { DownloadedDoc } from '@loam/sync';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createRng } from '../../../../test/convergence/random';
import { createBetterSqlite3Storage } from '../storage/storage-better-sqlite3';
import { collectionSql, decodeRowState } from './doc-rows';
import { openEngine } from './open-engine';
import { docTable } from './tables';

const schema = defineSchema({
  version: 1,
  collections: {
    products: {
      fields: {
        name: f.string(),
        price: f.number({ indexed: true }),
        category: f.string({ optional: true, indexed: true }),
        active: f.boolean({ default: true }),
        since: f.date({ optional: true }),
        extra: f.json({ optional: true }),
        supplier: f.object({ name: f.string(), city: f.string({ optional: true }) }, { optional: true }),
        stock: f.counter(),
      },
    },
  },
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'loam-sync-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Every row's merge state, canonical, by id (read from the closed database file). */
function storedStates(file: string): Map<string, unknown> {
  const c = collectionSql('products', schema.collections.products!);
  const db = new Database(join(dir, file), { readonly: true });
  try {
    const rows = db.prepare(`SELECT id, ${c.stateColumns} FROM "${docTable('products')}" ORDER BY id`).all();
    return new Map(
      (rows as Record<string, unknown>[]).map((r) => [
        r.id as string,
        canonicalDocState(c.def, decodeRowState(c, r as never)),
      ]),
    );
  } finally {
    db.close();
  }
}

it.each([1, 2, 3])(
  'a format-2 download ends where the same download unpacked ends (seed %i)',
  async (seed) => {
    const rng = createRng(seed);
    let time = 1_750_000_000_000;
    const relay = createMemoryReplica({ schema, replica: asReplicaId('relay00000000000'), now: () => time });
    const ids = Array.from({ length: 40 }, (_, i) => `p${i}` as DocId);
    const write = () => {
      time += rng.int(0, 2);
      const id = rng.pick(ids);
      const live = relay.get('products', id);
      const r = rng.int(0, 99);
      if (!live || r < 10)
        return relay.upsert('products', id, {
          name: `n${rng.int(0, 9)}`,
          price: rng.int(0, 50) / 4,
          ...(rng.chance(0.5) ? { category: `c${rng.int(0, 3)}` } : {}),
          ...(rng.chance(0.3) ? { since: new Date(time) } : {}),
          ...(rng.chance(0.3) ? { extra: { a: [1, 'x'] } } : {}),
          ...(rng.chance(0.3) ? { supplier: { name: 's', city: 'c' } } : {}),
          stock: rng.int(0, 5),
        });
      if (r < 20) return relay.delete('products', id);
      if (r < 50) return relay.increment('products', id, 'stock', rng.int(-3, 3));
      return relay.update('products', id, { price: rng.int(0, 50) / 4, active: rng.chance(0.5) });
    };
    for (let i = 0; i < 150; i++) write();

    const files = ['unpacked.db', 'packed.db', 'bytes.db'] as const;
    const devices = await Promise.all(
      files.map(async (file) =>
        openEngine({ driver: await createBetterSqlite3Storage({ filename: join(dir, file) }), schema }),
      ),
    );
    // Every device holds a few documents already, with writes of their own not yet acknowledged.
    for (const device of devices) {
      for (const id of ids.slice(0, 5)) {
        const state = relay.state.getState('products', id);
        if (state)
          await device.syncStore.applyDownload({
            docs: [
              {
                collection: 'products',
                id,
                state: decodeDocSnapshot(encodeDocSnapshot(state)),
                mode: 'merge',
              },
            ],
            removed: [],
          });
        if (await device.get('products', id)) await device.increment('products', id, 'stock', 1);
      }
    }
    for (let i = 0; i < 60; i++) write();
    // Some documents twice in one download, as consecutive frames can carry them.
    const order = [...ids, ...ids.filter(() => rng.chance(0.1))];
    const page = (form: (typeof files)[number]): DownloadedDoc[] => {
      const docs: DownloadedDoc[] = [];
      for (const id of order) {
        const state = relay.state.getState('products', id) as DocState | undefined;
        if (!state) continue;
        const bytes = encodeDocSnapshot(state, 2);
        docs.push({
          collection: 'products',
          id,
          state:
            form === 'bytes.db'
              ? bytes
              : form === 'packed.db'
                ? readDocSnapshot(bytes)
                : decodeDocSnapshot(bytes),
          mode: 'merge',
        });
      }
      return docs;
    };
    const [unpacked, ...fast] = devices as [(typeof devices)[0], ...(typeof devices)[0][]];
    const changed = await unpacked.syncStore.applyDownload({ docs: page(files[0]), removed: [] });
    const all = { collection: 'products' } as const;
    for (const [i, device] of fast.entries()) {
      expect(await device.syncStore.applyDownload({ docs: page(files[i + 1]!), removed: [] })).toBe(changed);
      expect(await device.find(all)).toEqual(await unpacked.find(all));
      // Taking the same snapshots again changes nothing.
      expect(await device.syncStore.applyDownload({ docs: page(files[i + 1]!), removed: [] })).toBe(0);
    }
    expect(await unpacked.find(all)).not.toEqual([]);
    expect(await unpacked.syncStore.applyDownload({ docs: page(files[0]), removed: [] })).toBe(0);
    for (const device of devices) await device.close();
    // The documents no device wrote itself hold the same merge state (timestamps, increments) on each.
    const others = (file: string) =>
      [...storedStates(file)].filter(([id]) => !ids.slice(0, 5).includes(id as DocId));
    expect(others('packed.db')).toEqual(others('unpacked.db'));
    expect(others('bytes.db')).toEqual(others('unpacked.db'));
    expect(others('packed.db').length).toBeGreaterThan(10);
  },
);

it('downloads of hundreds of documents in id order, new and already held, end as the general path ends', async () => {
  const relay = createMemoryReplica({ schema, replica: asReplicaId('relay00000000000') });
  // In increasing order, as a full set arrives: rows of new documents are written as they are made.
  const ids = Array.from({ length: 1200 }, (_, i) => `q${String(i).padStart(4, '0')}` as DocId);
  for (const [i, id] of ids.entries())
    relay.upsert('products', id, { name: `n${i}`, price: i, stock: i % 7 });
  const download = (some: readonly DocId[], form: 'bytes' | 'unpacked') => ({
    docs: some.map((id) => {
      const bytes = encodeDocSnapshot(relay.state.getState('products', id)!, 2);
      return {
        collection: 'products',
        id,
        state: form === 'bytes' ? bytes : decodeDocSnapshot(bytes),
        mode: 'merge' as const,
      };
    }),
    removed: [],
  });
  const devices = await Promise.all(
    ['bytes.db', 'unpacked.db'].map(async (file) =>
      openEngine({ driver: await createBetterSqlite3Storage({ filename: join(dir, file) }), schema }),
    ),
  );
  const [device, general] = devices as [(typeof devices)[0], (typeof devices)[0]];
  try {
    const expected = () => ids.map((id) => relay.get('products', id));
    const sorted = { collection: 'products', sort: [{ field: 'id', dir: 'asc' }] } as const;
    const even = ids.filter((_, i) => i % 2 === 0);
    for (const [d, form] of [
      [device, 'bytes'],
      [general, 'unpacked'],
    ] as const)
      expect(await d.syncStore.applyDownload(download(even, form))).toBe(600);
    for (const [i, id] of ids.entries()) if (i % 4 === 0) relay.update('products', id, { price: -i - 1 });
    // The odd documents are new, a quarter of the even ones changed, the others are already held as they are.
    for (const [d, form] of [
      [device, 'bytes'],
      [general, 'unpacked'],
    ] as const)
      expect(await d.syncStore.applyDownload(download(ids, form))).toBe(900);
    expect(await device.find(sorted)).toEqual(expected());
    expect(await general.find(sorted)).toEqual(expected());
  } finally {
    for (const d of devices) await d.close();
  }
  expect(storedStates('bytes.db')).toEqual(storedStates('unpacked.db'));
});

it('a document twice in a row in a download, in states neither holds all of, ends as both joined', async () => {
  const a = createMemoryReplica({ schema, replica: asReplicaId('writer0000000000') });
  const b = createMemoryReplica({ schema, replica: asReplicaId('writer1111111111') });
  const { id } = a.insert('products', { name: 'x', price: 1, stock: 1 });
  b.receive(a.log());
  a.update('products', id, { name: 'from a' });
  b.update('products', id, { price: 2 });
  const bytes = (r: typeof a) => encodeDocSnapshot(r.state.getState('products', id)!, 2);
  const device = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, 'twice.db') }),
    schema,
  });
  try {
    const docs = [a, b].map((r) => ({ collection: 'products', id, state: bytes(r), mode: 'merge' as const }));
    await device.syncStore.applyDownload({ docs, removed: [] });
    expect(await device.get('products', id)).toMatchObject({ name: 'from a', price: 2 });
  } finally {
    await device.close();
  }
});

it('a download with bytes that do not decode changes nothing', async () => {
  const relay = createMemoryReplica({ schema, replica: asReplicaId('relay00000000000') });
  const ids = ['a', 'b', 'c'] as DocId[];
  for (const id of ids) relay.upsert('products', id, { name: id, price: 1, stock: 1 });
  const device = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, 'bad.db') }),
    schema,
  });
  try {
    const docs = ids.map((id) => ({
      collection: 'products',
      id,
      state: encodeDocSnapshot(relay.state.getState('products', id)!, 2),
      mode: 'merge' as const,
    }));
    const bad = { ...docs[2]!, state: (docs[2]!.state as Uint8Array).slice(0, 30) };
    await expect(
      device.syncStore.applyDownload({ docs: [docs[0]!, docs[1]!, bad], removed: [], cursor: 7 }),
    ).rejects.toBeInstanceOf(OpDecodeError);
    expect(await device.find({ collection: 'products' })).toEqual([]);
    expect(await device.syncStore.cursor()).toBe(0);
    expect(await device.syncStore.applyDownload({ docs, removed: [], cursor: 7 })).toBe(3);
  } finally {
    await device.close();
  }
});

it.each([
  ['the lowest id of the download', 'k', ['k', 'm', 'x']],
  ['the highest id of the download', 'x', ['a', 'k', 'x']],
  ['an id between the others', 'k', ['a', 'x', 'k']],
  // In JavaScript's order 'a\u{1F600}' < 'a\uE000'; in SQLite's (UTF-8 bytes) it is greater.
  ['an id JavaScript and SQLite order differently', 'a\u{1F600}', ['a\uE000', 'a\u{1F600}']],
])('a document held is merged, not overwritten, when it is %s', async (_, held, ids) => {
  const relay = createMemoryReplica({ schema, replica: asReplicaId('relay00000000000') });
  for (const id of ids) relay.upsert('products', id as DocId, { name: id, price: 1, stock: 10 });
  const snapshot = (id: string, packed: boolean) => {
    const bytes = encodeDocSnapshot(relay.state.getState('products', id)!, 2);
    return { collection: 'products', id, state: packed ? readDocSnapshot(bytes) : decodeDocSnapshot(bytes) };
  };
  const device = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, 'held.db') }),
    schema,
  });
  try {
    await device.syncStore.applyDownload({
      docs: [{ ...snapshot(held, false), mode: 'merge' }],
      removed: [],
    });
    await device.increment('products', held, 'stock', 1);
    relay.update('products', held as DocId, { price: 2 });
    const docs = ids.map((id) => ({ ...snapshot(id, true), mode: 'merge' as const }));
    expect(await device.syncStore.applyDownload({ docs, removed: [] })).toBe(ids.length);
    expect(await device.get('products', held)).toMatchObject({ price: 2, stock: 11 });
    for (const id of ids) expect(await device.get('products', id)).toMatchObject({ name: id });
  } finally {
    await device.close();
  }
});
