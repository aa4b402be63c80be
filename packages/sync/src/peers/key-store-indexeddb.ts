/**
 * The browser's key store: the non-extractable private `CryptoKey` persisted by structured clone in IndexedDB
 * (through Dexie), beside the OPFS database. A `CryptoKey` cannot be exported, so this is the only way it survives
 * a reload.
 */
import Dexie, { type Table } from 'dexie';
import type { KeyStore } from './key-store';
import { createSigningKeys, type SigningKeys } from './keys';

interface KeyRow {
  readonly id: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: Uint8Array;
}

const KEY_ID = 'device';

/** Creates the key store of the database `name` (an IndexedDB database `loam-keys-<name>`). */
export function createIndexedDbKeyStore(name: string, indexedDB?: IDBFactory): KeyStore {
  const db = new Dexie(`loam-keys-${name}`, indexedDB ? { indexedDB } : undefined);
  db.version(1).stores({ keys: 'id' });
  const keys = db.table('keys') as Table<KeyRow, string>;
  let pending: Promise<SigningKeys> | undefined;
  return {
    deviceKeys() {
      pending ??= db.transaction('rw', keys, async () => {
        const row = await keys.get(KEY_ID);
        if (row) return { privateKey: row.privateKey, publicKey: row.publicKey };
        const made = await createSigningKeys();
        await keys.put({ id: KEY_ID, ...made });
        return made;
      });
      pending.catch(() => {
        pending = undefined;
      });
      return pending;
    },
  };
}
