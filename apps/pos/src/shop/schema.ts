/**
 * The shop's data: stores, the catalog, the orders of each store, and one line document per sold product (so the
 * end-of-day report can sum what was sold with aggregate queries).
 *
 * Version 2 added, additively (the relay migrates an existing data folder in place): on orders `kind`, `payment`,
 * `tendered`, `change`, `device`, `seq` and `voidOf`; the `orderLines` collection. Orders of version 1 lack them
 * and read as cash-less, device-less sales.
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
  version: 2,
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
        /** Ticket number, unique in the store: `T<terminal>-<device>-<sequence>`, e.g. `T1-K7QM-0042`. */
        number: f.string(),
        cashier: f.string(),
        terminal: f.string({ indexed: true }),
        createdAt: f.date({ indexed: true }),
        /** The lines sold (for a void: the voided sale's lines with negative quantities). */
        lines: f.list<OrderLine>(),
        /** Sum of the lines in cents (negative for a void). */
        total: f.number(),
        itemCount: f.number(),
        note: f.text(),
        /** `sale` or `void` (absent on version 1 orders: a sale). */
        kind: f.string({ optional: true, indexed: true }),
        /** `cash` or `card` (a void repays the way the sale was paid). */
        payment: f.string({ optional: true, indexed: true }),
        /** Cash handed over, in cents (cash sales). */
        tendered: f.number({ optional: true }),
        /** Change given back, in cents (cash sales). */
        change: f.number({ optional: true }),
        /** The selling device's code (4 characters), part of the ticket number. */
        device: f.string({ optional: true, indexed: true }),
        /** The sale's number among this device's sales at this terminal. */
        seq: f.number({ optional: true, indexed: true }),
        /** On a void: the id of the sale it reverses (a void's own id is `void:<that id>`). */
        voidOf: f.ref('orders', { optional: true, indexed: true }),
      },
    },
    orderLines: {
      fields: {
        /** The order (sale or void) the line belongs to; the line's id is `<order id>:<line number>`. */
        orderId: f.ref('orders', { indexed: true }),
        storeId: f.string({ indexed: true }),
        terminal: f.string({ indexed: true }),
        createdAt: f.date({ indexed: true }),
        productId: f.string({ indexed: true }),
        name: f.string(),
        /** Unit price in cents. */
        price: f.number(),
        /** Negative on a void. */
        quantity: f.number(),
        /** `price × quantity`, in cents. */
        amount: f.number(),
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
/** A completed sale, or the void of one. */
export type Order = DocOf<ShopSchema, 'orders'>;
/** One product line of an order, as a document of its own. */
export type OrderLineDoc = DocOf<ShopSchema, 'orderLines'>;
