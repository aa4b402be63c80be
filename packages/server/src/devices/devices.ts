/**
 * The relay's device authority: its Ed25519 key, the device certificates it issues at sign-in, and the signed,
 * versioned revocation list (`POST /v1/devices/:replica/revoke`). Formats and checks are `@loam/sync`'s (one
 * verifier for client, peer and relay).
 *
 * Invariants:
 * 1. **One key.** The key is read from `keyFile`, or made and written there on first start; every certificate and
 *    revocation list is signed by it. Nodes of one cluster must share the file.
 * 2. **Revocation only grows.** A revoked replica stays revoked: it gets no new certificate, its forwarded
 *    transactions are refused, and every later list (a higher `version`) still names it.
 * 3. **Serials grow**: a certificate's serial is above every serial this process issued before
 *    (milliseconds × 1024 plus a counter).
 *
 * The list is kept beside the key (`<keyFile>.revocations`, written to a temporary name then renamed).
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { Claims, ReplicaId, Rules } from '@loam/core';
import {
  issueCertificate,
  issueRevocationList,
  rulesVersion,
  type SignedCertificate,
  type SignedRevocationList,
  type SigningKeys,
  type Trust,
  verifyRevocationList,
} from '@loam/sync';
import { createFileKeyStore } from '@loam/sync/node';

/** The relay's device authority; see the module documentation. */
export interface Devices {
  /** The public key devices and peers check certificates with. */
  readonly publicKey: Uint8Array;
  /** What the relay trusts when it checks a forwarded transaction. */
  readonly trust: Trust;
  /** Issues a certificate; undefined when the replica is revoked. */
  issue(input: {
    replica: ReplicaId;
    publicKey: Uint8Array;
    user: string;
    claims: Claims;
  }): Promise<SignedCertificate | undefined>;
  /** The current signed revocation list. */
  revocations(): SignedRevocationList;
  /** Revokes a replica's certificates (idempotent); resolves with the new list. */
  revoke(replica: ReplicaId): Promise<SignedRevocationList>;
  /** Called with each new revocation list. Returns the unsubscribe function. */
  onRevocations(listener: (list: SignedRevocationList) => void): () => void;
  /** How long a certificate is valid (ms). */
  readonly certificateMs: number;
}

async function readList(path: string, keys: SigningKeys): Promise<SignedRevocationList | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const lengths = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length >= 4 ? lengths.getUint32(0) : 0;
  const list = await verifyRevocationList(bytes.subarray(4, 4 + n), bytes.subarray(4 + n), keys.publicKey);
  if (!list) throw new Error(`${path} is not a revocation list signed by this relay's key`);
  return list;
}

async function writeList(path: string, list: SignedRevocationList): Promise<void> {
  const out = new Uint8Array(4 + list.bytes.length + list.signature.length);
  new DataView(out.buffer).setUint32(0, list.bytes.length);
  out.set(list.bytes, 4);
  out.set(list.signature, 4 + list.bytes.length);
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, out, { mode: 0o600 });
  await rename(temp, path);
}

/** Opens (creating on first start) the device authority kept in `keyFile`. */
export async function openDevices(options: {
  readonly keyFile: string;
  readonly certificateMs: number;
  readonly rules: Rules;
  readonly now: () => number;
}): Promise<Devices> {
  const { now, certificateMs } = options;
  const keys = await createFileKeyStore(options.keyFile).deviceKeys();
  const listPath = `${options.keyFile}.revocations`;
  let list =
    (await readList(listPath, keys)) ??
    (await issueRevocationList(keys.privateKey, { version: 0, issuedAt: now(), replicas: [] }));
  let revoked = new Set<string>(list.list.replicas);
  const listeners = new Set<(list: SignedRevocationList) => void>();
  const version = rulesVersion(options.rules);
  let lastSerial = 0;
  let chain: Promise<unknown> = Promise.resolve();

  return {
    publicKey: keys.publicKey,
    certificateMs,
    trust: { relayKey: keys.publicKey, now, revoked: (replica) => revoked.has(replica) },
    async issue({ replica, publicKey, user, claims }) {
      if (revoked.has(replica)) return undefined;
      const at = now();
      lastSerial = Math.max(lastSerial + 1, at * 1024);
      return issueCertificate(keys.privateKey, {
        serial: lastSerial,
        replica,
        publicKey,
        user,
        claims,
        rulesVersion: version,
        notBefore: at,
        expires: at + certificateMs,
      });
    },
    revocations: () => list,
    revoke(replica) {
      const run = chain.then(async () => {
        if (revoked.has(replica)) return list;
        const next = await issueRevocationList(keys.privateKey, {
          version: list.list.version + 1,
          issuedAt: now(),
          replicas: [...list.list.replicas, replica],
        });
        await writeList(listPath, next);
        list = next;
        revoked = new Set(next.list.replicas);
        for (const listener of listeners) listener(next);
        return next;
      });
      chain = run.catch(() => undefined);
      return run;
    },
    onRevocations(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}
