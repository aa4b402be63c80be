/**
 * Checkout: one local transaction that records the order and takes the sold items out of stock. It commits on
 * this device at once (online or not); sync uploads it later, and the stock counters of two terminals selling
 * the same product offline add up.
 */
import { q } from '@loam/core';
import { type Cart, cartTotals } from '../shop/cart';
import type { ShopDatabase } from './shop-database';

/** Who is selling. */
export interface Seller {
  readonly storeId: string;
  readonly terminal: string;
  readonly cashier: string;
}

/** The recorded sale. */
export interface Sale {
  readonly orderId: string;
  /** Ticket number, `T<terminal>-<nnnn>`. */
  readonly number: string;
  /** In cents. */
  readonly total: number;
  readonly itemCount: number;
}

/** `T1-0007`: the terminal and its sequence of sales on this device. */
export function ticketNumber(terminal: string, sequence: number): string {
  return `T${terminal}-${String(sequence).padStart(4, '0')}`;
}

/**
 * Records `cart` as an order of `seller`'s store, with `note`, and decrements each product's stock by its
 * quantity, atomically. Rejects (recording nothing) for an empty cart.
 */
export async function checkout(
  db: ShopDatabase,
  seller: Seller,
  cart: Cart,
  note: string,
  now: () => Date = () => new Date(),
): Promise<Sale> {
  if (cart.length === 0) throw new Error('The cart is empty');
  const { total, itemCount } = cartTotals(cart);
  return await db.transaction(async (tx) => {
    const orders = tx.collection('orders');
    const previous = await orders.find({
      filter: q.and(q.eq('storeId', seller.storeId), q.eq('terminal', seller.terminal)),
    });
    const number = ticketNumber(seller.terminal, previous.length + 1);
    const orderId = await orders.insert({
      storeId: seller.storeId,
      number,
      cashier: seller.cashier,
      terminal: seller.terminal,
      createdAt: now(),
      lines: cart.map((line) => ({ ...line })),
      total,
      itemCount,
      note: note.trim(),
    });
    const products = tx.collection('products');
    for (const line of cart) await products.increment(line.productId, 'stock', -line.quantity);
    return { orderId, number, total, itemCount };
  });
}
