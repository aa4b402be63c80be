import { type DocOf, defineSchema, f } from '@loam/core';

export const schema = defineSchema({
  version: 1,
  collections: {
    products: {
      fields: {
        name: f.string(),
        price: f.number({ indexed: true }),
        category: f.string({ optional: true, indexed: true }),
        supplier: f.object({ name: f.string(), city: f.string({ optional: true }) }, { optional: true }),
        stock: f.counter(), // concurrent increments all count
        tags: f.list<string>(), // Yjs array
        description: f.text(), // Yjs text
      },
    },
    orders: {
      fields: {
        productId: f.ref('products', { indexed: true }),
        quantity: f.number(),
        total: f.number(),
      },
    },
  },
});
export type Product = DocOf<typeof schema, 'products'>;
