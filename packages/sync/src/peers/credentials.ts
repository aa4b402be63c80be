/**
 * What a replica needs to take part in peer sync, as sync persists it (`SyncStatePort`): its device certificate,
 * the relay's public key, and the newest signed revocation list it has seen (from the relay or from a peer).
 *
 * Invariants:
 * 1. **Only checked credentials are kept.** A certificate is saved only when it is this replica's, for this
 *    device's key, and signed by the relay key it came with (whatever this device's clock says of its validity
 *    window: it is the relay's); a revocation list only when the relay key signed it.
 * 2. **Revocations only move forward**: a list replaces the kept one only when its version is higher.
 */
import type { ReplicaId } from '@loam/core';
import type { SyncStatePort } from '../port/sync-store';
import {
  readSignedCertificate,
  type SignedCertificate,
  type SignedRevocationList,
  verifyCertificate,
  verifyRevocationList,
} from './certificate';

const CERT_KEY = 'peer.certificate';
const REVOCATIONS_KEY = 'peer.revocations';

/** A replica's peer credentials. */
export interface PeerCredentials {
  readonly certificate: SignedCertificate;
  readonly relayKey: Uint8Array;
  readonly revocations: SignedRevocationList | undefined;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The stored credentials, or undefined before the relay certified this device. */
export async function loadCredentials(store: SyncStatePort): Promise<PeerCredentials | undefined> {
  const saved = (await store.readState(CERT_KEY)) as
    | { cert: Uint8Array; sig: Uint8Array; relayKey: Uint8Array }
    | undefined;
  if (!saved) return undefined;
  const list = (await store.readState(REVOCATIONS_KEY)) as { list: Uint8Array; sig: Uint8Array } | undefined;
  return {
    certificate: readSignedCertificate(saved.cert, saved.sig),
    relayKey: saved.relayKey,
    revocations: list ? await verifyRevocationList(list.list, list.sig, saved.relayKey) : undefined,
  };
}

/**
 * Saves a certificate from the relay when it is this replica's, for `publicKey`, and signed by `relayKey`;
 * resolves with it, or undefined (nothing saved) otherwise.
 */
export async function saveCertificate(
  store: SyncStatePort,
  expected: { readonly replica: ReplicaId; readonly publicKey: Uint8Array; readonly now: () => number },
  frame: { readonly cert: Uint8Array; readonly sig: Uint8Array; readonly relayKey: Uint8Array },
): Promise<SignedCertificate | undefined> {
  let signed: SignedCertificate;
  try {
    signed = readSignedCertificate(frame.cert, frame.sig);
  } catch {
    return undefined;
  }
  if (signed.cert.replica !== expected.replica || !equal(signed.cert.publicKey, expected.publicKey))
    return undefined;
  // The relay just issued it, by its own clock: a device whose clock lags the relay's must keep it all the same
  // (peers judge its validity with their skew bound), so only its signature is checked here.
  const checked = await verifyCertificate(
    signed,
    { relayKey: frame.relayKey, now: expected.now, revoked: () => false },
    Number.POSITIVE_INFINITY,
  );
  if (!checked.ok) return undefined;
  await store.writeState(CERT_KEY, { cert: frame.cert, sig: frame.sig, relayKey: frame.relayKey });
  return signed;
}

/**
 * Keeps a revocation list when `relayKey` signed it and it is newer than the kept one; resolves with the list
 * now in force (undefined when none is known).
 */
export async function saveRevocations(
  store: SyncStatePort,
  relayKey: Uint8Array,
  frame: { readonly list: Uint8Array; readonly sig: Uint8Array },
): Promise<SignedRevocationList | undefined> {
  const incoming = await verifyRevocationList(frame.list, frame.sig, relayKey);
  const kept = (await store.readState(REVOCATIONS_KEY)) as { list: Uint8Array; sig: Uint8Array } | undefined;
  const current = kept ? await verifyRevocationList(kept.list, kept.sig, relayKey) : undefined;
  if (!incoming || (current && current.list.version >= incoming.list.version)) return current;
  await store.writeState(REVOCATIONS_KEY, { list: frame.list, sig: frame.sig });
  return incoming;
}
