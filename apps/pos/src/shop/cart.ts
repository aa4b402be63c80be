/**
 * The cart of the till: pure functions over an immutable list of lines.
 *
 * Invariants:
 * 1. Amounts are integer cents; a price that is not a non-negative safe integer is refused, so totals are exact.
 * 2. A product appears on at most one line; quantities are positive integers (setting 0 removes the line).
 * 3. A line keeps the name and price it had when it was added: the receipt shows what the customer was told.
 */
import type { OrderLine } from './schema';

/** One line of the cart. */
export type CartLine = OrderLine;

/** The cart: lines in the order they were first added. */
export type Cart = readonly CartLine[];

/** What the cart needs of a product. */
export interface CartProduct {
  readonly id: string;
  readonly name: string;
  /** Unit price in cents. */
  readonly price: number;
}

/** Totals of a cart. */
export interface CartTotals {
  /** Number of items (sum of quantities). */
  readonly itemCount: number;
  /** Sum of price × quantity, in cents. */
  readonly total: number;
}

/** Largest quantity of one line. */
export const MAX_QUANTITY = 999;

function checkPrice(price: number): void {
  if (!Number.isSafeInteger(price) || price < 0)
    throw new RangeError(`A price must be a whole number of cents ≥ 0, got ${price}`);
}

/** The cart with one more of `product` (a new line at the end, or the existing line's quantity + 1). */
export function addToCart(cart: Cart, product: CartProduct): Cart {
  checkPrice(product.price);
  const existing = cart.find((line) => line.productId === product.id);
  if (existing) return setQuantity(cart, product.id, existing.quantity + 1);
  return [...cart, { productId: product.id, name: product.name, price: product.price, quantity: 1 }];
}

/** The cart with the line of `productId` at `quantity` (clamped to {@link MAX_QUANTITY}; ≤ 0 removes it). */
export function setQuantity(cart: Cart, productId: string, quantity: number): Cart {
  const wanted = Math.min(MAX_QUANTITY, Math.trunc(quantity));
  if (!(wanted > 0)) return cart.filter((line) => line.productId !== productId);
  return cart.map((line) => (line.productId === productId ? { ...line, quantity: wanted } : line));
}

/** The cart with the quantity of `productId` changed by `delta` (a line that reaches 0 is removed). */
export function changeQuantity(cart: Cart, productId: string, delta: number): Cart {
  const line = cart.find((l) => l.productId === productId);
  return line ? setQuantity(cart, productId, line.quantity + delta) : cart;
}

/** Item count and total in cents. */
export function cartTotals(cart: Cart): CartTotals {
  let itemCount = 0;
  let total = 0;
  for (const line of cart) {
    checkPrice(line.price);
    itemCount += line.quantity;
    total += line.price * line.quantity;
  }
  if (!Number.isSafeInteger(total)) throw new RangeError('The cart total is too large');
  return { itemCount, total };
}
