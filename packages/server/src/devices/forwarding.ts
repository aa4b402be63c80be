/**
 * Transactions a device forwards for other replicas (learned from peers): verified with `@loam/sync`'s checks
 * (certificate signed by this relay and unrevoked, signature, ops of the certificate's replica, clock skew), then
 * pushed as the author's own batch, screened with the author's claims (its certificate's), deduplicated by op id
 * like any push. A refused transaction is reported to the forwarder, with the documents its ops touched (whatever
 * refused it: the forwarder may have applied it), whose state the relay sends back; its author gets the compensating write when
 * it uploads the same ops itself (they are not stored, so they are screened again and refused there).
 */
import { decodeOps, type Op, parseOpId, type ReplicaId } from '@loam/core';
import {
  type ForwardedTx,
  type ForwardOutcome,
  PeerErrorCode,
  readSignedCertificate,
  type SignedCertificate,
  verifyTransaction,
} from '@loam/sync';
import { ServerErrorCode } from '../errors';
import type { Relay } from '../relay/relay';
import type { Devices } from './devices';

/** What became of a `forward` batch. */
export interface ForwardResult {
  readonly txs: ForwardOutcome[];
  /** Documents of refused ops, whose authoritative state the forwarder gets. */
  readonly refusedDocs: { collection: string; id: string }[];
}

/**
 * The documents a transaction's ops touch (none when they do not decode): a forwarder that applied a transaction
 * the relay refuses unread (its certificate or signature failed) holds its writes, and gets their state too.
 */
function docsOf(bytes: Uint8Array, limits: { maxBytes: number; maxOps: number }) {
  try {
    return decodeOps(bytes, limits).map((op) => ({ collection: op.collection, id: op.doc }));
  } catch {
    return [];
  }
}

function keyOf(bytes: Uint8Array, fallback: ReplicaId): { replica: ReplicaId; seq: number } {
  try {
    return parseOpId((decodeOps(bytes)[0] as Op).id);
  } catch {
    return { replica: fallback, seq: 0 };
  }
}

/** Verifies, screens and stores forwarded transactions, in order. */
export async function acceptForwarded(input: {
  readonly relay: Relay;
  readonly devices: Devices;
  readonly maxSkewMs: number;
  readonly maxBytes: number;
  readonly maxOps: number;
  readonly txs: readonly ForwardedTx[];
}): Promise<ForwardResult> {
  const txs: ForwardOutcome[] = [];
  const refusedDocs: { collection: string; id: string }[] = [];
  for (const tx of input.txs) {
    let cert: SignedCertificate;
    try {
      cert = readSignedCertificate(tx.cert, tx.certSig);
    } catch (error) {
      const key = keyOf(tx.ops, input.relay.replica);
      txs.push({ ...key, code: PeerErrorCode.certInvalid, reason: (error as Error).message });
      refusedDocs.push(...docsOf(tx.ops, input));
      continue;
    }
    const key = keyOf(tx.ops, cert.cert.replica);
    const verdict = await verifyTransaction({ ops: tx.ops, signature: tx.sig }, cert, input.devices.trust, {
      maxSkewMs: input.maxSkewMs,
      maxBytes: input.maxBytes,
      maxOps: input.maxOps,
    });
    if (!verdict.ok) {
      txs.push({ ...key, code: verdict.code, reason: verdict.reason });
      refusedDocs.push(...docsOf(tx.ops, input));
      continue;
    }
    const outcome = await input.relay.push({
      replica: cert.cert.replica,
      claims: cert.cert.claims,
      ops: verdict.value,
    });
    // An op neither accepted nor refused was not applied: a batch holding an op id conflict (its author restored
    // and reused the id) applies nothing. Its author renumbers and pushes its own such ops again; a forwarder
    // cannot renumber another replica's signed ops, so they are refused with the batch, documents corrected.
    const accepted = new Set(outcome.accepted);
    const notStored = verdict.value.filter((op) => !accepted.has(op.id));
    const first = outcome.refused[0];
    const some = notStored.length < verdict.value.length ? { ops: notStored.map((op) => op.id) } : {};
    txs.push(
      notStored.length > 0
        ? {
            ...key,
            code: first?.code ?? ServerErrorCode.opIdReused,
            reason: first?.reason ?? 'The relay did not apply this transaction',
            ...some,
          }
        : key,
    );
    refusedDocs.push(
      ...outcome.refusedDocs,
      ...notStored.map((op) => ({ collection: op.collection, id: op.doc })),
    );
  }
  const unique = new Map(refusedDocs.map((d) => [`${d.collection}\u0000${d.id}`, d]));
  return { txs, refusedDocs: [...unique.values()] };
}
