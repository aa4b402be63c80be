/**
 * The day's figures of a till or a store, as aggregate queries over its orders and order lines: sales and voids,
 * takings by payment method, items sold. Pure: the app runs the queries live (`useAggregate`), tests run them on
 * the relay's data too.
 *
 * Invariants:
 * 1. **A day is local midnight to the next local midnight** of the till's clock, `createdAt` in `[start, end)`.
 * 2. **Voids count against the day they are made.** A void is an order of its own (negative total, negative
 *    line quantities), so sums over a day's orders and lines are net of that day's voids.
 */
import { type Filter, q } from '@loam/core';
import type { PaymentMethod } from './payment';

/** A day, as the half-open range of `createdAt` it covers. */
export interface DayRange {
  readonly start: Date;
  readonly end: Date;
}

/** Whose figures: one till of a store, or the whole store. */
export interface ReportScope {
  readonly storeId: string;
  /** A till number, or undefined for every till of the store. */
  readonly terminal?: string;
}

/** The local day containing `at`. */
export function dayOf(at: number | Date): DayRange {
  const start = new Date(at);
  start.setHours(0, 0, 0, 0);
  const end = new Date(start);
  end.setDate(end.getDate() + 1);
  return { start, end };
}

function scopeFilter(scope: ReportScope, day: DayRange): Filter {
  return q.and(
    q.eq('storeId', scope.storeId),
    ...(scope.terminal === undefined ? [] : [q.eq('terminal', scope.terminal)]),
    q.gte('createdAt', day.start),
    q.lt('createdAt', day.end),
  );
}

/** Orders of the day grouped by kind (sale, void) and payment method: how many, and their total. */
export function ordersByKindAndPayment(scope: ReportScope, day: DayRange) {
  return {
    filter: scopeFilter(scope, day),
    groupBy: ['kind', 'payment'],
    aggregates: { orders: { fn: 'count' }, total: { fn: 'sum', field: 'total' } },
  } as const;
}

/** Lines of the day grouped by product: quantity and amount, net of voids. */
export function itemsSoldByProduct(scope: ReportScope, day: DayRange) {
  return {
    filter: scopeFilter(scope, day),
    groupBy: ['productId'],
    aggregates: {
      name: { fn: 'max', field: 'name' },
      quantity: { fn: 'sum', field: 'quantity' },
      amount: { fn: 'sum', field: 'amount' },
    },
  } as const;
}

/** One row of {@link ordersByKindAndPayment}. */
export interface KindPaymentRow {
  readonly kind: unknown;
  readonly payment: unknown;
  readonly orders: number;
  readonly total: number;
}

/** Takings of one payment method (`unknown` for orders recorded before payments were). */
export interface PaymentTotals {
  readonly method: PaymentMethod | 'unknown';
  /** Sales paid this way (voids not counted). */
  readonly sales: number;
  /** Net of voids, in cents. */
  readonly total: number;
}

/** The day's summary. */
export interface DaySummary {
  readonly sales: { readonly count: number; readonly total: number };
  readonly voids: { readonly count: number; readonly total: number };
  /** Sales plus voids (voids are negative), in cents. */
  readonly net: number;
  /** Cash first, then card, then orders without a method; only methods that were used. */
  readonly byPayment: readonly PaymentTotals[];
}

const METHOD_ORDER: readonly PaymentTotals['method'][] = ['cash', 'card', 'unknown'];

/** Folds the rows of {@link ordersByKindAndPayment} into the day's summary. */
export function summarizeDay(rows: readonly KindPaymentRow[]): DaySummary {
  const sales = { count: 0, total: 0 };
  const voids = { count: 0, total: 0 };
  const methods = new Map<PaymentTotals['method'], { sales: number; total: number }>();
  for (const row of rows) {
    const isVoid = row.kind === 'void';
    const bucket = isVoid ? voids : sales;
    bucket.count += row.orders;
    bucket.total += row.total;
    const method = row.payment === 'cash' || row.payment === 'card' ? row.payment : 'unknown';
    const m = methods.get(method) ?? { sales: 0, total: 0 };
    if (!isVoid) m.sales += row.orders;
    m.total += row.total;
    methods.set(method, m);
  }
  return {
    sales,
    voids,
    net: sales.total + voids.total,
    byPayment: METHOD_ORDER.filter((m) => methods.has(m)).map((method) => ({
      method,
      ...(methods.get(method) as { sales: number; total: number }),
    })),
  };
}
