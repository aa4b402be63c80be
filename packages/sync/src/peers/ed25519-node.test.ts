import { afterEach, describe, expect, it } from 'vitest';
import { nodeEd25519 } from './ed25519-node';
import { createSigningKeys, rawPublicKey, sign, useEd25519Engine, verify } from './keys';

afterEach(() => useEd25519Engine(undefined));

describe("node:crypto's Ed25519 behind sign", () => {
  it('gives the bytes WebCrypto gives for a non-extractable key, which verify', async () => {
    const keys = await createSigningKeys();
    const other = await createSigningKeys();
    for (const data of [
      new Uint8Array(0),
      new TextEncoder().encode('a sale'),
      new Uint8Array(5000).fill(7),
    ]) {
      const web = await sign(keys.privateKey, data);
      useEd25519Engine(nodeEd25519);
      const fast = await sign(keys.privateKey, data);
      expect(fast).toEqual(web);
      expect(await verify(keys.publicKey, web, data)).toBe(true);
      expect(await verify(other.publicKey, web, data)).toBe(false);
      const tampered = web.slice();
      tampered[10] = (tampered[10] as number) ^ 1;
      expect(await verify(keys.publicKey, tampered, data)).toBe(false);
      expect(await verify(keys.publicKey.slice(0, 31), web, data)).toBe(false);
      useEd25519Engine(undefined);
      expect(await verify(keys.publicKey, fast, data)).toBe(true);
    }
  });

  it('refuses to sign with a key that is not an Ed25519 signing key', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    expect(() => nodeEd25519.sign(pair.publicKey, new Uint8Array(1))).toThrow(/not an Ed25519 signing key/);
    const signature = nodeEd25519.sign(pair.privateKey, new Uint8Array(1));
    expect(await verify(await rawPublicKey(pair.publicKey), signature, new Uint8Array(1))).toBe(true);
  });
});
