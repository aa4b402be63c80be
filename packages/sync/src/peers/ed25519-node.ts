/**
 * `node:crypto`'s synchronous Ed25519 signing as an {@link Ed25519Engine}: the same OpenSSL and the same bytes as
 * WebCrypto in Node, without a thread-pool job per signature. A non-extractable `CryptoKey` converts with
 * `KeyObject.from` (the key never leaves the process), once per key.
 */
import { KeyObject, sign } from 'node:crypto';
import type { Ed25519Engine } from './keys';

const privateKeys = new WeakMap<CryptoKey, KeyObject>();

/** Signs with `node:crypto` (installed by `@loam/sync/node`; pass it to `useEd25519Engine` to install it by hand). */
export const nodeEd25519: Ed25519Engine = {
  sign(cryptoKey, data) {
    if (cryptoKey.algorithm.name !== 'Ed25519' || !cryptoKey.usages.includes('sign'))
      throw new TypeError('The key is not an Ed25519 signing key');
    let key = privateKeys.get(cryptoKey);
    if (!key) {
      key = KeyObject.from(cryptoKey);
      privateKeys.set(cryptoKey, key);
    }
    return new Uint8Array(sign(null, data, key));
  },
};
