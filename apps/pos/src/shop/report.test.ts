import { evaluateFilter } from '@loam/core';
import { describe, expect, it } from 'vitest';
import { dayOf, ordersByKindAndPayment, summarizeDay } from './report';

describe('the day report', () => {
  it('covers local midnight to the next, for one till or the whole store', () => {
    const day = dayOf(new Date(2025, 2, 30, 15, 20));
    expect(day.start).toEqual(new Date(2025, 2, 30));
    expect(day.end).toEqual(new Date(2025, 2, 31));
    const till = ordersByKindAndPayment({ storeId: 's1', terminal: '2' }, day).filter;
    const store = ordersByKindAndPayment({ storeId: 's1' }, day).filter;
    const at = (h: number, terminal = '2', storeId = 's1') => ({
      id: 'o',
      storeId,
      terminal,
      createdAt: new Date(2025, 2, 30, h).getTime(),
    });
    expect(evaluateFilter(till, at(0))).toBe(true);
    expect(evaluateFilter(till, at(23))).toBe(true);
    expect(evaluateFilter(till, at(24))).toBe(false);
    expect(evaluateFilter(till, at(-1))).toBe(false);
    expect(evaluateFilter(till, at(12, '1'))).toBe(false);
    expect(evaluateFilter(store, at(12, '1'))).toBe(true);
    expect(evaluateFilter(store, at(12, '1', 's2'))).toBe(false);
  });

  it('nets voids against sales per payment method, and counts sales only once', () => {
    const summary = summarizeDay([
      { kind: 'sale', payment: 'cash', orders: 3, total: 1500 },
      { kind: 'sale', payment: 'card', orders: 2, total: 2400 },
      { kind: 'void', payment: 'card', orders: 1, total: -900 },
      { kind: null, payment: null, orders: 1, total: 250 },
    ]);
    expect(summary).toEqual({
      sales: { count: 6, total: 4150 },
      voids: { count: 1, total: -900 },
      net: 3250,
      byPayment: [
        { method: 'cash', sales: 3, total: 1500 },
        { method: 'card', sales: 2, total: 1500 },
        { method: 'unknown', sales: 1, total: 250 },
      ],
    });
    expect(summarizeDay([])).toEqual({
      sales: { count: 0, total: 0 },
      voids: { count: 0, total: 0 },
      net: 0,
      byPayment: [],
    });
  });
});
