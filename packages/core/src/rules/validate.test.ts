import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RulesError } from '../errors';
import { validateRules } from './validate';

const role = { name: 'r', read: true, write: false, insert: false, delete: false };

function problems(input: unknown): string {
  try {
    validateRules(input);
  } catch (error) {
    expect(error).toBeInstanceOf(RulesError);
    return (error as RulesError).message;
  }
  throw new Error('expected validateRules to throw');
}

describe('validateRules', () => {
  it('returns valid rules unchanged, including placeholders and field lists', () => {
    const input = {
      orders: {
        roles: [
          {
            name: 'cashier',
            applyWhen: { op: 'eq', field: 'role', value: 'cashier' },
            read: { op: 'in', field: 'storeId', values: '%%user.storeIds' },
            write: { op: 'and', filters: [{ op: 'eq', field: 'cashierId', value: '%%user.profile.id' }] },
            insert: true,
            delete: false,
            fields: { read: '*', write: ['total', 'customer.name'] },
          },
        ],
      },
    };
    expect(validateRules(JSON.parse(JSON.stringify(input)))).toEqual(input);
  });

  it('lists every problem with its location, not just the first', () => {
    const message = problems({
      orders: {
        roles: [
          { ...role, wirte: true },
          { name: 'r', read: true, write: false, insert: 'yes' },
          { ...role, read: { op: 'eq', field: 'owner', value: '%%usr.sub' } },
          { ...role, name: 'p', applyWhen: { op: 'eq', field: 'team', value: '%%user.team' } },
          { ...role, name: 'q', write: { op: 'or', filters: [{ op: 'like', field: 'a', value: 'x' }] } },
          { ...role, name: 's', fields: { read: ['a', 'b..c'], delete: [] } },
          { ...role, name: 't', read: { op: 'in', field: 'a', values: 'storeIds' } },
        ],
      },
      products: { roles: {} },
    });
    const expected = [
      'orders.roles[0]: unexpected key "wirte"',
      'orders.roles[1].insert: must be true or false',
      'orders.roles[1].delete: must be true or false',
      'orders.roles[2].read: "%%usr.sub" is not a placeholder',
      'orders.roles[3].applyWhen: placeholders such as "%%user.team" are not allowed here',
      'orders.roles[4].write.filters[0]: invalid filter.op: unknown operator string "like"',
      'orders.roles[5].fields.read[1]: expected a dotted field path',
      'orders.roles[5].fields: unexpected key "delete"',
      'orders.roles[6].read: "values" must be an array or one %%user.<claim> placeholder',
      'orders.roles: two roles are named "r"',
      'products.roles: expected an array of roles',
    ];
    for (const part of expected) expect(message).toContain(part);
  });

  it('requires read and write to be stated', () => {
    expect(problems({ c: { roles: [{ name: 'r', insert: true, delete: true }] } })).toMatch(
      /c\.roles\[0\]\.read: is required.*c\.roles\[0\]\.write: is required/,
    );
  });

  it('rejects a non-object and stays bounded on deeply nested filters', () => {
    expect(problems([])).toContain('expected an object mapping collection names');
    let deep: unknown = { op: 'true' };
    for (let i = 0; i < 50_000; i++) deep = { op: 'not', filter: deep };
    expect(problems({ c: { roles: [{ ...role, read: deep }] } })).toContain('nest deeper than 32');
  });

  it('never throws anything but RulesError', () => {
    const anyRole = fc.record(
      {
        name: fc.oneof(fc.string(), fc.anything({ maxDepth: 2 })),
        read: fc.oneof(fc.boolean(), fc.anything({ maxDepth: 2 })),
        write: fc.anything({ maxDepth: 2 }),
        insert: fc.anything({ maxDepth: 1 }),
        delete: fc.boolean(),
        fields: fc.anything({ maxDepth: 2 }),
        applyWhen: fc.anything({ maxDepth: 2 }),
      },
      { requiredKeys: [] },
    );
    const input = fc.oneof(
      fc.anything({ maxDepth: 3 }),
      fc.dictionary(fc.string(), fc.record({ roles: fc.array(anyRole, { maxLength: 3 }) })),
    );
    fc.assert(
      fc.property(input, (rules) => {
        try {
          validateRules(rules);
        } catch (error) {
          expect(error).toBeInstanceOf(RulesError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
