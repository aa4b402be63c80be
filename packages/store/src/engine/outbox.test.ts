import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asReplicaId, createClock, createOpId, encodeOps, type Op } from '@loam/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StorageDriver } from '../storage/driver';
import { createBetterSqlite3Storage } from '../storage/storage-better-sqlite3';
import {
  appendToOutbox,
  dropFromOutbox,
  outboxCount,
  outboxOps,
  pendingDocsOf,
  pendingOpsOf,
  prepareOutbox,
  replaceInOutbox,
} from './outbox';

const replica = asReplicaId('outbox0000000000');
let seq = 0;
const clock = createClock({ replica, now: () => 1_750_000_000_000 + Math.floor(seq / 7) });
const create = (doc: string, name: string): Op => {
  seq++;
  return {
    id: createOpId(replica, seq),
    ts: clock.tick(),
    collection: doc.startsWith('o') ? 'orders' : 'products',
    doc: doc as Op['doc'],
    epoch: 0,
    kind: 'create',
    values: { name, price: seq / 4, when: new Date(1_700_000_000_000 + seq) },
  };
};

let dir: string;
let driver: StorageDriver;
beforeEach(async () => {
  seq = 0;
  dir = mkdtempSync(join(tmpdir(), 'loam-outbox-'));
  driver = await createBetterSqlite3Storage({ filename: join(dir, 'a.db') });
  await prepareOutbox(driver);
});
afterEach(async () => {
  await driver.close();
  rmSync(dir, { recursive: true, force: true });
});

async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  const packed = new Uint8Array(
    await new Response(
      new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('deflate')),
    ).arrayBuffer(),
  );
  return new Uint8Array([0xfe, ...packed]);
}

describe('outbox rows', () => {
  it('keeps a large transaction, small ones and rows written by earlier builds, and reads them back in commit order', async () => {
    const old = Array.from({ length: 300 }, (_, i) => create(`old${i}`, `Old ${i}`));
    await driver.run('INSERT INTO loam_outbox (ops, count) VALUES (?, ?)', [
      await deflate(encodeOps(old)),
      old.length,
    ]);
    const plain = [create('plain', 'Plain')];
    await driver.run('INSERT INTO loam_outbox (ops, count) VALUES (?, ?)', [encodeOps(plain), 1]);
    const bulk = Array.from({ length: 5000 }, (_, i) =>
      create(i % 3 === 0 ? `o${i}` : `p${i}`, `Product ${i} ☕`),
    );
    await appendToOutbox(driver, bulk);
    const small = [create('p1', 'again')];
    await appendToOutbox(driver, small);

    const rows = await driver.all<{ ops: Uint8Array }>('SELECT ops FROM loam_outbox ORDER BY seq');
    expect(rows.map((r) => r.ops[0])).toEqual([0xfe, 1, 0xfe, 1]);
    expect(await outboxOps(driver)).toEqual([...old, ...plain, ...bulk, ...small]);
    expect(await outboxCount(driver)).toBe(5302);
    expect(await pendingOpsOf(driver, 'products', 'p1')).toEqual([bulk[1], small[0]]);
    expect((await pendingDocsOf(driver, 'orders')).size).toBe(1667);
  });

  it('rewrites a large transaction when part of it is acknowledged or renumbered', async () => {
    const bulk = Array.from({ length: 1000 }, (_, i) => create(`p${i}`, `Product ${i}`));
    await appendToOutbox(driver, bulk);
    await dropFromOutbox(
      driver,
      bulk.slice(0, 600).map((op) => op.id),
    );
    const renumbered = { ...(bulk[700] as Op), id: createOpId(replica, 5000) };
    await replaceInOutbox(driver, new Map([[(bulk[700] as Op).id, renumbered]]));
    const left = bulk.slice(600);
    left[100] = renumbered;
    expect(await outboxOps(driver)).toEqual(left);
    expect(await pendingOpsOf(driver, 'products', 'p5')).toEqual([]);
    expect(await pendingOpsOf(driver, 'products', 'p700')).toEqual([renumbered]);
  });
});
