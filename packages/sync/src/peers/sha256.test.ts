import { describe, expect, it } from 'vitest';
import { hex } from './keys';
import { sha256Sync } from './sha256';

const text = (s: string) => new TextEncoder().encode(s);

describe('sha256Sync', () => {
  it('gives the standard digests of the FIPS 180-4 examples', () => {
    expect(hex(sha256Sync(text('')))).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(hex(sha256Sync(text('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(hex(sha256Sync(text('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('equals WebCrypto on inputs of every length around the block boundaries, and a long one', async () => {
    const lengths = [...Array.from({ length: 140 }, (_, i) => i), 1000, 70_001];
    for (const length of lengths) {
      const data = crypto.getRandomValues(new Uint8Array(Math.min(length, 65_536)));
      const input = length > 65_536 ? new Uint8Array([...data, ...data.subarray(0, length - 65_536)]) : data;
      const want = new Uint8Array(await crypto.subtle.digest('SHA-256', input));
      expect(hex(sha256Sync(input)), `length ${length}`).toBe(hex(want));
    }
  });
});
