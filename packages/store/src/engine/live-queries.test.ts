/**
 * Live find queries kept up to date from the documents each local commit names (`live-queries.ts`): the result a
 * listener rebuilds from the events always equals what `find` returns, whatever the writes did to it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSchema, f, type Query, q, type Schema } from '@loam/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRng } from '../../../../test/convergence/random';
import { createBetterSqlite3Storage } from '../storage/storage-better-sqlite3';
import type { Doc, Engine, LiveQueryEvent } from './engine';
import { applyLiveEvent } from './live-result';
import { openEngine } from './open-engine';

const schema = defineSchema({
  version: 1,
  collections: {
    notes: {
      fields: {
        title: f.string(),
        n: f.number({ indexed: true }),
        group: f.string({ optional: true, indexed: true }),
        tags: f.list<string>(),
      },
    },
    other: { fields: { title: f.string() } },
  },
});

let dir: string;
let engine: Engine;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loam-live-'));
  engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, 'live.db') }),
    schema: schema as Schema, // any collection and field, as the database worker's engine
  });
});
afterEach(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A live query's events and the result rebuilt from them, as a UI would. */
function live(query: Query) {
  const events: LiveQueryEvent[] = [];
  let docs: Doc[] = [];
  const stop = engine.watch({ kind: 'find', query }, (event) => {
    events.push(event);
    if (event.kind === 'docs') docs = applyLiveEvent(docs, event);
  });
  return { events, docs: () => docs, stop };
}

/** Waits until the live result equals a fresh `find` (fails with both after 2 s). */
async function settled(query: Query, view: ReturnType<typeof live>): Promise<void> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const expected = await engine.find(query);
    if (JSON.stringify(view.docs()) === JSON.stringify(expected)) return;
    if (Date.now() > deadline) expect(view.docs()).toEqual(expected);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('live find queries', () => {
  it('send an edited document alone, with no order, and nothing for documents outside the result', async () => {
    const ids = await engine.insertMany(
      'notes',
      Array.from({ length: 20 }, (_, i) => ({ title: `note ${i}`, n: i, group: i % 2 ? 'odd' : 'even' })),
    );
    const query = q.query('notes', { filter: q.eq('group', 'even'), sort: [q.asc('n')] });
    const view = live(query);
    await settled(query, view);
    const first = view.docs();

    await engine.update('notes', ids[4] as string, { title: 'edited' });
    await settled(query, view);
    expect(view.events.at(-1)).toEqual({
      kind: 'docs',
      reset: false,
      upserts: [expect.objectContaining({ id: ids[4], title: 'edited' })],
    });
    expect(
      view
        .docs()
        .filter((d, i) => d !== first[i])
        .map((d) => d.id),
    ).toEqual([ids[4]]);

    const count = view.events.length;
    await engine.update('notes', ids[5] as string, { title: 'odd one' });
    await engine.insert('other', { title: 'elsewhere' });
    await engine.insert('notes', { title: 'also odd', n: 100, group: 'odd' });
    await settled(query, view);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(view.events.length).toBe(count);

    await engine.update('notes', ids[4] as string, { n: 99 });
    await settled(query, view);
    expect(view.docs().at(-1)?.id).toBe(ids[4]);
    expect(view.events.at(-1)).toMatchObject({ kind: 'docs', reset: false, order: expect.any(Array) });
    view.stop();
  });

  it('move an OFFSET window when a document before it leaves the result', async () => {
    const ids = await engine.insertMany(
      'notes',
      Array.from({ length: 6 }, (_, i) => ({ title: `note ${i}`, n: i, group: 'a' })),
    );
    const query = q.query('notes', { filter: q.eq('group', 'a'), sort: [q.asc('n')], limit: 2, offset: 1 });
    const view = live(query);
    await settled(query, view);
    expect(view.docs().map((d) => d.n)).toEqual([1, 2]);
    await engine.update('notes', ids[0] as string, { group: 'b' });
    await settled(query, view);
    expect(view.docs().map((d) => d.n)).toEqual([2, 3]);
    view.stop();
  });

  it('match a fresh find after every random write, for sorted, filtered and windowed queries', async () => {
    const rng = createRng(12);
    const queries: Query[] = [
      q.query('notes', { sort: [q.asc('n')] }),
      q.query('notes', { filter: q.eq('group', 'a'), sort: [q.desc('n'), q.asc('title')] }),
      q.query('notes', { filter: q.lt('n', 50) }),
      q.query('notes', { sort: [q.asc('group'), q.asc('n')], limit: 5, offset: 2 }),
      q.query('notes', { filter: q.eq('group', 'b'), sort: [q.asc('n')], limit: 4 }),
    ];
    const views = queries.map(live);
    const ids: string[] = [];
    const groups = ['a', 'b', undefined];
    const pick = <T>(xs: readonly T[]) => rng.pick(xs) as T;
    for (let step = 0; step < 120; step++) {
      const roll = rng();
      const id = ids.length > 0 ? pick(ids) : undefined;
      if (roll < 0.3 || !id) {
        const group = pick(groups);
        const n = Math.floor(rng() * 100);
        ids.push(await engine.insert('notes', { title: `t${step}`, n, ...(group ? { group } : {}) }));
      } else if (roll < 0.5) await engine.update('notes', id, { title: `t${step}` });
      else if (roll < 0.7) await engine.update('notes', id, { n: Math.floor(rng() * 100) });
      else if (roll < 0.8) await engine.update('notes', id, { group: pick(['a', 'b']) });
      else if (roll < 0.88) await engine.listInsert('notes', id, 'tags', 0, [`tag${step}`]);
      else if (roll < 0.94) {
        await engine.delete('notes', id);
        ids.splice(ids.indexOf(id), 1);
      } else {
        await engine.transaction(async (tx) => {
          for (let i = 0; i < 3; i++) await tx.update('notes', pick(ids), { n: Math.floor(rng() * 100) });
        });
      }
      if (step % 3 === 2) for (const [i, query] of queries.entries()) await settled(query, views[i]!);
    }
    for (const [i, query] of queries.entries()) await settled(query, views[i]!);
    for (const view of views) view.stop();
  });
});

describe('live grouped aggregates', () => {
  const spec = {
    collection: 'notes',
    groupBy: ['group'],
    aggregates: {
      count: { fn: 'count' },
      total: { fn: 'sum', field: 'n' },
      low: { fn: 'min', field: 'n' },
      high: { fn: 'max', field: 'n' },
      mean: { fn: 'avg', field: 'n' },
    },
  } as const;

  it('match a fresh aggregate after every write: groups changed, appearing, vanishing, NULL, many at once', async () => {
    const rng = createRng(7);
    let rows: unknown[] = [];
    let events = 0;
    const stop = engine.watch({ kind: 'aggregate', spec }, (event) => {
      if (event.kind === 'error') throw new Error(event.message);
      if (event.kind === 'rows') {
        rows = event.rows;
        events++;
      }
    });
    const matches = async () => {
      const deadline = Date.now() + 2000;
      for (;;) {
        const expected = await engine.aggregate(spec);
        if (JSON.stringify(rows) === JSON.stringify(expected)) return;
        if (Date.now() > deadline) expect(rows).toEqual(expected);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    const groups = ['a', 'b', 'c', undefined];
    const ids: string[] = [];
    for (let step = 0; step < 150; step++) {
      const roll = rng();
      const id = ids.length > 0 ? (rng.pick(ids) as string) : undefined;
      const group = rng.pick(groups);
      const n = Math.floor(rng() * 1000) / 10;
      if (roll < 0.3 || !id)
        ids.push(await engine.insert('notes', { title: `t${step}`, n, ...(group ? { group } : {}) }));
      else if (roll < 0.55) await engine.update('notes', id, { n });
      else if (roll < 0.7) await engine.update('notes', id, { group: group ?? `new${step % 5}` });
      else if (roll < 0.75) await engine.update('notes', id, { title: 'no aggregated field' });
      else if (roll < 0.85) {
        await engine.delete('notes', id);
        ids.splice(ids.indexOf(id), 1);
      } else if (roll < 0.9)
        ids.push(
          ...(await engine.insertMany(
            'notes',
            Array.from({ length: 80 }, (_, i) => ({ title: `bulk ${i}`, n: i, group: `g${i}` })),
          )),
        );
      else await engine.insert('other', { title: 'another collection' });
      if (step % 2 === 1) await matches();
    }
    await matches();
    expect(events).toBeGreaterThan(30);

    const temp = () => engine.sql("SELECT name FROM sqlite_temp_master WHERE name LIKE 'loam_live_groups%'");
    expect((await temp()).length).toBeGreaterThan(0);
    stop();
    await engine.aggregate(spec);
    expect(await temp()).toEqual([]);
  });
});
