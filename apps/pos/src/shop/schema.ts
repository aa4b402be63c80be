/**
 * The shop's data: stores, the catalog and the orders of each store.
 *
 * This TypeScript declaration is the source of truth for the app's types; `loam/schema.json` is the same schema
 * as JSON for the relay (`schema.test.ts` fails when the two differ; `npm run schema -w @loam/pos` rewrites it).
 * Money is always an integer number of cents (`price`, `total`, line `price`): no float arithmetic on amounts.
 */
import { type DocOf, defineSchema, f } from '@loam/core';

/** One line of an order, frozen at sale time (a later price change does not rewrite past orders). */
export interface OrderLine {
  readonly productId: string;
  readonly name: string;
  /** Unit price in cents when sold. */
  readonly price: number;
  readonly quantity: number;
}

/** The schema shared by the POS app and its relay. */
export const shopSchema = defineSchema({
  version: 1,
  collections: {
    stores: {
      fields: {
        name: f.string(),
        address: f.string({ optional: true }),
        currency: f.string({ default: 'EUR' }),
      },
    },
    products: {
      fields: {
        name: f.string(),
        /** Unit price in cents; only the back office may change it. */
        price: f.number(),
        category: f.string({ indexed: true }),
        sku: f.string({ optional: true }),
        stock: f.counter(),
      },
    },
    orders: {
      fields: {
        storeId: f.string({ indexed: true }),
        /** Human ticket number, e.g. `T1-0042`. */
        number: f.string(),
        cashier: f.string(),
        terminal: f.string(),
        createdAt: f.date({ indexed: true }),
        lines: f.list<OrderLine>(),
        /** Sum of the lines in cents. */
        total: f.number(),
        itemCount: f.number(),
        note: f.text(),
      },
    },
  },
});

/** The shop schema's type. */
export type ShopSchema = typeof shopSchema;
/** A store document. */
export type Store = DocOf<ShopSchema, 'stores'>;
/** A product of the catalog. */
export type Product = DocOf<ShopSchema, 'products'>;
/** A completed sale. */
export type Order = DocOf<ShopSchema, 'orders'>;
