/**
 * Where a device keeps its key pair. Adapters: `key-store-indexeddb.ts` (browser: the non-extractable `CryptoKey`
 * stored by structured clone, through Dexie) and `key-store-file.ts` (Node and Electron main: a file in the
 * database folder).
 *
 * Invariants:
 * 1. **One key pair per store, for good.** `deviceKeys` makes the pair the first time and returns the same pair
 *    on every later call, across restarts; concurrent first calls agree on one pair.
 * 2. **The private key is usable, never readable**: what `deviceKeys` returns is non-extractable.
 */
import type { SigningKeys } from './keys';

/** A device's persisted key pair; see the module documentation. */
export interface KeyStore {
  /** The stored key pair, made and persisted on the first call. */
  deviceKeys(): Promise<SigningKeys>;
}
