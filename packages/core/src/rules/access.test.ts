import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Filter, QueryDoc } from '../query/ast';
import { q } from '../query/builder';
import { evaluateFilter, runQuery } from '../query/evaluate';
import { createAccess, readFilterFor, resolveRole } from './access';
import type { Claims, RuleFilter, Rules } from './rules';
import { validateRules } from './validate';

const rules: Rules = validateRules({
  orders: {
    roles: [
      {
        name: 'admin',
        applyWhen: { op: 'eq', field: 'role', value: 'admin' },
        read: true,
        write: true,
        insert: true,
        delete: true,
      },
      {
        name: 'cashier',
        applyWhen: { op: 'eq', field: 'role', value: 'cashier' },
        read: { op: 'eq', field: 'storeId', value: '%%user.storeId' },
        write: {
          op: 'and',
          filters: [
            { op: 'eq', field: 'storeId', value: '%%user.storeId' },
            { op: 'eq', field: 'cashierId', value: '%%user.sub' },
          ],
        },
        insert: true,
        delete: false,
        fields: {
          read: ['storeId', 'cashierId', 'total', 'customer.name'],
          write: ['storeId', 'cashierId', 'total', 'customer'],
        },
      },
      {
        name: 'auditor',
        applyWhen: { op: 'in', field: 'role', values: ['auditor', 'inspector'] },
        read: { op: 'in', field: 'storeId', values: '%%user.storeIds' },
        write: false,
        insert: false,
        delete: false,
      },
    ],
  },
  products: { roles: [{ name: 'everyone', read: true, write: false, insert: false, delete: false }] },
});

const cashier: Claims = { sub: 'c1', role: 'cashier', storeId: 101 };
const orders: QueryDoc[] = [
  { id: 'o1', storeId: 101, cashierId: 'c1', total: 5, margin: 2, customer: { name: 'Ann', phone: '555' } },
  { id: 'o2', storeId: 101, cashierId: 'c2', total: 7, margin: 3 },
  { id: 'o3', storeId: 102, cashierId: 'c1', total: 9, margin: 1, customer: { phone: '556' } },
  { id: 'o4', cashierId: 'c1', total: 1 },
];

function readable(claims: Claims, collection = 'orders'): string[] {
  const access = createAccess(rules, claims, collection);
  return orders.filter((d) => access.canRead(d).allowed).map((d) => String(d.id));
}

describe('role resolution', () => {
  it('applies the first role whose applyWhen matches the claims', () => {
    expect(resolveRole(rules, { role: 'admin' }, 'orders')?.name).toBe('admin');
    expect(resolveRole(rules, cashier, 'orders')?.name).toBe('cashier');
    expect(resolveRole(rules, { role: 'inspector' }, 'orders')?.name).toBe('auditor');
    expect(resolveRole(rules, {}, 'products')?.name).toBe('everyone');
  });

  it('gives no access at all when no role matches or the collection has no rules', () => {
    for (const [claims, collection] of [
      [{ role: 'guest' }, 'orders'],
      [{ role: 'admin' }, 'customers'],
      [{ role: 'admin' }, 'constructor'],
      [{ role: 'admin' }, '__proto__'],
    ] as const) {
      const access = createAccess(rules, claims, collection);
      expect(access.role).toBeNull();
      expect(access.readFilter).toEqual({ op: 'false' });
      expect(access.redact({ id: 'x' })).toBeNull();
      expect(access.checkWrite({ kind: 'insert', after: { id: 'x' }, touchedFields: [] })).toMatchObject({
        ok: false,
        code: 'no_role',
      });
      expect(access.authorizeQuery({ collection })).toMatchObject({ ok: false, code: 'no_role' });
    }
  });
});

describe('reading', () => {
  it('limits rows with the read filter, placeholders taken from the claims', () => {
    expect(readable(cashier)).toEqual(['o1', 'o2']);
    expect(readable({ ...cashier, storeId: 102 })).toEqual(['o3']);
    expect(readable({ role: 'admin' })).toEqual(['o1', 'o2', 'o3', 'o4']);
    expect(readFilterFor(rules, cashier, 'orders')).toEqual({ op: 'eq', field: 'storeId', value: 101 });
  });

  it('redacts unreadable fields, keeps id, keeps only granted nested leaves, and never touches the input', () => {
    const access = createAccess(rules, cashier, 'orders');
    const before = structuredClone(orders[0]);
    expect(access.redact(orders[0] as QueryDoc)).toEqual({
      id: 'o1',
      storeId: 101,
      cashierId: 'c1',
      total: 5,
      customer: { name: 'Ann' },
    });
    expect(orders[0]).toEqual(before);
    expect(createAccess(rules, { ...cashier, storeId: 102 }, 'orders').redact(orders[2] as QueryDoc)).toEqual(
      {
        id: 'o3',
        storeId: 102,
        cashierId: 'c1',
        total: 9,
      },
    );
    expect(access.redact(orders[2] as QueryDoc)).toBeNull();
    expect(access.canRead(orders[0] as QueryDoc)).toEqual({
      allowed: true,
      fields: ['id', 'storeId', 'cashierId', 'total', 'customer.name'],
    });
  });

  it('substitutes an array claim for a whole in-list', () => {
    expect(readable({ role: 'auditor', storeIds: [101, 102] })).toEqual(['o1', 'o2', 'o3']);
    expect(readable({ role: 'auditor', storeIds: [] })).toEqual([]);
  });
});

describe('missing claims never widen access', () => {
  it('denies every row when a placeholder claim is missing, null, an object or not a scalar', () => {
    for (const storeId of [undefined, null, { id: 101 }, [101], Number.NaN]) {
      const claims = storeId === undefined ? { sub: 'c1', role: 'cashier' } : { ...cashier, storeId };
      expect(readable(claims)).toEqual([]);
      expect(createAccess(rules, claims, 'orders').readFilter).toEqual({ op: 'false' });
    }
    expect(readable({ role: 'auditor', storeIds: 101 })).toEqual([]);
    expect(readable({ role: 'auditor', storeIds: [101, { x: 1 }] })).toEqual([]);
    expect(readable({ role: 'auditor' })).toEqual([]);
  });

  it('denies the whole filter even when the placeholder sits under not, ne or nin', () => {
    const negated = validateRules({
      notes: {
        roles: [
          {
            name: 'reader',
            read: {
              op: 'or',
              filters: [
                { op: 'not', filter: { op: 'eq', field: 'hiddenFrom', value: '%%user.sub' } },
                { op: 'nin', field: 'blocked', values: ['%%user.sub'] },
                { op: 'ne', field: 'owner', value: '%%user.sub' },
              ],
            },
            write: false,
            insert: false,
            delete: false,
          },
        ],
      },
    });
    const doc = { id: 'n1', hiddenFrom: 'u9', blocked: 'u9', owner: 'u9' };
    expect(createAccess(negated, { sub: 'u1' }, 'notes').canRead(doc).allowed).toBe(true);
    expect(createAccess(negated, {}, 'notes').canRead(doc).allowed).toBe(false);
    expect(createAccess(negated, { sub: null }, 'notes').canRead(doc).allowed).toBe(false);
  });

  it('does not treat claim values that look like placeholders as placeholders', () => {
    const claims = { sub: 'c1', role: 'cashier', storeId: '%%user.sub' };
    expect(readFilterFor(rules, claims, 'orders')).toEqual({
      op: 'eq',
      field: 'storeId',
      value: '%%user.sub',
    });
  });

  it('property: substitution equals literal replacement when the claim is there, and denies all when it is not', () => {
    const field = fc.constantFrom('a', 'b');
    const operand = fc.oneof(fc.constant('%%user.x'), fc.constantFrom(1, 2, 'u'));
    const rule: fc.Arbitrary<RuleFilter> = fc.letrec<{ f: RuleFilter }>((tie) => ({
      f: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc
          .tuple(fc.constantFrom('eq', 'ne', 'lt', 'gte' as const), field, operand)
          .map(([op, f, value]) => ({ op, field: f, value })),
        fc
          .tuple(fc.constantFrom('in', 'nin' as const), field, fc.array(operand, { maxLength: 3 }))
          .map(([op, f, values]) => ({ op, field: f, values })),
        fc.array(tie('f'), { maxLength: 3 }).map((filters) => ({ op: 'or' as const, filters })),
        fc.array(tie('f'), { maxLength: 3 }).map((filters) => ({ op: 'and' as const, filters })),
        tie('f').map((filter) => ({ op: 'not' as const, filter })),
      ),
    })).f;
    const docArb = fc.record({
      id: fc.constant('d'),
      a: fc.constantFrom(1, 2, 'u', null),
      b: fc.constantFrom(1, 'u'),
    });
    fc.assert(
      fc.property(rule, fc.option(fc.constantFrom(1, 2, 'u'), { nil: undefined }), docArb, (read, x, doc) => {
        const single: Rules = {
          c: { roles: [{ name: 'r', read, write: false, insert: false, delete: false }] },
        };
        const access = createAccess(single, x === undefined ? {} : { x }, 'c');
        const usesClaim = JSON.stringify(read).includes('%%user.x');
        if (x === undefined && usesClaim) {
          expect(access.canRead(doc).allowed).toBe(false);
          return;
        }
        const literal = JSON.parse(
          JSON.stringify(read).replaceAll('"%%user.x"', JSON.stringify(x ?? null)),
        ) as Filter;
        expect(access.canRead(doc).allowed).toBe(evaluateFilter(literal, doc));
      }),
      { numRuns: 500 },
    );
  });
});

describe('writing', () => {
  const access = createAccess(rules, cashier, 'orders');
  const mine = orders[0] as QueryDoc;

  it('lets a cashier create and edit their own orders in their store', () => {
    const order = { id: 'o9', storeId: 101, cashierId: 'c1', total: 3 };
    expect(
      access.checkWrite({
        kind: 'insert',
        after: order,
        touchedFields: ['id', 'storeId', 'cashierId', 'total'],
      }),
    ).toEqual({
      ok: true,
    });
    expect(
      access.checkWrite({
        kind: 'update',
        before: mine,
        after: { ...mine, total: 6 },
        touchedFields: ['total'],
      }),
    ).toEqual({ ok: true });
  });

  it('refuses inserts outside the write filter, and fields the role may not write', () => {
    const other = { id: 'o9', storeId: 102, cashierId: 'c1', total: 3 };
    expect(access.checkWrite({ kind: 'insert', after: other, touchedFields: ['storeId'] })).toMatchObject({
      ok: false,
      code: 'row_denied',
    });
    const withMargin = { id: 'o9', storeId: 101, cashierId: 'c1', margin: 4 };
    const result = access.checkWrite({
      kind: 'insert',
      after: withMargin,
      touchedFields: ['storeId', 'margin'],
    });
    expect(result).toMatchObject({ ok: false, code: 'field_denied' });
    expect(result.ok ? '' : result.reason).toContain('"margin"');
  });

  it('checks updates on the before AND after image, so an order cannot be handed to another store', () => {
    const moved = { ...mine, storeId: 102 };
    expect(
      access.checkWrite({ kind: 'update', before: mine, after: moved, touchedFields: ['storeId'] }),
    ).toMatchObject({
      ok: false,
      code: 'row_denied',
    });
    const theirs = orders[1] as QueryDoc;
    const claimed = { ...theirs, cashierId: 'c1' };
    expect(
      access.checkWrite({ kind: 'update', before: theirs, after: claimed, touchedFields: ['cashierId'] }),
    ).toMatchObject({ ok: false, code: 'row_denied' });
  });

  it('grants nested writes under a granted object, but not the object under a granted leaf, and never id', () => {
    const renamed = { ...mine, customer: { name: 'Bob' } };
    const update = (touchedFields: string[]) =>
      access.checkWrite({ kind: 'update', before: mine, after: renamed, touchedFields });
    expect(update(['customer.name'])).toEqual({ ok: true });
    expect(update(['customer'])).toEqual({ ok: true });
    expect(update(['id'])).toMatchObject({ ok: false, code: 'field_denied' });
    expect(
      access.checkWrite({
        kind: 'update',
        before: mine,
        after: { ...mine, id: 'o8' },
        touchedFields: ['total'],
      }),
    ).toMatchObject({ ok: false, code: 'row_denied' });
    const leafOnly = validateRules({
      c: {
        roles: [
          { name: 'r', read: true, write: true, insert: true, delete: true, fields: { write: ['a.b'] } },
        ],
      },
    });
    const leaf = createAccess(leafOnly, {}, 'c');
    const doc = { id: 'x', a: { b: 1, c: 2 } };
    expect(leaf.checkWrite({ kind: 'update', before: doc, after: doc, touchedFields: ['a.b'] })).toEqual({
      ok: true,
    });
    expect(leaf.checkWrite({ kind: 'update', before: doc, after: doc, touchedFields: ['a'] })).toMatchObject({
      code: 'field_denied',
    });
    expect(
      leaf.checkWrite({ kind: 'update', before: doc, after: doc, touchedFields: ['a.bc'] }),
    ).toMatchObject({
      code: 'field_denied',
    });
  });

  it('refuses deletes to roles without the right, and outside the write filter', () => {
    expect(access.checkWrite({ kind: 'delete', before: mine })).toMatchObject({
      ok: false,
      code: 'delete_denied',
    });
    const admin = createAccess(rules, { role: 'admin' }, 'orders');
    expect(admin.checkWrite({ kind: 'delete', before: mine })).toEqual({ ok: true });
    const auditor = createAccess(rules, { role: 'auditor', storeIds: [101] }, 'orders');
    expect(auditor.checkWrite({ kind: 'insert', after: mine, touchedFields: [] })).toMatchObject({
      code: 'insert_denied',
    });
    expect(
      auditor.checkWrite({ kind: 'update', before: mine, after: mine, touchedFields: [] }),
    ).toMatchObject({
      code: 'row_denied',
    });
  });
});

describe('subscriptions', () => {
  const access = createAccess(rules, cashier, 'orders');

  it('refuses queries that filter or sort on unreadable fields, wherever they hide', () => {
    const hidden = [
      { collection: 'orders', filter: q.gt('margin', 1) },
      { collection: 'orders', filter: q.or(q.eq('total', 5), q.not(q.exists('margin'))) },
      { collection: 'orders', filter: q.eq('customer.phone', '555') },
      { collection: 'orders', filter: q.exists('customer') },
      { collection: 'orders', sort: [q.desc('margin')] },
    ];
    for (const query of hidden)
      expect(access.authorizeQuery(query)).toMatchObject({ ok: false, code: 'field_denied' });
    expect(
      access.unreadableFields({ filter: q.and(q.eq('margin', 1), q.eq('total', 1)), sort: [q.asc('x')] }),
    ).toEqual(['margin', 'x']);
  });

  it('ANDs the read filter into allowed queries, so they only ever see readable rows', () => {
    const decision = access.authorizeQuery({
      collection: 'orders',
      filter: q.gte('total', 5),
      sort: [q.desc('total')],
    });
    expect(decision.ok).toBe(true);
    if (!decision.ok) return;
    expect(decision.query.filter).toEqual(q.and(q.eq('storeId', 101), q.gte('total', 5)));
    expect(runQuery(decision.query, orders).map((d) => d.id)).toEqual(['o2', 'o1']);
    const all = access.authorizeQuery({ collection: 'orders', filter: q.eq('id', 'o3') });
    expect(all.ok && runQuery(all.query, orders)).toEqual([]);
  });

  it('refuses a query for another collection', () => {
    expect(access.authorizeQuery({ collection: 'products' })).toMatchObject({ ok: false, code: 'no_role' });
  });
});
