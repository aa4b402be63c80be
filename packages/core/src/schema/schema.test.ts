import { describe, expect, expectTypeOf, it } from 'vitest';
import { SchemaError, ValidationError } from '../errors';
import type { DocId } from '../ids/ids';
import { type DocOf, defineSchema, f, leafPaths, type NewDocOf, parseSchema, schemaToJson } from './schema';
import { assertValid, validate } from './validate';

const schema = defineSchema({
  version: 3,
  collections: {
    products: {
      fields: {
        name: f.string(),
        price: f.number({ indexed: true }),
        category: f.string({ optional: true, indexed: true }),
        active: f.boolean({ default: true }),
        launched: f.date({ optional: true }),
        meta: f.json<{ color: string }, { optional: true }>({ optional: true }),
        supplier: f.ref('suppliers', { optional: true }),
        place: f.object(
          { city: f.string(), geo: f.object({ lat: f.number(), lng: f.number() }, { optional: true }) },
          { optional: true },
        ),
        stock: f.counter(),
        tags: f.list<string>(),
        note: f.text(),
      },
    },
  },
});
const products = schema.collections.products;

describe('schema', () => {
  it('infers document types', () => {
    type Product = DocOf<typeof schema, 'products'>;
    expectTypeOf<Product['id']>().toEqualTypeOf<DocId>();
    expectTypeOf<Product['price']>().toEqualTypeOf<number>();
    expectTypeOf<Product['category']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<Product['tags']>().toEqualTypeOf<string[]>();
    expectTypeOf<Product['launched']>().toEqualTypeOf<Date | undefined>();
    expectTypeOf<NonNullable<Product['place']>['city']>().toEqualTypeOf<string>();
    const minimal: NewDocOf<typeof schema, 'products'> = { name: 'Tea', price: 2 };
    expect(validate(products, minimal, 'insert')).toEqual([]);
  });

  it('accepts interfaces as list item and json types', () => {
    interface Line {
      product: string;
      qty: number;
    }
    const orders = defineSchema({
      version: 1,
      collections: {
        orders: {
          fields: { lines: f.list<Line>(), meta: f.json<Line, { optional: true }>({ optional: true }) },
        },
      },
    });
    expectTypeOf<DocOf<typeof orders, 'orders'>['lines']>().toEqualTypeOf<Line[]>();
    expectTypeOf<DocOf<typeof orders, 'orders'>['meta']>().toEqualTypeOf<Line | undefined>();
  });

  it('round-trips through JSON for the server', () => {
    expect(parseSchema(JSON.parse(schemaToJson(schema)))).toEqual(schema);
  });

  it('lists the leaf columns depth first', () => {
    expect(leafPaths(products).map((l) => l.path)).toEqual([
      'name',
      'price',
      'category',
      'active',
      'launched',
      'meta',
      'supplier',
      'place.city',
      'place.geo.lat',
      'place.geo.lng',
      'stock',
    ]);
  });

  it('refuses broken schemas, naming the field', () => {
    const bad = (fields: unknown) => () => parseSchema({ version: 1, collections: { c: { fields } } });
    expect(bad({ x: { kind: 'decimal', optional: false } })).toThrow(/c\.x: unknown kind/);
    expect(bad({ id: { kind: 'string', optional: false } })).toThrow(/reserved/);
    expect(bad(JSON.parse('{"__proto__": {"kind": "string", "optional": false}}'))).toThrow(/reserved/);
    expect(
      bad({ o: { kind: 'object', optional: false, fields: { n: { kind: 'counter', optional: false } } } }),
    ).toThrow(/cannot be nested/);
    expect(bad({ n: { kind: 'number', optional: false, default: 'x' } })).toThrow(/bad default/);
    expect(bad({ t: { kind: 'text', optional: false, indexed: true } })).toThrow(SchemaError);
    expect(() => parseSchema({ version: 0, collections: {} })).toThrow(/version/);
  });
});

describe('validate', () => {
  it('reports every problem with its path, what was expected and what was found', () => {
    const problems = validate(
      products,
      {
        price: '12',
        launched: 'yesterday',
        place: { city: 3, geo: { lat: 1 } },
        tags: ['ok', Number.NaN],
        extra: 1,
      },
      'insert',
    );
    expect(problems).toEqual([
      { path: ['name'], expected: 'string', found: 'missing' },
      { path: ['price'], expected: 'finite number', found: 'string "12"' },
      { path: ['launched'], expected: 'valid Date', found: 'string "yesterday"' },
      { path: ['place', 'city'], expected: 'string', found: 'number 3' },
      { path: ['place', 'geo', 'lng'], expected: 'number', found: 'missing' },
      { path: ['tags', 1], expected: 'JSON value', found: 'number NaN' },
      { path: ['extra'], expected: 'no such field', found: 'number 1' },
    ]);
  });

  it('lets a patch clear optional fields but not required ones, nor change the id', () => {
    expect(validate(products, { category: undefined, place: null }, 'patch')).toEqual([]);
    expect(validate(products, { name: null, id: 'x' }, 'patch').map((p) => p.path[0])).toEqual([
      'id',
      'name',
    ]);
  });

  it('refuses counters that are not integers and strings that are not well-formed Unicode', () => {
    expect(validate(products, { stock: 1.5 }, 'patch')).toHaveLength(1);
    expect(validate(products, { name: 'bad \ud800' }, 'patch')).toHaveLength(1);
  });

  it('throws a ValidationError carrying the problems', () => {
    try {
      assertValid('products', products, { name: 1, price: 1 }, 'insert');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).code).toBe('validation_failed');
      expect((e as ValidationError).problems).toHaveLength(1);
      expect((e as Error).message).toContain('name: expected string, found number 1');
    }
  });
});
