/**
 * The shop of `shell-peers.browser.test.ts`: a `sales` collection, and the rules its relay certifies the tills
 * under (which the tills also judge each other's sales by, offline). Not part of the app.
 */
import { defineSchema, f, type Rules } from '@loam/core';

export const shellShopSchema = defineSchema({
  version: 1,
  collections: {
    sales: { fields: { item: f.string(), qty: f.number({ indexed: true }) } },
  },
});

export const shellShopRules: Rules = {
  sales: {
    roles: [{ name: 'clerk', read: true, write: true, insert: true, delete: true }],
  },
};
