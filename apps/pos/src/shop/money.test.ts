import { describe, expect, it } from 'vitest';
import { formatCents, parseCents } from './money';

describe('money', () => {
  it('formats cents in the store currency', () => {
    expect(formatCents(1250, 'EUR')).toBe('€12.50');
    expect(formatCents(5, 'EUR')).toBe('€0.05');
  });

  it('parses typed prices into cents', () => {
    expect(parseCents('12.5')).toBe(1250);
    expect(parseCents('12,05')).toBe(1205);
    expect(parseCents('€ 3')).toBe(300);
    expect(parseCents('0.1')).toBe(10);
  });

  it('rejects what is not an amount', () => {
    expect(parseCents('')).toBeUndefined();
    expect(parseCents('abc')).toBeUndefined();
    expect(parseCents('1.234')).toBeUndefined();
    expect(parseCents('-2')).toBeUndefined();
  });
});
