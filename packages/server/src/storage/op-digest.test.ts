import { createOpId, type DocId, type Op, parseOpId } from '@loam/core';
import { describe, expect, it } from 'vitest';
import { testDevice } from '../testing/fixtures';
import { contentDigest, opDigest, opDigests } from './op-digest';

/** Ops of every kind, with sequence numbers at each width MessagePack encodes them in. */
function sampleOps(): Op[] {
  const device = testDevice();
  const { id, ops: created } = device.insert('orders', {
    storeId: 's',
    owner: 'o',
    total: 1.5,
    lines: ['a', 'b'],
    placedAt: new Date(1_700_000_000_000),
  });
  const ops = [
    ...created,
    ...device.update('orders', id as DocId, { total: 2, note: 'é ✓' }),
    ...device.increment('orders', id as DocId, 'qty', 3),
    ...device.delete('orders', id as DocId),
  ];
  const seqs = [1, 2, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER];
  return ops.flatMap((op) =>
    seqs.map((seq) => ({ ...op, id: createOpId(parseOpId(op.id).replica, seq) }) as Op),
  );
}

describe('opDigests', () => {
  it('gives the digests stored before it existed, so a re-sent op is still a duplicate, never a conflict', () => {
    const ops = sampleOps();
    expect(new Set(ops.map((op) => op.kind))).toEqual(
      new Set(['create', 'yjs', 'set', 'increment', 'delete']),
    );
    for (const op of ops) {
      const both = opDigests(op);
      expect(Buffer.from(both.op).toString('hex'), op.id).toBe(Buffer.from(opDigest(op)).toString('hex'));
      expect(Buffer.from(both.content).toString('hex'), op.id).toBe(
        Buffer.from(contentDigest(op)).toString('hex'),
      );
    }
  });
});
