import { describe, expect, it } from 'vitest';
import { PeerErrorCode } from '../errors';
import { issueCertificate } from './certificate';
import { createSigningKeys } from './keys';
import { LAN_PROOF_DIGEST_BYTES, signLanProof, verifyLanProof } from './lan-proof';
import { signTransaction, verifyTransaction } from './signed-transaction';

describe('LAN signaling proofs', () => {
  it('sign a 32-byte digest only, under a label of their own', async () => {
    const keys = await createSigningKeys();
    const digest = crypto.getRandomValues(new Uint8Array(LAN_PROOF_DIGEST_BYTES));
    const proof = await signLanProof(keys, digest);
    expect(await verifyLanProof(keys.publicKey, digest, proof)).toBe(true);
    expect(
      await verifyLanProof(
        keys.publicKey,
        digest.map((b, i) => (i === 0 ? b ^ 1 : b)),
        proof,
      ),
    ).toBe(false);

    for (const size of [0, 31, 33, 1024])
      await expect(signLanProof(keys, new Uint8Array(size))).rejects.toMatchObject({
        code: PeerErrorCode.lanProofInvalid,
      });
    expect(await verifyLanProof(keys.publicKey, new Uint8Array(31), proof)).toBe(false);
  });

  it('can never stand for a transaction signature, nor a transaction signature for a proof', async () => {
    const relay = await createSigningKeys();
    const keys = await createSigningKeys();
    const cert = await issueCertificate(relay.privateKey, {
      serial: 1,
      replica: 'a000000000000000' as never,
      publicKey: keys.publicKey,
      user: 'u',
      claims: {},
      rulesVersion: 1,
      notBefore: 0,
      expires: Date.now() + 60_000,
    });
    // A caller asking for a LAN proof chooses the 32 bytes: let it pick a transaction's bytes.
    const ops = crypto.getRandomValues(new Uint8Array(32));
    const proof = await signLanProof(keys, ops);
    const verdict = await verifyTransaction(
      { ops, signature: proof },
      cert,
      { relayKey: relay.publicKey, now: Date.now, revoked: () => false },
      { maxSkewMs: 60_000 },
    );
    expect(verdict).toMatchObject({ ok: false, code: PeerErrorCode.signatureInvalid });
    const txSignature = await signTransaction(keys.privateKey, ops);
    expect(await verifyLanProof(keys.publicKey, ops, txSignature)).toBe(false);
  });
});
