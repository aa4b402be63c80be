/**
 * Paying for a sale: cash (the amount handed over, the change due) or card. Amounts are integer cents.
 */

/** How a sale was paid. */
export type Payment = { readonly method: 'cash'; readonly tendered: number } | { readonly method: 'card' };

/** The payment methods, as stored on orders. */
export type PaymentMethod = Payment['method'];

/** The change due when `tendered` cents are handed over for `total`, or `undefined` when it is not enough. */
export function changeDue(total: number, tendered: number): number | undefined {
  if (!Number.isSafeInteger(tendered) || tendered < total) return undefined;
  return tendered - total;
}

/**
 * Amounts a customer is likely to hand over for `total` (cents), smallest first: the exact amount, then the next
 * round amounts of 5, 10, 20 and 50 (in the currency's units) above it, without repeats; at most five.
 */
export function quickAmounts(total: number): number[] {
  const out = [total];
  for (const step of [500, 1000, 2000, 5000]) {
    const next = Math.ceil(total / step) * step;
    const amount = next === total ? next + step : next;
    if (!out.includes(amount)) out.push(amount);
  }
  return out.slice(0, 5);
}
