/**
 * Certified terminals for the LAN tests, without a relay process: a relay key pair made here signs device
 * certificates exactly as a relay does (`issueCertificate` of `@loam/sync`), so a test can make terminals of one
 * relay, of another relay, or with an expired certificate. Not part of the app.
 */
import { asReplicaId, type Claims } from '@loam/core';
import {
  createFileKeyStore,
  createSigningKeys,
  issueCertificate,
  type SigningKeys,
  signLanProof,
} from '@loam/sync/node';
import {
  type CertificateBytes,
  createCertificateVerifier,
  createKeyDeviceProof,
  type DeviceProof,
  type PeerVerifier,
  type VerifiedPeer,
} from '../src/main/peers/device-proof';
import type { LanProver, PeersIdentity } from '../src/shared/contract';

const DAY = 24 * 60 * 60 * 1000;

/** A relay's signing key, as a test holds it. */
export interface TestRelayKey {
  readonly keys: SigningKeys;
}

/** A replica id (16 characters of [0-9a-z]) that reads as `name`: `till-a` → `tilla00000000000`. */
export function replicaOf(name: string): string {
  return asReplicaId(
    name
      .replace(/[^0-9a-z]/g, '')
      .padEnd(16, '0')
      .slice(0, 16),
  );
}

/** Makes a relay key. */
export async function createRelayKey(): Promise<TestRelayKey> {
  return { keys: await createSigningKeys() };
}

let serial = 0;

/** A terminal's key pair and its certificate. */
export interface TestTerminal {
  readonly replica: string;
  readonly keys: SigningKeys;
  readonly certificate: CertificateBytes;
}

/**
 * Certifies a key pair for `replica` with `relay`'s key: a fresh one, or the one kept in `keyFile` (so a child
 * process can open the same key, `createFileKeyStore`); `expires` defaults to a day from now.
 */
export async function certifyTerminal(
  relay: TestRelayKey,
  replica: string,
  options: {
    readonly expires?: number;
    readonly notBefore?: number;
    readonly user?: string;
    readonly keyFile?: string;
    readonly claims?: Record<string, unknown>;
  } = {},
): Promise<TestTerminal> {
  const keys = options.keyFile
    ? await createFileKeyStore(options.keyFile).deviceKeys()
    : await createSigningKeys();
  const now = Date.now();
  const signed = await issueCertificate(relay.keys.privateKey, {
    serial: ++serial,
    replica: asReplicaId(replica),
    publicKey: keys.publicKey,
    user: options.user ?? `clerk-${replica.slice(0, 5)}`,
    claims: (options.claims ?? { shop: 7 }) as Claims,
    rulesVersion: 1,
    notBefore: options.notBefore ?? now - DAY,
    expires: options.expires ?? now + DAY,
  });
  return { replica, keys, certificate: { bytes: signed.bytes, signature: signed.signature } };
}

/** The terminal's LAN proof. */
export function proofOf(terminal: TestTerminal): Promise<DeviceProof> {
  return createKeyDeviceProof(terminal.replica, terminal.keys, terminal.certificate);
}

/** A verifier that trusts `relay` (and, optionally, names revoked replicas or admits some peers only). */
export function verifierOf(
  relay: TestRelayKey,
  options: { readonly revoked?: readonly string[]; readonly admit?: (peer: VerifiedPeer) => boolean } = {},
): PeerVerifier {
  const revoked = new Set(options.revoked ?? []);
  return createCertificateVerifier({
    trust: () => ({ relayKey: relay.keys.publicKey, revoked }),
    ...(options.admit ? { admit: options.admit } : {}),
  });
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const unb64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64url'));

/** A terminal's certificate and the relay key it trusts, as text for a child process (`lan-peer-process.ts`). */
export function exportTerminal(terminal: TestTerminal, trusted: TestRelayKey): string {
  return JSON.stringify({
    replica: terminal.replica,
    certificate: b64(terminal.certificate.bytes),
    certificateSignature: b64(terminal.certificate.signature),
    relayKey: b64(trusted.keys.publicKey),
  });
}

/** Reads what {@link exportTerminal} wrote; the key pair comes from `keyFile`. */
export async function importTerminal(
  text: string,
  keyFile: string,
): Promise<{ terminal: TestTerminal; relayKey: Uint8Array }> {
  const o = JSON.parse(text) as Record<string, string>;
  return {
    terminal: {
      replica: o.replica as string,
      keys: await createFileKeyStore(keyFile).deviceKeys(),
      certificate: {
        bytes: unb64(o.certificate as string),
        signature: unb64(o.certificateSignature as string),
      },
    },
    relayKey: unb64(o.relayKey as string),
  };
}

/** What the app hands `loamDesktop.peers.start` for `terminal` (trusting `relay`), and its prover. */
export function shellIdentity(
  terminal: TestTerminal,
  relay: TestRelayKey,
): { identity: PeersIdentity; prove: LanProver } {
  return {
    identity: {
      publicKey: b64(terminal.keys.publicKey),
      certificate: b64(terminal.certificate.bytes),
      certificateSignature: b64(terminal.certificate.signature),
      relayKey: b64(relay.keys.publicKey),
    },
    prove: (digest) => signLanProof(terminal.keys, digest),
  };
}
