import { describe, expect, it } from 'vitest';
import { DEVICE_CODE_ALPHABET, isDeviceCode, newDeviceCode, ticketNumber } from './ticket';

describe('ticket numbers', () => {
  it('reads as terminal, device and sequence', () => {
    expect(ticketNumber('1', 'K7QM', 42)).toBe('T1-K7QM-0042');
    expect(ticketNumber('12', '0000', 12345)).toBe('T12-0000-12345');
  });

  it('draws device codes over the whole alphabet, without letters mistaken for digits', () => {
    const seen = new Set<string>();
    for (let byte = 0; byte < 256; byte++) {
      const code = newDeviceCode((bytes) => bytes.fill(byte));
      expect(isDeviceCode(code)).toBe(true);
      seen.add(code[0] ?? '');
    }
    expect([...seen].sort().join('')).toBe([...DEVICE_CODE_ALPHABET].sort().join(''));
    expect(DEVICE_CODE_ALPHABET).not.toMatch(/[ILOU]/);
    expect(isDeviceCode('K7QO')).toBe(false);
    expect(isDeviceCode('k7qm')).toBe(false);
    expect(new Set(Array.from({ length: 50 }, () => newDeviceCode())).size).toBeGreaterThan(45);
  });
});
