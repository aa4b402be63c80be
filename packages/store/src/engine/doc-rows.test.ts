import { asReplicaId, type DocState, defineSchema, f } from '@loam/core';
import { createMemoryReplica } from '@loam/core/testing';
import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import type { SqlRow } from '../storage/driver';
import { collectionSql, decodeDocState, decodeRowState, encodeDocState, rowParams } from './doc-rows';

const schema = defineSchema({
  version: 1,
  collections: {
    items: {
      fields: {
        name: f.string(),
        price: f.number(),
        added: f.date({ optional: true }),
        supplier: f.object({ name: f.string(), city: f.string({ optional: true }) }, { optional: true }),
        stock: f.counter(),
        uses: f.counter(),
      },
    },
  },
});

function sampleState(): DocState {
  const replica = createMemoryReplica({ schema, replica: asReplicaId('replica000000000') });
  const { id } = replica.insert('items', {
    name: 'Flour',
    price: 2.5,
    added: new Date(1_750_000_000_000),
    supplier: { name: 'Mill' },
    stock: 10,
  });
  replica.update('items', id, { price: 2.75, 'supplier.city': 'Lyon' });
  replica.increment('items', id, 'stock', -3);
  replica.increment('items', id, 'uses', 2);
  return replica.state.getState('items', id) as DocState;
}

describe('merge metadata in a row (_state)', () => {
  it('round-trips registers, dates, counters with and without a reset, and increments', () => {
    const state = sampleState();
    const back = decodeDocState(encodeDocState(state));
    expect(back).toEqual({ ...state, crdts: {} });
    expect(back.regs.added?.v).toBeInstanceOf(Date);
  });

  it('writes a timestamp shared by several registers once', () => {
    const state = sampleState();
    const bytes = encodeDocState(state);
    const ts = state.regs.name?.t as string;
    expect(Buffer.from(bytes).toString('latin1').split(ts)).toHaveLength(2);
    const perRegister = encode([state.epoch, state.created, state.deleted, state.regs, state.counters]);
    expect(bytes.length).toBeLessThan(perRegister.length * 0.75);
  });

  it('still reads rows written with a timestamp per register', () => {
    const state = sampleState();
    const old = encode([state.epoch, state.created, state.deleted, state.regs, state.counters]);
    expect(decodeDocState(old)).toEqual({ ...state, crdts: {} });
  });

  it('lean rows (the engine) store each value once, in its column, and decode with the row', () => {
    const state = sampleState();
    const c = collectionSql('items', schema.collections.items);
    const params = rowParams(c, 'd1', state, 7, false);
    const [, live, , bytes, doc, ...columns] = params;
    expect(live).toBe(1);
    expect(doc).toBeNull();
    const row: SqlRow = { _state: bytes as Uint8Array };
    c.columns.forEach((col, i) => {
      row[col.path] = columns[i] as SqlRow[string];
    });
    const back = decodeRowState(c, row);
    expect(back).toEqual({ ...state, crdts: {} });
    expect(back.regs.added?.v).toBeInstanceOf(Date);
    const text = Buffer.from(bytes as Uint8Array).toString('latin1');
    expect(text).not.toContain('Flour');
    expect(text).not.toContain('supplier.name');
    expect(text).not.toContain(state.regs.name?.t);
    expect((bytes as Uint8Array).length).toBeLessThan(encodeDocState(state).length - 'Flour'.length);
  });

  it('a document as one write left it is stored compact, and reads back whole', () => {
    const c = collectionSql('items', schema.collections.items);
    const replica = createMemoryReplica({ schema, replica: asReplicaId('replica000000000') });
    const { id } = replica.insert('items', {
      name: 'Crème',
      price: 2.5,
      added: new Date(1_750_000_000_000),
      stock: 4,
    });
    const rowOf = (state: DocState) => {
      const [, , , bytes, , ...columns] = rowParams(c, id, state, 1, false);
      const row: SqlRow = { _state: bytes as Uint8Array };
      c.columns.forEach((col, i) => {
        row[col.path] = columns[i] as SqlRow[string];
      });
      return row;
    };
    const inserted = replica.state.getState('items', id) as DocState;
    const row = rowOf(inserted);
    const bytes = row._state as Uint8Array;
    // Layout 4: one timestamp, then one ordinal per register and counter.
    expect(bytes[0]).toBe(4);
    expect(bytes.length).toBeLessThan(32);
    expect(decodeRowState(c, row)).toEqual({ ...inserted, crdts: {} });
    expect(decodeRowState(c, row, false).regs.name?.v).toBe('Crème');
    // An increment, a second timestamp: the general layout, read back as exactly.
    replica.increment('items', id, 'stock', 2);
    replica.update('items', id, { price: 3 });
    const changed = replica.state.getState('items', id) as DocState;
    const later = rowOf(changed);
    expect((later._state as Uint8Array)[0]).not.toBe(4);
    expect(decodeRowState(c, later)).toEqual({ ...changed, crdts: {} });
    // Every column set, in the schema's order: the ordinals are left out.
    const full = replica.insert('items', {
      name: 'Pain',
      price: 1,
      added: new Date(0),
      supplier: { name: 'Mill', city: 'Lyon' },
      stock: 3,
      uses: 1,
    });
    const fullState = replica.state.getState('items', full.id) as DocState;
    const fullRow = rowOf(fullState);
    expect((fullRow._state as Uint8Array).length).toBe(1 + 1 + 1 + 20 + 1);
    expect(decodeRowState(c, fullRow)).toEqual({ ...fullState, crdts: {} });
    // A compact row is refused where a row's columns are not at hand, and a truncated one is refused.
    expect(() => decodeDocState(bytes)).toThrow(/needs its row/);
    expect(() => decodeRowState(c, { ...row, _state: bytes.subarray(0, 10) })).toThrow(/Malformed/);
  });

  it('lean rows keep inline what a column cannot give back: a document not live, a cleared field', () => {
    const c = collectionSql('items', schema.collections.items);
    const t = 'x' as never;
    const state: DocState = {
      epoch: 0,
      created: false,
      deleted: false,
      regs: { name: { v: 'early', t }, price: { v: 1.5, t } },
      counters: {},
      crdts: {},
    };
    const decodeLean = (s: DocState) => {
      const [, , , bytes, , ...columns] = rowParams(c, 'd1', s, 1, false);
      const row: SqlRow = { _state: bytes as Uint8Array };
      c.columns.forEach((col, i) => {
        row[col.path] = columns[i] as SqlRow[string];
      });
      return decodeRowState(c, row);
    };
    expect(decodeLean(state)).toEqual(state);
    const live = { ...state, created: true, regs: { ...state.regs, 'supplier.city': { v: null, t } } };
    expect(decodeLean(live)).toEqual(live);
  });
});
