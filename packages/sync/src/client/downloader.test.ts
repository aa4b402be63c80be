/**
 * The downloader over a real engine (better-sqlite3): full sets and client resets leave the device holding what
 * the relay holds. Frames are handed to the downloader in the order the relay sends them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DocState, defineSchema, encodeDocSnapshot, type Filter, f } from '@loam/core';
import type { Engine } from '@loam/store';
import { createBetterSqlite3Storage, openEngine } from '@loam/store/node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDownloader, type Downloader } from './downloader';
import { createStatusStore } from './status';
import { createSubscriptionRegistry, type SubscriptionRegistry } from './subscription-registry';

const schema = defineSchema({
  version: 1,
  collections: {
    items: {
      fields: { name: f.string(), price: f.number({ indexed: true }), owner: f.string({ optional: true }) },
    },
  },
});

let dir: string;
const engines: Engine<typeof schema>[] = [];

async function open(name: string): Promise<Engine<typeof schema>> {
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, `${name}.db`) }),
    schema,
  });
  engines.push(engine);
  return engine;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'loam-downloader-'));
});
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A device: an engine with the sync client's registry and downloader over its sync store. */
async function device(): Promise<{
  engine: Engine<typeof schema>;
  registry: SubscriptionRegistry;
  down: Downloader;
}> {
  const engine = await open('device');
  const registry = createSubscriptionRegistry(engine.syncStore);
  const down = createDownloader(engine.syncStore, registry, createStatusStore(Date.now), Date.now);
  return { engine, registry, down };
}

const stateOf = async (engine: Engine<typeof schema>, id: string) =>
  (await engine.syncStore.docState('items', id)) as DocState;

/** One frame of a subscription's full set (such frames carry no cursor). */
const setFrame = (sub: string, docs: { id: string; state: DocState }[]) => ({
  t: 'docs' as const,
  cursor: 0,
  sub,
  docs: docs.map((d) => ({
    collection: 'items',
    id: d.id,
    state: encodeDocSnapshot(d.state),
    mode: 'merge' as const,
  })),
  removed: [],
  progress: { sent: docs.length, total: docs.length },
});

describe('downloader', () => {
  it('drops a document the relay deleted when two renewed subscriptions covering it sync one after the other', async () => {
    const relay = await open('relay');
    await relay.insert('items', { id: 'kept', name: 'kept', price: 30 });
    await relay.insert('items', { id: 'gone', name: 'deleted meanwhile', price: 10 });
    const { engine, registry, down } = await device();
    for (const id of ['kept', 'gone'])
      await engine.syncStore.applyDownload({
        docs: [{ collection: 'items', id, state: await stateOf(relay, id), mode: 'merge' }],
        removed: [],
      });
    expect(await engine.get('items', 'gone')).toBeDefined();

    // Both subscriptions were made again while away: the relay streams both sets, neither holds `gone`.
    const cheap: Filter = { op: 'lt', field: 'price', value: 25 };
    const all = (await registry.add({ collection: 'items' })).sub.stored.id;
    const some = (await registry.add({ collection: 'items', filter: cheap })).sub.stored.id;
    await down.welcome(false, [], 5);
    down.expect(all);
    down.expect(some);
    await down.docs(setFrame(all, [{ id: 'kept', state: await stateOf(relay, 'kept') }]));
    await down.synced({ t: 'synced', sub: all, cursor: 5 });
    await down.docs(setFrame(some, []));
    await down.synced({ t: 'synced', sub: some, cursor: 5 });

    expect(await engine.get('items', 'gone')).toBeUndefined();
    expect(await engine.get('items', 'kept')).toMatchObject({ name: 'kept' });
  });

  it('takes a reset set of a subscription sent after welcome as it is, never merged with a stale copy', async () => {
    // The relay folded away `doc`'s tombstone and it was made anew; the device, away, still edited its old copy.
    const after = await open('after');
    await after.insert('items', { id: 'doc', name: 'new', price: 1 });
    const before = await open('before');
    await before.insert('items', { id: 'doc', name: 'old', price: 1, owner: 'someone' });
    const { engine, registry, down } = await device();
    await engine.syncStore.applyDownload({
      docs: [{ collection: 'items', id: 'doc', state: await stateOf(before, 'doc'), mode: 'merge' }],
      removed: [],
    });

    // A reset; the subscription was not in `hello` (made while away), so its set follows `welcome`.
    const sub = (await registry.add({ collection: 'items' })).sub.stored.id;
    await down.welcome(true, [sub], 9);
    down.expect(sub);
    await down.docs(setFrame(sub, [{ id: 'doc', state: await stateOf(after, 'doc') }]));
    await down.synced({ t: 'synced', sub, cursor: 9 });

    expect(await engine.get('items', 'doc')).toEqual(await after.get('items', 'doc'));
    expect(await engine.syncStore.cursor()).toBe(9);
  });
});
