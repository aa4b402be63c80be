/**
 * How two terminals prove who they are before any SDP crosses the LAN: each presents the device certificate its
 * relay issued and signs a digest of the handshake with the certified key; each judges the other's. Two small
 * interfaces, so the LAN signaling does not care what stands behind them:
 * - {@link DeviceProof}: this device's claim (replica, key, certificate) and the ability to prove its key;
 * - {@link PeerVerifier}: whether a peer's claim and proof are acceptable.
 *
 * In the shell the device key lives in the renderer's database worker (non-extractable, IndexedDB), so the
 * shell's proof asks the renderer to sign ({@link createDeviceProof} over the preload's `prove`); what is signed
 * is always `lanProofMessage(digest)` of `@loam/sync`: a 32-byte digest under a label of its own, never anything
 * a transaction or peer challenge could mean.
 *
 * {@link createCertificateVerifier} admits a peer only when, in this order: it presented a certificate; the
 * certificate is signed by this device's relay key; it is within its validity (give or take `graceMs`); the
 * relay's revocation list does not name it; it names the claimed replica and key; and the proof verifies under
 * that key. A certificate from another relay, expired or revoked is refused with its own code.
 */
import { webcrypto } from 'node:crypto';
import type { Claims } from '@loam/core';
import {
  PeerErrorCode,
  readSignedCertificate,
  type SignedCertificate,
  type SigningKeys,
  signLanProof,
  verifyCertificate,
  verifyLanProof,
} from '@loam/sync';

/** A device certificate as it travels: the relay-signed bytes and the relay's signature. */
export interface CertificateBytes {
  readonly bytes: Uint8Array;
  readonly signature: Uint8Array;
}

/** What a device claims about itself in the handshake. */
export interface PeerClaim {
  /** The replica id of the device's database. */
  readonly replica: string;
  /** Its Ed25519 public key, raw (32 bytes). */
  readonly publicKey: Uint8Array;
  /** Its device certificate (absent: the peer is refused). */
  readonly certificate?: CertificateBytes;
}

/** A peer whose certificate and proof were accepted. */
export interface VerifiedPeer {
  readonly replica: string;
  readonly publicKey: Uint8Array;
  /** {@link fingerprintOf} its public key (what its mDNS TXT record advertises). */
  readonly fingerprint: string;
  /** The user its certificate names. */
  readonly user: string;
  /** When its certificate expires (ms since epoch). */
  readonly expires: number;
  /** The claims its certificate names (what the relay's `peers` rules group devices by). */
  readonly claims: Claims;
}

/** This device's side of the handshake. */
export interface DeviceProof {
  readonly claim: PeerClaim;
  /** {@link fingerprintOf} `claim.publicKey`. */
  readonly fingerprint: string;
  /** Signs `lanProofMessage(digest)` (`digest`: 32 bytes) with the device key. */
  prove(digest: Uint8Array): Promise<Uint8Array>;
}

/** Why a peer was refused. */
export type PeerRefusalCode =
  | 'proof_invalid'
  | 'peer_not_admitted'
  | typeof PeerErrorCode.certInvalid
  | typeof PeerErrorCode.certExpired
  | typeof PeerErrorCode.certNotYetValid
  | typeof PeerErrorCode.certRevoked;

/** The verdict on a peer: accepted, or refused with a stable code and a reason a person can act on. */
export type PeerVerdict =
  | { readonly ok: true; readonly peer: VerifiedPeer }
  | { readonly ok: false; readonly code: PeerRefusalCode; readonly reason: string };

/** Judges a peer's claim and its proof over `digest`. Never throws for bad input: it refuses it. */
export interface PeerVerifier {
  verify(claim: PeerClaim, digest: Uint8Array, proof: Uint8Array): Promise<PeerVerdict>;
}

/** The fingerprint of a public key: base64url of its SHA-256, first 16 bytes (22 characters). */
export async function fingerprintOf(publicKey: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await webcrypto.subtle.digest('SHA-256', publicKey));
  return Buffer.from(digest.subarray(0, 16)).toString('base64url');
}

/** A proof whose signing is done elsewhere (in the shell: by the renderer's worker, through the preload). */
export async function createDeviceProof(
  claim: PeerClaim,
  prove: (digest: Uint8Array) => Promise<Uint8Array>,
): Promise<DeviceProof> {
  return { claim, fingerprint: await fingerprintOf(claim.publicKey), prove };
}

/** A proof by a key pair held in this process (a terminal process of the tests, a Node terminal). */
export function createKeyDeviceProof(
  replica: string,
  keys: SigningKeys,
  certificate?: CertificateBytes,
): Promise<DeviceProof> {
  return createDeviceProof(
    { replica, publicKey: keys.publicKey, ...(certificate ? { certificate } : {}) },
    (digest) => signLanProof(keys, digest),
  );
}

/** What a certificate verifier trusts, read afresh on every verdict (the renderer may renew any of it). */
export interface CertificateTrust {
  /** The relay's Ed25519 public key (32 bytes): the one this device's own certificate is signed by. */
  readonly relayKey: Uint8Array;
  /** Replicas the newest revocation list this device holds names. */
  readonly revoked: ReadonlySet<string>;
}

/** Options of {@link createCertificateVerifier}. */
export interface CertificateVerifierOptions {
  readonly trust: () => CertificateTrust;
  readonly now?: () => number;
  /** Clock skew allowed around a certificate's validity window, ms (default 60 000, as the peer engine's). */
  readonly graceMs?: number;
  /** A further policy on verified peers (default: every certified peer of this relay). */
  readonly admit?: (peer: VerifiedPeer) => boolean;
}

const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

/** Admits peers certified by this device's relay (see the module documentation for the order of checks). */
export function createCertificateVerifier(options: CertificateVerifierOptions): PeerVerifier {
  const now = options.now ?? Date.now;
  const graceMs = options.graceMs ?? 60_000;
  return {
    async verify(claim, digest, proof) {
      if (!claim.certificate)
        return {
          ok: false,
          code: PeerErrorCode.certInvalid,
          reason: `${claim.replica} presented no device certificate: it must sign in to the relay once`,
        };
      let signed: SignedCertificate;
      try {
        signed = readSignedCertificate(claim.certificate.bytes, claim.certificate.signature);
      } catch (error) {
        return { ok: false, code: PeerErrorCode.certInvalid, reason: (error as Error).message };
      }
      const trust = options.trust();
      const checked = await verifyCertificate(
        signed,
        { relayKey: trust.relayKey, now, revoked: (r) => trust.revoked.has(r) },
        graceMs,
      );
      if (!checked.ok)
        return {
          ok: false,
          code: checked.code as PeerRefusalCode,
          reason:
            checked.code === PeerErrorCode.certInvalid
              ? `${checked.reason} (a terminal of another relay or shop)`
              : checked.reason,
        };
      const cert = checked.value;
      if (cert.replica !== claim.replica || !equalBytes(cert.publicKey, claim.publicKey))
        return {
          ok: false,
          code: PeerErrorCode.certInvalid,
          reason: `${claim.replica} presented the certificate of another device (${cert.replica})`,
        };
      if (!(await verifyLanProof(cert.publicKey, digest, proof)))
        return {
          ok: false,
          code: 'proof_invalid',
          reason: `${claim.replica} did not prove possession of its certified key`,
        };
      const peer: VerifiedPeer = {
        replica: cert.replica,
        publicKey: cert.publicKey,
        fingerprint: await fingerprintOf(cert.publicKey),
        user: cert.user,
        expires: cert.expires,
        claims: cert.claims,
      };
      if (options.admit && !options.admit(peer))
        return {
          ok: false,
          code: 'peer_not_admitted',
          reason: `${claim.replica} is not a peer of this terminal`,
        };
      return { ok: true, peer };
    },
  };
}
