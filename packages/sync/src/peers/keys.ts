/**
 * Device and relay keys: Ed25519 through WebCrypto (`crypto.subtle`, in Node 20+ and Chromium), the one signing
 * primitive every peer format (certificates, revocation lists, signed transactions, peer challenges) uses.
 *
 * Invariants:
 * 1. **The private key never leaves WebCrypto.** `createSigningKeys` makes a non-extractable private key; a key
 *    store persists it by structured clone (IndexedDB) or, in Node, imports it non-extractable from its file.
 * 2. **Public keys travel raw**: the 32 bytes of the Ed25519 point.
 */

/** A key pair that signs: the private key stays inside WebCrypto; the public key is its 32 raw bytes. */
export interface SigningKeys {
  readonly privateKey: CryptoKey;
  readonly publicKey: Uint8Array;
}

const ED25519 = 'Ed25519';
/** Length of an Ed25519 public key. */
export const PUBLIC_KEY_BYTES = 32;
/** Length of an Ed25519 signature. */
export const SIGNATURE_BYTES = 64;

/** The raw bytes of a public key. */
export async function rawPublicKey(key: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey('raw', key));
}

/** Makes a new key pair; the private key is non-extractable unless `extractable` (used only to write a key file). */
export async function createSigningKeys(extractable = false): Promise<SigningKeys> {
  const pair = (await crypto.subtle.generateKey({ name: ED25519 }, extractable, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  return { privateKey: pair.privateKey, publicKey: await rawPublicKey(pair.publicKey) };
}

/**
 * A synchronous Ed25519 signer of the platform, giving the same bytes as WebCrypto's. Node runs each `crypto.subtle`
 * call as a thread-pool job (0.24 ms a signature in `npm run bench -- "peers: sign one"`, against 0.08 ms for
 * `node:crypto`'s synchronous call), so `@loam/sync/node` installs `node:crypto`'s; the browser keeps WebCrypto.
 * Verifying stays on WebCrypto everywhere: a session verifies a received batch side by side, which the thread pool
 * spreads over the cores (0.14 ms a transaction, against 0.21 ms one after the other synchronously).
 */
export interface Ed25519Engine {
  sign(key: CryptoKey, data: Uint8Array): Uint8Array;
}

let engine: Ed25519Engine | undefined;

/** Makes `sign` use `e` (undefined: WebCrypto again). */
export function useEd25519Engine(e: Ed25519Engine | undefined): void {
  engine = e;
}

/** Signs `data` with `key` (Ed25519: 64 bytes). */
export async function sign(key: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  if (engine) return engine.sign(key, data);
  return new Uint8Array(await crypto.subtle.sign(ED25519, key, data as BufferSource));
}

const imported = new Map<string, Promise<CryptoKey>>();
const MAX_IMPORTED = 1024;

function importPublicKey(raw: Uint8Array): Promise<CryptoKey> {
  const id = hex(raw);
  let key = imported.get(id);
  if (!key) {
    if (imported.size >= MAX_IMPORTED) imported.clear();
    key = crypto.subtle.importKey('raw', raw as BufferSource, { name: ED25519 }, true, ['verify']);
    imported.set(id, key);
  }
  return key;
}

/** True when `signature` is `publicKey`'s signature of `data`; false for anything malformed. */
export async function verify(
  publicKey: Uint8Array,
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  try {
    return await crypto.subtle.verify(
      ED25519,
      await importPublicKey(publicKey),
      signature as BufferSource,
      data as BufferSource,
    );
  } catch {
    return false;
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lower-case hex of `bytes` (fingerprints, map keys). */
export function hex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += HEX[b] as string;
  return out;
}

/** Imports a PKCS#8 Ed25519 private key as non-extractable, with its public key. */
export async function importSigningKeys(pkcs8: Uint8Array, publicKey: Uint8Array): Promise<SigningKeys> {
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8 as BufferSource, { name: ED25519 }, false, [
    'sign',
  ]);
  return { privateKey, publicKey };
}

/** The PKCS#8 bytes of an extractable private key (only to write a key file). */
export async function exportPrivateKey(key: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey('pkcs8', key));
}
