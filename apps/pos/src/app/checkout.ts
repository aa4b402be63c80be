/**
 * Recording sales and voids. Each is one local transaction: the order, one line document per product (for the
 * day's reports) and the stock movement. It commits on this device at once, online or not; sync uploads it later,
 * and the stock counters of two terminals selling the same product offline add up.
 *
 * Invariants:
 * 1. **Ticket numbers never repeat in a store** (see `shop/ticket.ts`): the sequence is one more than the highest
 *    this device recorded at this terminal, read inside the transaction that records the new one.
 * 2. **A void is a new order, never a delete**: it repeats the sale's lines with negative quantities and a negative
 *    total, paid back the way the sale was paid, and puts the items back in stock. Its id is `void:<sale id>` (its
 *    lines `void:<sale id>:<n>`), so a sale is voided at most once: a second void on this device is refused, and
 *    two devices voiding it offline make one void document once synced (their stock returns both count, though:
 *    counters add up, so that rare case puts the items back twice).
 */
import { q } from '@loam/core';
import { type Cart, cartTotals } from '../shop/cart';
import { changeDue, type Payment, type PaymentMethod } from '../shop/payment';
import type { Order, OrderLine } from '../shop/schema';
import { ticketNumber } from '../shop/ticket';
import type { ShopDatabase } from './shop-database';

/** Who is selling, and on which device. */
export interface Seller {
  readonly storeId: string;
  readonly terminal: string;
  readonly cashier: string;
  /** This device's code (see `shop/ticket.ts`). */
  readonly device: string;
}

/** A recorded sale or void. */
export interface Sale {
  readonly orderId: string;
  /** Ticket number, `T<terminal>-<device>-<nnnn>`. */
  readonly number: string;
  /** In cents (negative for a void). */
  readonly total: number;
  readonly itemCount: number;
  readonly payment: PaymentMethod;
  /** Change given back (cash), in cents. */
  readonly change?: number;
}

/** Why a sale or a void was not recorded (nothing was written). */
export class SaleRefusedError extends Error {
  override readonly name = 'SaleRefusedError';
}

type Tx = Parameters<Parameters<ShopDatabase['transaction']>[0]>[0];

interface NewOrder {
  readonly id?: string;
  readonly kind: 'sale' | 'void';
  readonly lines: readonly OrderLine[];
  readonly total: number;
  readonly itemCount: number;
  readonly note: string;
  readonly payment: Payment | { readonly method: PaymentMethod };
  readonly voidOf?: string;
}

/** Records `order` for `seller` inside `tx`: the order, its line documents and the stock movement. */
async function record(tx: Tx, seller: Seller, order: NewOrder, createdAt: Date): Promise<Sale> {
  const orders = tx.collection('orders');
  const [last] = await orders.find({
    filter: q.and(q.eq('device', seller.device), q.eq('terminal', seller.terminal)),
    sort: [q.desc('seq')],
    limit: 1,
  });
  const seq = (last?.seq ?? 0) + 1;
  const number = ticketNumber(seller.terminal, seller.device, seq);
  const cash = order.payment.method === 'cash' && 'tendered' in order.payment ? order.payment : undefined;
  const change = cash ? changeDue(order.total, cash.tendered) : undefined;
  const orderId = await orders.insert({
    ...(order.id === undefined ? {} : { id: order.id }),
    storeId: seller.storeId,
    number,
    cashier: seller.cashier,
    terminal: seller.terminal,
    device: seller.device,
    seq,
    createdAt,
    kind: order.kind,
    lines: order.lines.map((line) => ({ ...line })),
    total: order.total,
    itemCount: order.itemCount,
    note: order.note,
    payment: order.payment.method,
    ...(cash && change !== undefined ? { tendered: cash.tendered, change } : {}),
    ...(order.voidOf === undefined ? {} : { voidOf: order.voidOf }),
  });
  const lines = tx.collection('orderLines');
  const products = tx.collection('products');
  for (const [i, line] of order.lines.entries()) {
    await lines.insert({
      id: `${orderId}:${i + 1}`,
      orderId,
      storeId: seller.storeId,
      terminal: seller.terminal,
      createdAt,
      productId: line.productId,
      name: line.name,
      price: line.price,
      quantity: line.quantity,
      amount: line.price * line.quantity,
    });
    await products.increment(line.productId, 'stock', -line.quantity);
  }
  return {
    orderId,
    number,
    total: order.total,
    itemCount: order.itemCount,
    payment: order.payment.method,
    ...(change === undefined ? {} : { change }),
  };
}

/**
 * Records `cart` as a sale of `seller`'s store, paid by `payment`, with `note`. Rejects with `SaleRefusedError`
 * (recording nothing) for an empty cart or cash that does not cover the total.
 */
export async function checkout(
  db: ShopDatabase,
  seller: Seller,
  cart: Cart,
  note: string,
  payment: Payment,
  now: () => Date = () => new Date(),
): Promise<Sale> {
  if (cart.length === 0) throw new SaleRefusedError('The cart is empty');
  const { total, itemCount } = cartTotals(cart);
  if (payment.method === 'cash' && changeDue(total, payment.tendered) === undefined)
    throw new SaleRefusedError('The cash handed over does not cover the total');
  return await db.transaction((tx) =>
    record(tx, seller, { kind: 'sale', lines: cart, total, itemCount, note: note.trim(), payment }, now()),
  );
}

/** The id of the void of sale `orderId`. */
export function voidIdOf(orderId: string): string {
  return `void:${orderId}`;
}

/**
 * Voids `sale`: records a new order reversing it (see the module invariants). Rejects with `SaleRefusedError`
 * when `sale` is itself a void or was already voided.
 */
export async function voidSale(
  db: ShopDatabase,
  seller: Seller,
  sale: Order,
  now: () => Date = () => new Date(),
): Promise<Sale> {
  if (sale.kind === 'void') throw new SaleRefusedError('A void cannot be voided');
  const id = voidIdOf(sale.id);
  return await db.transaction(async (tx) => {
    if (await tx.collection('orders').get(id))
      throw new SaleRefusedError(`Sale ${sale.number} is already voided`);
    return await record(
      tx,
      seller,
      {
        id,
        kind: 'void',
        lines: sale.lines.map((line) => ({ ...line, quantity: -line.quantity })),
        total: -sale.total,
        itemCount: -sale.itemCount,
        note: `Void of ${sale.number}`,
        payment: { method: sale.payment === 'card' ? 'card' : 'cash' },
        voidOf: sale.id,
      },
      now(),
    );
  });
}
