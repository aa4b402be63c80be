import { asReplicaId, type DocId, materialize, type Op } from '@loam/core';
import { createMemoryReplica } from '@loam/core/testing';
import postgres from 'postgres';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createStoreStats } from '../metrics/histogram';
import { createTestSchema, TEST_PG_URL, type TestSchema } from '../testing/postgres';
import type { ServerStore, StoreCommit } from './server-store';
import { conformanceSchema, runServerStoreCase, serverStoreCases } from './server-store-conformance';
import { createPostgresServerStore, type PostgresServerStoreOptions } from './storage-postgres';
import { createPostgresFeed } from './storage-postgres-feed';
import { MIGRATIONS } from './storage-postgres-migrations';
import { pgCollection } from './storage-postgres-sql';

const schemas: TestSchema[] = [];
const stores: ServerStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
  for (const s of schemas) await s.drop();
});

function freshSchema(): TestSchema {
  const db = createTestSchema();
  schemas.push(db);
  return db;
}

async function open(db: TestSchema, options: Partial<PostgresServerStoreOptions> = {}): Promise<ServerStore> {
  const store = await createPostgresServerStore({
    url: db.url,
    schema: conformanceSchema,
    poolSize: 3,
    ...options,
  });
  stores.push(store);
  return store;
}

let replicas = 0;
const device = () =>
  createMemoryReplica({
    schema: conformanceSchema,
    replica: asReplicaId(`pg${String(++replicas).padStart(14, '0')}`),
  });
const items = conformanceSchema.collections.items!;
const stockOf = async (store: ServerStore, id: string) => {
  const doc = await store.getDoc('items', id);
  return doc ? (materialize(items, id, doc.state) as { stock: number } | undefined)?.stock : undefined;
};

describe('PostgreSQL server store: conformance', () => {
  for (const testCase of serverStoreCases) {
    it(testCase.name, async () => {
      const db = freshSchema();
      await runServerStoreCase(testCase, () =>
        createPostgresServerStore({ url: db.url, schema: conformanceSchema, poolSize: 3 }),
      );
    });
  }
});

describe('PostgreSQL server store: several nodes', () => {
  it('groups concurrent batches into one transaction, each with its own outcome', async () => {
    const store = await open(freshSchema(), { groupWindowMs: 20 });
    const a = device();
    const { id, ops } = a.insert('items', { name: 'tea', owner: 'u1' });
    await store.applyBatch({ ops });
    const incs = Array.from({ length: 20 }, () => a.increment('items', id, 'stock', 1));
    const before = store.stats.batchRequests;
    const lines = () => before.render('x', 'x').find((l) => l.startsWith('x_count')) ?? '';
    const countBefore = lines();
    const results = await Promise.all([
      ...incs.map((ops) => store.applyBatch({ ops })),
      store.applyBatch({ ops: incs[0]! }),
    ]);
    expect(results.slice(0, 20).every((r) => r.duplicates.length === 0 && r.accepted.length === 1)).toBe(
      true,
    );
    expect(results[20]!.duplicates).toEqual([incs[0]![0]!.id]);
    expect(new Set(results.map((r) => r.version)).size).toBe(1);
    expect(await stockOf(store, id)).toBe(20);
    expect(lines()).not.toBe(countBefore);
    expect(Number(lines().split(' ')[1]) - Number(countBefore.split(' ')[1])).toBeLessThan(21);
  });

  it('two nodes writing the same counter at once: every increment once, versions without gaps, a re-sent op applied once', async () => {
    const db = freshSchema();
    const [n1, n2] = [await open(db), await open(db)];
    const seen: StoreCommit[] = [];
    const seenBy1: StoreCommit[] = [];
    n2.commits.subscribe((e) => {
      if (e.t === 'commit') seen.push(e.commit);
    });
    n1.commits.subscribe((e) => {
      if (e.t === 'commit') seenBy1.push(e.commit);
    });
    const a = device();
    const { id, ops } = a.insert('items', { name: 'shared', owner: 'u1' });
    await n1.applyBatch({ ops });
    const writes: Promise<unknown>[] = [];
    const resent: Op[][] = [];
    for (let i = 0; i < 60; i++) {
      const inc = a.increment('items', id as DocId, 'stock', 1);
      if (i % 10 === 0) resent.push(inc);
      writes.push((i % 2 ? n1 : n2).applyBatch({ ops: inc }));
    }
    for (const inc of resent) writes.push(n1.applyBatch({ ops: inc }), n2.applyBatch({ ops: inc }));
    await Promise.all(writes);
    expect(await stockOf(n1, id)).toBe(60);
    const version = (await n1.meta()).version;
    await vi.waitFor(() => expect(n2.commits.position()).toBe(version), { timeout: 10_000 });
    expect(seen.map((c) => c.version)).toEqual(Array.from({ length: version }, (_, i) => i + 1));
    const rows = await db.query<{ version: string }>(
      'SELECT version FROM loam_server_batches ORDER BY version',
    );
    expect(rows.map((r) => Number(r.version))).toEqual(seen.map((c) => c.version));
    // Each node hears its own commits from memory and the other's from the database: the same changes either way.
    await vi.waitFor(() => expect(n1.commits.position()).toBe(version), { timeout: 10_000 });
    const told = (commits: StoreCommit[]) =>
      commits.map((c) => ({
        version: c.version,
        changes: c.changes.map((ch) => [ch.collection, ch.id, ch.beforeDoc, ch.after.created]),
      }));
    expect(told(seenBy1)).toEqual(told(seen));
  });

  it('an op id sent with two contents through two nodes at once is applied once; the other content is a conflict', async () => {
    const db = freshSchema();
    const [n1, n2] = [await open(db), await open(db)];
    const a = device();
    const x = a.insert('items', { name: 'x', owner: 'u1' });
    const y = a.insert('items', { name: 'y', owner: 'u1' });
    await n1.applyBatch({ ops: [...x.ops, ...y.ops] });
    const applied = { [x.id]: 0, [y.id]: 0 };
    for (let round = 0; round < 8; round++) {
      const inc = a.increment('items', x.id as DocId, 'stock', 1)[0]!;
      const reused = { ...inc, doc: round % 2 ? y.id : x.id, by: 10 } as Op;
      const [r1, r2] = await Promise.all([n1.applyBatch({ ops: [inc] }), n2.applyBatch({ ops: [reused] })]);
      const outcomes = [r1, r2].map((r) => `${r.accepted.join()}|${r.conflicts.map((op) => op.id).join()}`);
      expect(outcomes.sort()).toEqual([`${inc.id}|`, `|${inc.id}`]);
      const winner = r1.accepted.length > 0 ? inc : reused;
      applied[winner.doc] = (applied[winner.doc] ?? 0) + (winner as Op & { by: number }).by;
      const again = await (round % 2 ? n2 : n1).applyBatch({ ops: [winner] });
      expect([again.duplicates, again.conflicts]).toEqual([[inc.id], []]);
    }
    expect([await stockOf(n2, x.id), await stockOf(n2, y.id)]).toEqual([applied[x.id], applied[y.id]]);
    expect(await n2.replicaSeq(a.replica)).toBe(10);
  });

  it('an older database gains digests and sequence numbers on upgrade; ids recorded before are still duplicates', async () => {
    const db = freshSchema();
    await (await open(db, { migrations: MIGRATIONS.slice(0, 1) })).close();
    const a = device();
    const x = a.insert('items', { name: 'x', owner: 'u1' });
    await db.query('INSERT INTO loam_server_ops (id, at) VALUES ($1, 1000)', [x.ops[0]!.id]);
    const store = await open(db);
    expect(await store.replicaSeq(a.replica)).toBe(1);
    const resent = await store.applyBatch({ ops: x.ops });
    expect([resent.duplicates, resent.conflicts, resent.changes]).toEqual([[x.ops[0]!.id], [], []]);
    const y = a.insert('items', { name: 'y', owner: 'u1' });
    expect((await store.applyBatch({ ops: y.ops })).accepted).toEqual([y.ops[0]!.id]);
    expect(await store.replicaSeq(a.replica)).toBe(2);
  });

  it('a node whose LISTEN connection is cut catches up on reconnection, losing no version', async () => {
    const db = freshSchema();
    const writer = await open(db);
    const reader = await open(db, { pollMs: 3_600_000 });
    const a = device();
    const versions: number[] = [];
    reader.commits.subscribe((e) => {
      if (e.t === 'commit') versions.push(e.commit.version);
    });
    await writer.applyBatch({ ops: a.insert('items', { name: 'one', owner: 'u1' }).ops });
    await vi.waitFor(() => expect(versions).toEqual([1]), { timeout: 10_000 });
    const cut = await db.query<{ n: number }>(
      "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE query ILIKE 'listen %' AND query LIKE $1",
      [`%loam_commits_${db.schema}%`],
    );
    expect(cut[0]!.n).toBe(2);
    for (let i = 0; i < 5; i++)
      await writer.applyBatch({ ops: a.insert('items', { name: `w${i}`, owner: 'u1' }).ops });
    await vi.waitFor(() => expect(versions).toEqual([1, 2, 3, 4, 5, 6]), { timeout: 15_000 });
  });

  it('a batch of an unknown collection fails alone; the rest of its group commits', async () => {
    const store = await open(freshSchema(), { groupWindowMs: 20 });
    const a = device();
    const good = a.insert('items', { name: 'ok', owner: 'u1' });
    const bad = { ...a.insert('items', { name: 'x', owner: 'u1' }).ops[0]!, collection: 'nope' } as Op;
    const [ok, failed] = await Promise.allSettled([
      store.applyBatch({ ops: good.ops }),
      store.applyBatch({ ops: [bad] }),
    ]);
    expect(ok.status).toBe('fulfilled');
    expect(failed.status).toBe('rejected');
    expect((await store.getDoc('items', good.id))?.live).toBe(true);
  });

  it('compacts on one node at a time and raises the horizon for every node', async () => {
    const db = freshSchema();
    const [n1, n2] = [await open(db), await open(db)];
    const a = device();
    const x = a.insert('items', { name: 'x', owner: 'u1' });
    await n1.applyBatch({ ops: x.ops, now: 1000 });
    await n2.applyBatch({ ops: a.delete('items', x.id), now: 2000 });
    await n1.applyBatch({ ops: a.insert('items', { name: 'y', owner: 'u1' }).ops, now: 5000 });
    const horizons = await Promise.all([n1.compact(3000), n2.compact(3000)]);
    expect(horizons.includes(2)).toBe(true);
    expect(await n2.compact(3000)).toBe(2);
    expect((await n1.getDoc('items', x.id))?.state.deleted).toBe(true);
    expect((await n2.meta()).horizon).toBe(2);
  });

  it('refuses a database migrated by a newer relay, and a schema change that is not additive', async () => {
    const db = freshSchema();
    await (
      await open(db, {
        migrations: [...MIGRATIONS, { version: 99, name: 'from the future', sql: 'SELECT 1' }],
      })
    ).close();
    await expect(open(db)).rejects.toMatchObject({
      code: 'server_storage',
      message: expect.stringMatching(
        new RegExp(
          `migrated to version 99 by a newer Loam relay.*knows versions up to ${MIGRATIONS.length}\\b`,
        ),
      ),
    });
    const other = freshSchema();
    await (await open(other)).close();
    const changed = {
      ...conformanceSchema,
      collections: { items: { fields: { ...items.fields, owner: { kind: 'number' } } } },
    } as unknown as typeof conformanceSchema;
    await expect(createPostgresServerStore({ url: other.url, schema: changed })).rejects.toMatchObject({
      code: 'server_storage',
      message: expect.stringContaining('owner'),
    });
  });
});

describe('PostgreSQL commit feed', () => {
  it('announces a gap for versions purged from the change log, then goes on in order', async () => {
    const db = freshSchema();
    const store = await open(db);
    const a = device();
    for (let i = 0; i < 5; i++)
      await store.applyBatch({ ops: a.insert('items', { name: `n${i}`, owner: 'u1' }).ops });
    await db.query('DELETE FROM loam_server_changes WHERE version <= 3');
    const sql = postgres(TEST_PG_URL, {
      max: 2,
      onnotice: () => undefined,
      connection: { search_path: db.schema },
    });
    const feed = createPostgresFeed({
      sql,
      channel: `loam_commits_${db.schema}`,
      collections: new Map([['items', pgCollection('items', items)]]),
      position: 0,
      pollMs: 3_600_000,
      stats: createStoreStats(),
    });
    const events: string[] = [];
    feed.feed.subscribe((e) =>
      events.push(e.t === 'gap' ? `gap ${e.after}..${e.next}` : `v${e.commit.version}`),
    );
    await feed.feed.reach(5);
    await feed.close();
    await sql.end();
    expect(events).toEqual(['gap 0..4', 'v4', 'v5']);
  });
});
