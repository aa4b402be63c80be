/**
 * Write intents as the writer turns them into ops: upserts, per-path updates of object fields, and what is refused
 * before anything is produced. Two offline replicas editing different paths of one object both keep their edit.
 */
import { describe, expect, it } from 'vitest';
import { createClock } from '../clock/hlc';
import { asReplicaId } from '../ids/ids';
import { createMemoryReplica, type MemoryReplica } from '../merge/memory-replica';
import { defineSchema, f, type PatchOf } from '../schema/schema';
import { checkIntent } from './check-intent';
import { bindCollectionWrites, intentTarget, type WriteIntent, writeIntent } from './intents';
import { createWriter } from './writer';

const schema = defineSchema({
  version: 1,
  collections: {
    customers: {
      fields: {
        name: f.string(),
        visits: f.counter(),
        address: f.object(
          {
            city: f.string(),
            zip: f.string({ optional: true }),
            geo: f.object({ lat: f.number(), lng: f.number() }, { optional: true }),
          },
          { optional: true },
        ),
        notes: f.text(),
      },
    },
  },
});

let wall = 1_750_000_000_000;
const device = (name: string): MemoryReplica =>
  createMemoryReplica({ schema, replica: asReplicaId(name.padEnd(16, '0')), now: () => wall });

describe('per-path updates of object fields', () => {
  it('two offline devices edit address.city and address.zip: both edits are kept everywhere', () => {
    const a = device('tilla');
    const b = device('tillb');
    const { id, ops } = a.insert('customers', { name: 'Ada', address: { city: 'Lyon', zip: '69001' } });
    b.receive(ops);
    wall += 1000;
    const fromA = a.update('customers', id, { 'address.city': 'Paris' });
    wall += 1000;
    const fromB = b.update('customers', id, { 'address.zip': '75001' });
    a.receive(fromB);
    b.receive(fromA);
    expect(a.get('customers', id)).toEqual({
      id,
      name: 'Ada',
      visits: 0,
      notes: '',
      address: { city: 'Paris', zip: '75001' },
    });
    expect(b.state.canonical()).toEqual(a.state.canonical());
  });

  it('a whole-object set still replaces every leaf, and a path can clear an optional leaf', () => {
    const a = device('tilla');
    const { id } = a.insert('customers', { name: 'Ada', address: { city: 'Lyon', zip: '69001' } });
    a.update('customers', id, { 'address.zip': null });
    expect(a.get('customers', id)?.address).toEqual({ city: 'Lyon' });
    a.update('customers', id, { 'address.geo': { lat: 45, lng: 4 } });
    a.update('customers', id, { 'address.geo.lat': 46 });
    expect(a.get('customers', id)?.address).toEqual({ city: 'Lyon', geo: { lat: 46, lng: 4 } });
    a.update('customers', id, { address: { city: 'Nice' } });
    expect(a.get('customers', id)?.address).toEqual({ city: 'Nice' });
  });

  it('refuses paths that do not exist, overlap, break a value, or leave an object without a required leaf', () => {
    const a = device('tilla');
    const { id } = a.insert('customers', { name: 'Ada' });
    const refused = (patch: Record<string, unknown>) => {
      try {
        a.update('customers', id, patch);
      } catch (error) {
        return (error as { code: string; problems: unknown }).problems;
      }
      throw new Error('accepted');
    };
    expect(refused({ 'address.country': 'FR' })).toMatchObject([{ path: ['address', 'country'] }]);
    expect(refused({ 'name.first': 'A' })).toMatchObject([{ expected: 'a path into an object field' }]);
    expect(refused({ 'address.zip': 75001 })).toMatchObject([
      { path: ['address', 'zip'], expected: 'string' },
    ]);
    expect(refused({ address: { city: 'X' }, 'address.zip': '1' })).toMatchObject([
      { path: ['address', 'zip'], expected: expect.stringContaining('one write per path') },
    ]);
    expect(refused({ 'address.zip': '75001' })).toMatchObject([
      { path: ['address', 'city'], expected: 'string', found: 'missing' },
    ]);
    expect(refused({ 'address.city': null })).toMatchObject([{ path: ['address', 'city'] }]);
    expect(a.log()).toHaveLength(1);
  });

  it('types dotted paths of object fields in PatchOf', () => {
    const ok: PatchOf<typeof schema, 'customers'> = { 'address.city': 'Paris', 'address.geo.lat': 1 };
    // @ts-expect-error a number is not a city
    const bad: PatchOf<typeof schema, 'customers'> = { 'address.city': 1 };
    expect([ok, bad]).toHaveLength(2);
  });
});

describe('numbers', () => {
  it('write -0 as 0, as SQLite stores it, so that every replica reads the same value', () => {
    const a = device('tilla');
    const [create] = a.upsert('customers', 'cust-0' as never, {
      name: 'Zero',
      address: { city: 'Lyon', geo: { lat: -0, lng: 1 } },
    });
    expect(
      Object.is(
        (create as unknown as { values: { address: { geo: { lat: number } } } }).values.address.geo.lat,
        0,
      ),
    ).toBe(true);
    const [set] = a.update('customers', 'cust-0' as never, { 'address.geo.lat': -0 });
    expect(Object.is((set as { value: unknown }).value, 0)).toBe(true);
    expect(
      Object.is(
        (a.get('customers', 'cust-0') as unknown as { address: { geo: { lat: number } } }).address.geo.lat,
        0,
      ),
    ).toBe(true);
  });
});

describe('upsert', () => {
  it('creates the document when none is live, updates the fields it carries when one is', () => {
    const a = device('tilla');
    const created = a.upsert('customers', 'cust-1' as never, { name: 'Ada', address: { city: 'Lyon' } });
    expect(created.map((op) => op.kind)).toEqual(['create']);
    const updated = a.upsert('customers', 'cust-1' as never, { name: 'Ada L.' });
    expect(updated.map((op) => op.kind)).toEqual(['set']);
    expect(a.get('customers', 'cust-1')).toMatchObject({ name: 'Ada L.', address: { city: 'Lyon' } });
    a.delete('customers', 'cust-1' as never);
    a.upsert('customers', 'cust-1' as never, { name: 'Back' });
    expect(a.get('customers', 'cust-1')).toEqual({ id: 'cust-1', name: 'Back', visits: 0, notes: '' });
  });

  it('refuses a create without the required fields, and a document carrying another id', () => {
    const a = device('tilla');
    expect(() => a.upsert('customers', 'cust-1' as never, { visits: 2 })).toThrow(/name: expected string/);
    expect(() => a.write(writeIntent.upsert('customers', 'cust-1', { id: 'cust-2', name: 'x' }))).toThrow(
      /id: expected no id, or "cust-1"/,
    );
    expect(a.log()).toEqual([]);
  });

  it('two offline devices upsert the same new id: one document, both fields', () => {
    const a = device('tilla');
    const b = device('tillb');
    const fromA = a.upsert('customers', 'shared' as never, { name: 'From A', address: { city: 'Lyon' } });
    wall += 10;
    const fromB = b.upsert('customers', 'shared' as never, { name: 'From B' });
    a.receive(fromB);
    b.receive(fromA);
    expect(a.get('customers', 'shared')).toEqual(b.get('customers', 'shared'));
    expect(a.get('customers', 'shared')).toMatchObject({ name: 'From B', address: { city: 'Lyon' } });
  });
});

describe('intents', () => {
  it('are checked without state before anything runs, with every problem listed', () => {
    const check = (intent: WriteIntent) => () => checkIntent(schema, intent);
    expect(check(writeIntent.insert('customers', { name: 1, extra: true }))).toThrow(
      /name: expected string.*extra: expected no such field/,
    );
    expect(check(writeIntent.increment('customers', 'x', 'name', 1))).toThrow(/expected counter field/);
    expect(check(writeIntent.increment('customers', 'x', 'visits', 1.5))).toThrow(/integer increment/);
    expect(check(writeIntent.textInsert('customers', 'x', 'notes', -1, 'a'))).toThrow(/index/);
    expect(check(writeIntent.update('nope', 'x', {}))).toThrow(/Unknown collection/);
    expect(check(writeIntent.update('customers', 'x', { 'address.city': 'Paris' }))).not.toThrow();
  });

  it('bind to API methods, with or without the collection, and name their target', () => {
    const seen: WriteIntent[] = [];
    const writes = bindCollectionWrites('customers', (intent) => seen.push(intent));
    writes.update('c1', { name: 'x' });
    writes.increment('c1', 'visits');
    expect(seen).toEqual([
      { kind: 'update', collection: 'customers', id: 'c1', patch: { name: 'x' } },
      { kind: 'increment', collection: 'customers', id: 'c1', field: 'visits', by: 1 },
    ]);
    expect(intentTarget(writeIntent.insert('customers', { name: 'a' }))).toBeUndefined();
    expect(intentTarget(writeIntent.insert('customers', { id: 'k', name: 'a' }))).toBe('k');
  });

  it('never reuse a sequence number, and skipTo only moves forward', () => {
    const clock = createClock({ replica: asReplicaId('writer0000000000'), now: () => wall });
    const writer = createWriter({ schema, clock, nextSeq: 5 });
    expect(() => writer.write(writeIntent.update('customers', 'missing', { name: 'x' }), undefined)).toThrow(
      /No customers document/,
    );
    const { ops } = writer.write(writeIntent.insert('customers', { name: 'a' }), undefined);
    expect(ops.map((op) => op.id)).toEqual(['writer0000000000:5']);
    expect(writer.takeSeq()).toBe(6);
    writer.skipTo(3);
    expect(writer.nextSeq()).toBe(7);
    writer.skipTo(20);
    expect(writer.write(writeIntent.insert('customers', { name: 'b' }), undefined).ops[0]?.id).toBe(
      'writer0000000000:20',
    );
  });
});
