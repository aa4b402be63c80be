/**
 * The demo shop `npm start` seeds: one store, its catalog and its two terminals. Ids are fixed, so seeding twice
 * finds the same documents instead of adding new ones.
 */
import type { NewDocOf } from '@loam/core';
import type { ShopSchema } from '../shop/schema';
import { parseTerminal } from '../shop/terminal';

/** A document to seed, with its fixed id. */
export type SeedDoc<C extends keyof ShopSchema['collections']> = NewDocOf<ShopSchema, C> & {
  readonly id: string;
};

/** The demo store. */
export const demoStore: SeedDoc<'stores'> = {
  id: 'store-1',
  name: 'Loam Corner Bakery',
  address: '12 Market Street',
  currency: 'EUR',
};

function product(
  id: string,
  name: string,
  category: string,
  price: number,
  stock: number,
  sku: string,
): SeedDoc<'products'> {
  return { id: `prod-${id}`, name, category, price, stock, sku };
}

/** The demo catalog: prices in cents, opening stock. */
export const demoProducts: readonly SeedDoc<'products'>[] = [
  product('croissant', 'Butter croissant', 'Bakery', 145, 60, '1001'),
  product('pain-choc', 'Pain au chocolat', 'Bakery', 165, 48, '1002'),
  product('sourdough', 'Sourdough loaf', 'Bakery', 520, 20, '1003'),
  product('baguette', 'Baguette', 'Bakery', 180, 40, '1004'),
  product('rye', 'Dark rye bread', 'Bakery', 460, 12, '1005'),
  product('cinnamon-bun', 'Cinnamon bun', 'Bakery', 295, 30, '1006'),
  product('espresso', 'Espresso', 'Coffee', 220, 500, '2001'),
  product('cappuccino', 'Cappuccino', 'Coffee', 320, 500, '2002'),
  product('latte', 'Caffè latte', 'Coffee', 340, 500, '2003'),
  product('flat-white', 'Flat white', 'Coffee', 330, 500, '2004'),
  product('filter', 'Filter coffee', 'Coffee', 250, 500, '2005'),
  product('water', 'Still water 50 cl', 'Drinks', 150, 72, '3001'),
  product('sparkling', 'Sparkling water 50 cl', 'Drinks', 160, 72, '3002'),
  product('orange-juice', 'Fresh orange juice', 'Drinks', 390, 24, '3003'),
  product('lemonade', 'Homemade lemonade', 'Drinks', 350, 24, '3004'),
  product('ham-sandwich', 'Ham & cheese sandwich', 'Deli', 595, 18, '4001'),
  product('veggie-wrap', 'Falafel wrap', 'Deli', 625, 14, '4002'),
  product('soup', 'Soup of the day', 'Deli', 550, 20, '4003'),
  product('quiche', 'Quiche lorraine', 'Deli', 480, 10, '4004'),
  product('eclair', 'Chocolate éclair', 'Sweets', 310, 16, '5001'),
  product('tart', 'Lemon tart', 'Sweets', 395, 12, '5002'),
  product('macarons', 'Macarons (box of 6)', 'Sweets', 990, 8, '5003'),
  product('brownie', 'Walnut brownie', 'Sweets', 275, 20, '5004'),
];

/** A terminal of the demo store: its number in the URL (`?terminal=1`) and the cashier signed in on it. */
export interface DemoTerminal {
  readonly terminal: string;
  readonly cashier: string;
}

/** Cashiers of terminals 1–4; other numbers get a generic name. */
const cashiers = ['Alex', 'Sam', 'Robin', 'Kim'];

/** The terminal for the number in `?terminal=`, or `undefined` when it is not a till number (1 to 99). */
export function demoTerminal(value: string | null | undefined): DemoTerminal | undefined {
  const terminal = parseTerminal(value);
  if (terminal === undefined) return undefined;
  return { terminal, cashier: cashiers[Number(terminal) - 1] ?? `Cashier ${terminal}` };
}
