/**
 * Signed transactions: one local transaction's ops, signed once by its author's device key, so that any replica
 * can check, offline, who wrote them. Client, peer and relay verify them with this one module.
 *
 * The signature is Ed25519 over a context label followed by SHA-256 of `encodeOps(ops)` (the bytes that travel;
 * they are never re-encoded). The author's certificate travels beside it.
 *
 * Verification, in order (the first failure is the verdict): the certificate (see `certificate.ts`), the
 * signature against the certificate's key, the ops decode, every op's id and timestamp carry the certificate's
 * replica, no timestamp is beyond the clock skew bound. Permissions are judged after this, against local state.
 */
import { type DecodeLimits, decodeOps, decodeTimestamp, type Op, parseOpId } from '@loam/core';
import { PeerErrorCode } from '../errors';
import { type SignedCertificate, type Trust, type Verdict, verifyCertificate } from './certificate';
import { sign, verify } from './keys';
import { sha256Sync } from './sha256';

const TX_CONTEXT = new TextEncoder().encode('loam/transaction/1\u0000');

/** One transaction as it travels: its encoded ops and its author's signature. */
export interface SignedTransaction {
  /** `encodeOps(ops)` of the transaction. */
  readonly ops: Uint8Array;
  readonly signature: Uint8Array;
}

/** What is signed: the context label and the SHA-256 of the encoded ops (hashed in this thread: `sha256.ts`). */
function signedDigest(ops: Uint8Array): Uint8Array {
  const digest = sha256Sync(ops);
  const out = new Uint8Array(TX_CONTEXT.length + digest.length);
  out.set(TX_CONTEXT);
  out.set(digest, TX_CONTEXT.length);
  return out;
}

/** Signs a transaction's encoded ops with the author's device key. */
export async function signTransaction(key: CryptoKey, ops: Uint8Array): Promise<Uint8Array> {
  return sign(key, signedDigest(ops));
}

/** Options of {@link verifyTransaction}. */
export interface VerifyTransactionOptions extends DecodeLimits {
  /** Largest accepted distance of an op's wall clock ahead of `trust.now()` (ms). */
  readonly maxSkewMs: number;
}

/** Checks a signed transaction by `certificate`'s device; resolves with its ops when it checks out. */
export async function verifyTransaction(
  tx: SignedTransaction,
  certificate: SignedCertificate,
  trust: Trust,
  options: VerifyTransactionOptions,
): Promise<Verdict<Op[]>> {
  const checked = await verifyCertificate(certificate, trust, options.maxSkewMs);
  if (!checked.ok) return checked;
  const cert = checked.value;
  if (!(await verify(cert.publicKey, tx.signature, signedDigest(tx.ops))))
    return {
      ok: false,
      code: PeerErrorCode.signatureInvalid,
      reason: `The transaction's signature does not verify with the key of replica ${cert.replica}'s certificate`,
    };
  let ops: Op[];
  try {
    ops = decodeOps(tx.ops, options);
  } catch (error) {
    return { ok: false, code: PeerErrorCode.frameInvalid, reason: (error as Error).message };
  }
  if (ops.length === 0)
    return { ok: false, code: PeerErrorCode.frameInvalid, reason: 'An empty transaction' };
  const now = trust.now();
  for (const op of ops) {
    if (parseOpId(op.id).replica !== cert.replica || decodeTimestamp(op.ts).replica !== cert.replica)
      return {
        ok: false,
        code: PeerErrorCode.replicaMismatch,
        reason: `Op ${op.id} is not an op of replica ${cert.replica}, whose certificate signed it`,
      };
    const ahead = decodeTimestamp(op.ts).wall - now;
    if (ahead > options.maxSkewMs)
      return {
        ok: false,
        code: PeerErrorCode.clockSkew,
        reason: `Op ${op.id} is stamped ${ahead} ms ahead of this device's clock (bound ${options.maxSkewMs} ms)`,
      };
  }
  return { ok: true, value: ops };
}

/** The (replica, seq) key of a transaction: its first op's id. */
export function transactionKey(ops: readonly Op[]): { replica: string; seq: number } {
  return parseOpId((ops[0] as Op).id);
}
