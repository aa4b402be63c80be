import { describe, expect, it } from 'vitest';
import { createAccess } from './access';
import { checkPermission, permissionsFor } from './permissions';
import type { Claims, WriteRequest } from './rules';
import { validateRules } from './validate';

const rules = validateRules({
  products: {
    roles: [
      {
        name: 'manager',
        applyWhen: { op: 'eq', field: 'role', value: 'manager' },
        read: true,
        write: true,
        insert: true,
        delete: true,
      },
      {
        name: 'cashier',
        applyWhen: { op: 'eq', field: 'role', value: 'cashier' },
        read: true,
        write: true,
        insert: false,
        delete: false,
        fields: { write: ['stock'] },
      },
    ],
  },
  orders: {
    roles: [
      {
        name: 'cashier',
        applyWhen: { op: 'eq', field: 'role', value: 'cashier' },
        read: { op: 'eq', field: 'storeId', value: '%%user.storeId' },
        write: { op: 'eq', field: 'storeId', value: '%%user.storeId' },
        insert: true,
        delete: false,
      },
    ],
  },
  audits: {
    roles: [
      {
        name: 'auditor',
        applyWhen: { op: 'eq', field: 'role', value: 'auditor' },
        read: true,
        write: false,
        insert: false,
        delete: false,
      },
    ],
  },
});

const croissant = { id: 'p1', name: 'Croissant', price: 145, stock: 10 };
const order = { id: 'o1', storeId: 'store-1', total: 500 };
const writes: [string, WriteRequest][] = [
  [
    'products',
    { kind: 'update', before: croissant, after: { ...croissant, price: 99 }, touchedFields: ['price'] },
  ],
  [
    'products',
    { kind: 'update', before: croissant, after: { ...croissant, stock: 9 }, touchedFields: ['stock'] },
  ],
  ['products', { kind: 'insert', after: croissant, touchedFields: ['id', 'name', 'price', 'stock'] }],
  ['products', { kind: 'delete', before: croissant }],
  ['orders', { kind: 'insert', after: order, touchedFields: ['id', 'storeId', 'total'] }],
  [
    'orders',
    { kind: 'insert', after: { ...order, storeId: 'store-2' }, touchedFields: ['id', 'storeId', 'total'] },
  ],
  ['orders', { kind: 'delete', before: order }],
  ['audits', { kind: 'insert', after: { id: 'a1' }, touchedFields: ['id'] }],
];
const users: Claims[] = [
  { sub: 't1', role: 'cashier', storeId: 'store-1' },
  { sub: 't2', role: 'cashier' },
  { sub: 'm1', role: 'manager', storeId: 'store-1' },
  { sub: 'x', role: 'visitor' },
];

describe('permissionsFor', () => {
  it("keeps only the role that applies to the user, without applyWhen, and survives the wire's validation", () => {
    const cashier = permissionsFor(rules, { sub: 't1', role: 'cashier', storeId: 'store-1' });
    expect(Object.keys(cashier.rules).sort()).toEqual(['orders', 'products']);
    expect(cashier.rules.products?.roles).toEqual([
      {
        name: 'cashier',
        read: true,
        write: true,
        insert: false,
        delete: false,
        fields: { write: ['stock'] },
      },
    ]);
    expect(validateRules(JSON.parse(JSON.stringify(cashier.rules)))).toEqual(cashier.rules);
  });

  it('decides every write exactly as the relay does, for every kind of user', () => {
    for (const claims of users) {
      const sent = permissionsFor(rules, claims);
      const received = { rules: validateRules(JSON.parse(JSON.stringify(sent.rules))), claims };
      for (const [collection, write] of writes) {
        expect(
          checkPermission(received, collection, write),
          `${claims.sub} ${collection} ${write.kind}`,
        ).toEqual(createAccess(rules, claims, collection).checkWrite(write));
      }
    }
    const cashier = permissionsFor(rules, users[0] ?? {});
    expect(checkPermission(cashier, ...(writes[0] as [string, WriteRequest]))).toMatchObject({
      ok: false,
      code: 'field_denied',
    });
    expect(checkPermission(cashier, ...(writes[1] as [string, WriteRequest]))).toEqual({ ok: true });
  });
});
