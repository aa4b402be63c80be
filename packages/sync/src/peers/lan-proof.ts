/**
 * Proofs of the device key for LAN signaling (the desktop shell's terminals, before any SDP crosses the LAN):
 * the device signs a 32-byte digest of the handshake's transcript, which the shell's main process computes.
 *
 * The device key is the one its certificate names and every transaction is signed with, so whatever asks for a
 * LAN proof (the shell's main process, through the preload) must not be able to obtain a signature that means
 * something else. Hence:
 * 1. **Fixed input.** Only a digest of exactly {@link LAN_PROOF_DIGEST_BYTES} bytes is signed; anything else is
 *    refused (`lan_proof_invalid`) and nothing is signed.
 * 2. **Domain separation.** What is signed is a context label of its own followed by the digest; every other
 *    signature of the device key (transactions, peer challenges) starts with another label, so no LAN proof is
 *    ever valid as one of them, nor the reverse.
 */
import { PeerError, PeerErrorCode } from '../errors';
import { type SigningKeys, sign, verify } from './keys';

/** Length of the digest a LAN proof signs (SHA-256). */
export const LAN_PROOF_DIGEST_BYTES = 32;
const LAN_PROOF_CONTEXT = new TextEncoder().encode('loam/lan-signaling-proof/1\u0000');

/** The bytes a LAN proof signs: its context label, then `digest`. Throws `lan_proof_invalid` for another size. */
export function lanProofMessage(digest: Uint8Array): Uint8Array {
  if (!(digest instanceof Uint8Array) || digest.length !== LAN_PROOF_DIGEST_BYTES)
    throw new PeerError(
      PeerErrorCode.lanProofInvalid,
      `A LAN signaling proof signs a digest of exactly ${LAN_PROOF_DIGEST_BYTES} bytes`,
    );
  const out = new Uint8Array(LAN_PROOF_CONTEXT.length + LAN_PROOF_DIGEST_BYTES);
  out.set(LAN_PROOF_CONTEXT);
  out.set(digest, LAN_PROOF_CONTEXT.length);
  return out;
}

/** Signs a LAN signaling digest with the device key (invariants 1 and 2). */
export async function signLanProof(
  keys: Pick<SigningKeys, 'privateKey'>,
  digest: Uint8Array,
): Promise<Uint8Array> {
  return sign(keys.privateKey, lanProofMessage(digest));
}

/** True when `signature` is `publicKey`'s LAN proof of `digest`; false for anything malformed. */
export async function verifyLanProof(
  publicKey: Uint8Array,
  digest: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (!(digest instanceof Uint8Array) || digest.length !== LAN_PROOF_DIGEST_BYTES) return false;
  return verify(publicKey, signature, lanProofMessage(digest));
}
