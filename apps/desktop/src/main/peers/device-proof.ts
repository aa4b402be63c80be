/**
 * How two terminals prove who they are before any SDP crosses the LAN: each signs a challenge with its device
 * key, and each judges the other's claim. Two small interfaces, so the LAN signaling does not care what stands
 * behind them:
 * - {@link DeviceProof}: this device's identity and the ability to sign with its key;
 * - {@link PeerVerifier}: whether a peer's claim (key, optional certificate) and its signature are acceptable.
 *
 * The implementations here are real Ed25519 over WebCrypto: a key pair made in this process (non-extractable),
 * and a verifier that checks the signature against the claimed key and then asks an `admit` policy. Device
 * certificates issued by the relay replace the policy with "signed by the relay, unexpired, unrevoked, same
 * store" and travel in `PeerClaim.certificate`.
 */
import { webcrypto } from 'node:crypto';

const subtle = webcrypto.subtle;

/** What a device claims about itself in the handshake. */
export interface PeerClaim {
  /** The replica id of the device's database. */
  readonly replica: string;
  /** Its Ed25519 public key, raw (32 bytes). */
  readonly publicKey: Uint8Array;
  /** Its device certificate, encoded, once the relay issues them. */
  readonly certificate?: Uint8Array;
}

/** A peer whose claim and signature were accepted. */
export interface VerifiedPeer {
  readonly replica: string;
  readonly publicKey: Uint8Array;
  /** {@link fingerprintOf} its public key (what its mDNS TXT record advertises). */
  readonly fingerprint: string;
}

/** This device's side of the handshake. */
export interface DeviceProof {
  readonly claim: PeerClaim;
  /** {@link fingerprintOf} `claim.publicKey`. */
  readonly fingerprint: string;
  /** Signs `message` with the device key. */
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** The verdict on a peer: accepted, or refused with a stable code and a reason a person can act on. */
export type PeerVerdict =
  | { readonly ok: true; readonly peer: VerifiedPeer }
  | { readonly ok: false; readonly code: 'proof_invalid' | 'peer_not_admitted'; readonly reason: string };

/** Judges a peer's claim and its signature over `message`. Never throws for bad input: it refuses it. */
export interface PeerVerifier {
  verify(claim: PeerClaim, message: Uint8Array, signature: Uint8Array): Promise<PeerVerdict>;
}

/** The fingerprint of a public key: base64url of its SHA-256, first 16 bytes (22 characters). */
export async function fingerprintOf(publicKey: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await subtle.digest('SHA-256', publicKey));
  return Buffer.from(digest.subarray(0, 16)).toString('base64url');
}

/** Makes an Ed25519 device key (private half non-extractable) for replica `replica`. */
export async function createEd25519DeviceProof(replica: string): Promise<DeviceProof> {
  const pair = (await subtle.generateKey({ name: 'Ed25519' }, false, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const publicKey = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
  return {
    claim: { replica, publicKey },
    fingerprint: await fingerprintOf(publicKey),
    async sign(message) {
      return new Uint8Array(await subtle.sign({ name: 'Ed25519' }, pair.privateKey, message));
    },
  };
}

/**
 * A verifier over bare Ed25519 keys: the signature must verify under the claimed key, then `admit` (default:
 * everyone) decides whether a verified peer may signal with this device at all.
 */
export function createKeyPeerVerifier(
  options: { readonly admit?: (peer: VerifiedPeer) => boolean } = {},
): PeerVerifier {
  return {
    async verify(claim, message, signature) {
      let valid = false;
      if (claim.publicKey.length === 32 && signature.length === 64) {
        try {
          const key = await subtle.importKey('raw', claim.publicKey, { name: 'Ed25519' }, false, ['verify']);
          valid = await subtle.verify({ name: 'Ed25519' }, key, signature, message);
        } catch {
          valid = false;
        }
      }
      if (!valid)
        return {
          ok: false,
          code: 'proof_invalid',
          reason: `${claim.replica} did not prove possession of its key`,
        };
      const peer = {
        replica: claim.replica,
        publicKey: claim.publicKey,
        fingerprint: await fingerprintOf(claim.publicKey),
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
