import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  asReplicaId,
  createClock,
  createDocState,
  createReplicaId,
  createWriter,
  defineSchema,
  encodeOps,
  f,
  type Op,
  writeIntent,
} from '@loam/core';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createBetterSqlite3Storage } from '../storage/storage-better-sqlite3';
import { openEngine } from './open-engine';

const schema = defineSchema({ version: 1, collections: { notes: { fields: { title: f.string() } } } });
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'loam-peer-log-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

it("a peer's refused transaction reaches live queries of the refused-writes log (the app's refusals panel)", async () => {
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, 'a.db') }),
    schema,
  });
  const seen: unknown[][] = [];
  const stop = engine.watch(
    { kind: 'sql', sql: 'SELECT op, code, author FROM loam_refused', params: [] },
    (e) => {
      if (e.kind === 'rows') seen.push(e.rows);
    },
  );
  await vi.waitFor(() => expect(seen).toEqual([[]]));
  await engine.syncStore.refusePeerTransaction(
    [
      {
        op: 'peerreplica00001:7',
        collection: 'notes',
        doc: 'n1',
        code: 'field_denied',
        reason: 'Role "cashier" may not write "title"',
        at: 1,
        author: 'till-2 (peerreplica00001)',
      },
    ],
    { replica: asReplicaId('peerreplica00001'), seq: 7, last: 7, prefix: 7 },
  );
  await vi.waitFor(() =>
    expect(seen.at(-1)).toEqual([
      { op: 'peerreplica00001:7', code: 'field_denied', author: 'till-2 (peerreplica00001)' },
    ]),
  );
  stop();
  await engine.close();
});

/** Four transactions of another replica, one insert each, seqs 1 to 4 (the store does not check signatures). */
function author() {
  const replica = createReplicaId();
  const writer = createWriter({ schema, clock: createClock({ replica }) });
  const tx = (n: number) => {
    const ops: Op[] = writer.write(
      writeIntent.insert('notes', { id: `n${n}`, title: `${n}` }),
      createDocState(),
    ).ops;
    return { tx: { replica, seq: n, ops: encodeOps(ops), signature: new Uint8Array(64) }, ops };
  };
  return [tx(1), tx(2), tx(3), tx(4)] as const;
}

describe('the version vector with holes', () => {
  it('holds transactions above a hole apart from the prefix, and absorbs them when the hole fills', async () => {
    const engine = await openEngine({
      driver: await createBetterSqlite3Storage({ filename: join(dir, 'a.db') }),
      schema,
    });
    const store = engine.syncStore;
    const [t1, t2, t3, t4] = author();
    const y = t1.tx.replica;
    expect(await store.applyPeerTransaction(t1.tx, t1.ops, 1)).toBe(true);
    // 2 waits somewhere: 3 and 4 are applied above it.
    expect(await store.applyPeerTransaction(t3.tx, t3.ops, 1)).toBe(true);
    expect(await store.applyPeerTransaction(t4.tx, t4.ops, 1)).toBe(true);
    expect((await store.peerVector())[y]).toBe(1);
    expect([await store.peerHeld(y, 1), await store.peerHeld(y, 2), await store.peerHeld(y, 3)]).toEqual([
      true,
      false,
      true,
    ]);
    expect(await store.applyPeerTransaction(t3.tx, t3.ops, 1)).toBe(false);
    // Forwarded on, the ones above the hole say so.
    expect((await store.peerTransactions({}, 10)).map((t) => [t.seq, t.prefix])).toEqual([
      [1, undefined],
      [3, 1],
      [4, 1],
    ]);
    expect(await engine.get('notes', 'n3')).toEqual({ id: 'n3', title: '3' });

    expect(await store.applyPeerTransaction(t2.tx, t2.ops, 2)).toBe(true);
    expect((await store.peerVector())[y]).toBe(4);
    expect((await store.peerTransactions({}, 10)).map((t) => t.prefix)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    await engine.close();
  });

  it('raises the prefix over a gap the caller vouches for, and records a refusal of a held transaction only once', async () => {
    const engine = await openEngine({
      driver: await createBetterSqlite3Storage({ filename: join(dir, 'a.db') }),
      schema,
    });
    const store = engine.syncStore;
    const [t1, t2, t3] = author();
    const y = t1.tx.replica;
    expect(await store.applyPeerTransaction(t3.tx, t3.ops, 0)).toBe(true);
    expect((await store.peerVector())[y]).toBeUndefined();
    // The sender had nothing below 3 (its author's first ones went to the relay): the link vouches for 3.
    await store.advancePeerVector({ [y]: 3 });
    expect((await store.peerVector())[y]).toBe(3);
    expect(await store.peerHeld(y, 2)).toBe(true);

    const refusal = {
      op: `${y}:2`,
      collection: 'notes',
      doc: 'n2',
      code: 'field_denied',
      reason: 'no',
      at: 1,
    };
    expect(await store.refusePeerTransaction([refusal], { replica: y, seq: 2, last: 2, prefix: 3 })).toBe(
      false,
    );
    expect(await engine.refusedWrites()).toEqual([]);
    expect(await store.applyPeerTransaction(t2.tx, t2.ops, 3)).toBe(false);
    expect(await engine.get('notes', 'n2')).toBeUndefined();
    await engine.close();
  });

  it('opens a database made before the ahead set with its vector, and holds transactions above a hole there', async () => {
    const filename = join(dir, 'old.db');
    const [t1, t2, t3] = author();
    const y = t1.tx.replica;
    const first = await openEngine({ driver: await createBetterSqlite3Storage({ filename }), schema });
    await first.syncStore.applyPeerTransaction(t1.tx, t1.ops, 1);
    await first.close();
    const raw = new Database(filename);
    raw.exec('DROP TABLE loam_peer_ahead');
    raw.close();

    const engine = await openEngine({ driver: await createBetterSqlite3Storage({ filename }), schema });
    expect((await engine.syncStore.peerVector())[y]).toBe(1);
    expect(await engine.syncStore.applyPeerTransaction(t3.tx, t3.ops, 1)).toBe(true);
    expect((await engine.syncStore.peerVector())[y]).toBe(1);
    expect(await engine.syncStore.applyPeerTransaction(t2.tx, t2.ops, 2)).toBe(true);
    expect((await engine.syncStore.peerVector())[y]).toBe(3);
    await engine.close();
  });
});
