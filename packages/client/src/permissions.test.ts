import {
  asReplicaId,
  type Claims,
  createAccess,
  type DocId,
  defineSchema,
  f,
  permissionsFor,
  touchedFields,
  validateRules,
} from '@loam/core';
import { createMemoryReplica } from '@loam/core/testing';
import { describe, expect, it } from 'vitest';
import { canWrite } from './permissions';

const schema = defineSchema({
  version: 1,
  collections: {
    shops: {
      fields: {
        name: f.string(),
        place: f.object({ city: f.string(), zip: f.string({ optional: true }) }),
      },
    },
  },
});

const rules = validateRules({
  shops: {
    roles: [
      {
        name: 'paris',
        applyWhen: { op: 'eq', field: 'role', value: 'paris' },
        read: true,
        write: { op: 'eq', field: 'place.city', value: 'Paris' },
        insert: true,
        delete: false,
      },
      {
        name: 'clerk',
        applyWhen: { op: 'eq', field: 'role', value: 'clerk' },
        read: true,
        write: true,
        insert: false,
        delete: false,
        fields: { write: ['name', 'place.zip'] },
      },
    ],
  },
});

const users: Claims[] = [
  { sub: 'p', role: 'paris' },
  { sub: 'c', role: 'clerk' },
];
const patches: Record<string, unknown>[] = [
  { 'place.city': 'Lyon' },
  { 'place.city': 'Paris' },
  { 'place.zip': '75001' },
  { 'place.zip': null },
  { place: { city: 'Lyon' } },
  { name: 'Corner shop' },
];

/** What the relay decides for `patch`: the ops the device writes, checked on the document as the merge reads it. */
function relayDecision(claims: Claims, patch: Record<string, unknown>) {
  const replica = createMemoryReplica({ schema, replica: asReplicaId('device0000000001') });
  const id = 's1' as DocId;
  replica.insert('shops', { id, name: 'Shop', place: { city: 'Paris', zip: '75002' } });
  const before = replica.get('shops', id);
  const ops = replica.update('shops', id, patch);
  const after = replica.get('shops', id);
  if (!before || !after) throw new Error('the shop should exist');
  const touched = ops.flatMap((op) => touchedFields(op));
  return {
    before,
    decision: createAccess(rules, claims, 'shops').checkWrite({
      kind: 'update',
      before,
      after,
      touchedFields: touched,
    }),
  };
}

describe('db.can', () => {
  it('judges updates by dotted paths as the relay does, on the document as the patch leaves it', () => {
    for (const claims of users) {
      const permissions = permissionsFor(rules, claims);
      for (const patch of patches) {
        const { before, decision } = relayDecision(claims, patch);
        expect(
          canWrite(schema, permissions, 'shops', {
            action: 'update',
            doc: before as never,
            patch: patch as never,
          }),
          `${claims.sub} ${JSON.stringify(patch)}`,
        ).toBe(decision.ok);
      }
    }
    const paris = permissionsFor(rules, users[0] ?? {});
    const shop = { id: 's1' as DocId, name: 'Shop', place: { city: 'Paris' } };
    expect(
      canWrite(schema, paris, 'shops', { action: 'update', doc: shop, patch: { 'place.city': 'Lyon' } }),
    ).toBe(false);
    expect(
      canWrite(schema, paris, 'shops', { action: 'update', doc: shop, patch: { 'place.zip': '75001' } }),
    ).toBe(true);
  });

  it('judges an upsert as the insert it makes when no document is live, else as the update', () => {
    const [paris, clerk] = users.map((claims) => permissionsFor(rules, claims));
    const shop = { id: 's1' as DocId, name: 'Shop', place: { city: 'Paris', zip: '75002' } };
    const fresh = { name: 'New', place: { city: 'Lyon' } };
    // A clerk may not insert: an upsert that would create is refused, one that updates only the name is not.
    expect(
      canWrite(schema, clerk ?? null, 'shops', { action: 'upsert', id: 's2', doc: fresh, current: null }),
    ).toBe(false);
    expect(
      canWrite(schema, clerk ?? null, 'shops', {
        action: 'upsert',
        id: 's1',
        doc: { name: 'Renamed', place: shop.place },
        current: shop,
      }),
    ).toBe(false);
    expect(
      canWrite(schema, clerk ?? null, 'shops', {
        action: 'update',
        doc: shop,
        patch: { name: 'Renamed' },
      }),
    ).toBe(true);
    // Paris writes only shops in Paris: an upsert creating one there is allowed, one moving s1 to Lyon is not.
    const inParis = { name: 'New', place: { city: 'Paris' } };
    expect(
      canWrite(schema, paris ?? null, 'shops', { action: 'upsert', id: 's2', doc: inParis, current: null }),
    ).toBe(true);
    expect(
      canWrite(schema, paris ?? null, 'shops', { action: 'upsert', id: 's1', doc: fresh, current: shop }),
    ).toBe(false);
  });
});
