import { describe, expect, it } from 'vitest';
import { changeDue, quickAmounts } from './payment';

describe('payment', () => {
  it('gives change in exact cents, and none when too little is handed over', () => {
    expect(changeDue(680, 1000)).toBe(320);
    expect(changeDue(680, 680)).toBe(0);
    expect(changeDue(680, 679)).toBeUndefined();
    expect(changeDue(680, 1000.5)).toBeUndefined();
  });

  it('offers the exact amount and the round notes above it', () => {
    expect(quickAmounts(680)).toEqual([680, 1000, 2000, 5000]);
    expect(quickAmounts(1395)).toEqual([1395, 1500, 2000, 5000]);
    expect(quickAmounts(2000)).toEqual([2000, 2500, 3000, 4000, 5000]);
  });
});
