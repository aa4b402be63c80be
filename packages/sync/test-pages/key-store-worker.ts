/**
 * A test worker for `key-store-indexeddb.browser.test.ts`: opens the IndexedDB key store and reports what a
 * device would use. Exposed over Comlink; not part of the package's API.
 */
import { createIndexedDbKeyStore } from '@loam/sync';
import * as Comlink from 'comlink';

const api = {
  ping: async () => true,
  /** The stored key pair of `name`: its public key, whether the private key is extractable, and a signature. */
  async keys(name: string) {
    const keys = await createIndexedDbKeyStore(name).deviceKeys();
    const data = new TextEncoder().encode('challenge');
    const signature = new Uint8Array(await crypto.subtle.sign('Ed25519', keys.privateKey, data));
    const publicKey = await crypto.subtle.importKey('raw', keys.publicKey as BufferSource, 'Ed25519', true, [
      'verify',
    ]);
    return {
      publicKey: [...keys.publicKey],
      extractable: keys.privateKey.extractable,
      verifies: await crypto.subtle.verify('Ed25519', publicKey, signature, data),
    };
  },
};

Comlink.expose(api);
