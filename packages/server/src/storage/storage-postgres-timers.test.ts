/**
 * The PostgreSQL store on timers it is given (a test's virtual clock): the group window and the poll wait for them,
 * `flush` commits a waiting group at once, and `busy`/`settled` follow the database work in flight.
 */
import { asReplicaId } from '@loam/core';
import { createMemoryReplica } from '@loam/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestSchema, type TestSchema } from '../testing/postgres';
import { conformanceSchema } from './server-store-conformance';
import { createPostgresServerStore, type PostgresServerStore } from './storage-postgres';

/** Timers that fire only when `fire` says so. */
function manualTimers() {
  const due = new Map<number, { ms: number; run: () => void }>();
  let next = 0;
  return {
    timers: {
      setTimeout(run: () => void, ms: number) {
        due.set(++next, { ms, run });
        return next;
      },
      clearTimeout(handle: unknown) {
        due.delete(handle as number);
      },
    },
    /** Runs the timers set for `ms` (and forgets them); returns how many ran. */
    fire(ms: number) {
      const ready = [...due].filter(([, t]) => t.ms === ms);
      for (const [handle, t] of ready) {
        due.delete(handle);
        t.run();
      }
      return ready.length;
    },
    pending: (ms: number) => [...due.values()].filter((t) => t.ms === ms).length,
  };
}

const schemas: TestSchema[] = [];
const stores: PostgresServerStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
  for (const s of schemas) await s.drop();
});

async function open(timers: ReturnType<typeof manualTimers>['timers']) {
  const db = createTestSchema();
  schemas.push(db);
  const store = await createPostgresServerStore({
    url: db.url,
    schema: conformanceSchema,
    poolSize: 1,
    groupWindowMs: 7,
    pollMs: 500,
    timers,
  });
  stores.push(store);
  return store;
}

const device = () =>
  createMemoryReplica({ schema: conformanceSchema, replica: asReplicaId('timers0000000001') });

describe('PostgreSQL server store on given timers', () => {
  it('a push waits for its window on the given timers; pushes inside one window share a transaction', async () => {
    const clock = manualTimers();
    const store = await open(clock.timers);
    expect(clock.pending(500)).toBe(1);
    const a = device();
    const first = store.applyBatch({ ops: a.insert('items', { name: 'tea', owner: 'u1' }).ops });
    const second = store.applyBatch({ ops: a.insert('items', { name: 'rice', owner: 'u1' }).ops });
    let done = false;
    void Promise.all([first, second]).then(() => {
      done = true;
    });
    await store.settled();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(done).toBe(false);
    expect(store.busy()).toBe(false);
    expect(clock.fire(7)).toBe(1);
    expect(store.busy()).toBe(true);
    await store.settled();
    const [r1, r2] = await Promise.all([first, second]);
    expect(r1.version).toBe(1);
    expect(r2.version).toBe(1);
    expect((await store.meta()).version).toBe(1);
  });

  it('flush commits the waiting group at once; settled resolves once the commit feed delivered it', async () => {
    const clock = manualTimers();
    const store = await open(clock.timers);
    const seen: number[] = [];
    store.commits.subscribe((e) => {
      if (e.t === 'commit') seen.push(e.commit.version);
    });
    const pushed = store.applyBatch({ ops: device().insert('items', { name: 'tea', owner: 'u1' }).ops });
    store.flush();
    expect(clock.pending(7)).toBe(0);
    expect(store.busy()).toBe(true);
    const result = await pushed;
    await store.settled();
    expect(result.version).toBe(1);
    expect(seen).toEqual([1]);
    expect(store.busy()).toBe(false);
  });
});
