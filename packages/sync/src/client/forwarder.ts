/**
 * Forwarding: the signed transactions of other replicas this client learned from peers go to the relay in
 * `forward` batches, one batch in flight per link, and leave the peer log when `forwarded` answered them
 * (stored, already held, or refused: the relay's word is final; a refusal is logged with its author and announced,
 * and the relay's compensating `docs` frame reverts what the peer's write changed here).
 */
import { decodeOps, type ReplicaId } from '@loam/core';
import type { LoggedTransaction, RefusedWrite, SyncStore } from '../port/sync-store';
import type { ForwardedTx, ServerMessage } from '../protocol/messages';
import type { Link } from './link';

/** The forwarder of one client. */
export interface Forwarder {
  /** Starts afresh on a welcomed link. */
  begin(link: Link): void;
  /** Sends the next batch of learned transactions when none is in flight. */
  pump(): Promise<void>;
  /** Handles `forwarded`; resolves with the refusals it recorded. */
  forwarded(link: Link, message: Extract<ServerMessage, { t: 'forwarded' }>): Promise<RefusedWrite[]>;
}

const BATCH = 64;

/** Creates the forwarder over `store`; `current` is the welcomed link, if any. */
export function createForwarder(store: SyncStore, current: () => Link | null, now: () => number): Forwarder {
  let flight: { link: Link; batch: number; txs: LoggedTransaction[] | null } | null = null;
  const all: Record<string, number> = { [store.replica]: Number.MAX_SAFE_INTEGER };

  return {
    begin(link) {
      flight = { link, batch: 0, txs: null };
    },
    async pump() {
      const f = flight;
      if (!f || f.txs || current() !== f.link) return;
      const learned = (await store.peerTransactions(all, BATCH)).filter((t) => t.certificate);
      if (learned.length === 0 || f.txs || current() !== f.link) return;
      f.txs = learned;
      const txs: ForwardedTx[] = learned.map((t) => ({
        ops: t.ops,
        sig: t.signature,
        cert: (t.certificate as { bytes: Uint8Array }).bytes,
        certSig: (t.certificate as { signature: Uint8Array }).signature,
      }));
      f.link.send({ t: 'forward', batch: ++f.batch, txs });
    },
    async forwarded(link, message) {
      const f = flight;
      if (!f || f.link !== link || !f.txs || message.batch !== f.batch) return [];
      const sent = f.txs;
      f.txs = null;
      const at = now();
      const refused: RefusedWrite[] = message.txs.flatMap((t, i) => {
        const tx = sent[i];
        if (!t.code || !tx) return [];
        return decodeOps(tx.ops, { maxBytes: tx.ops.length, maxOps: Number.MAX_SAFE_INTEGER }).map((op) => ({
          op: op.id,
          collection: op.collection,
          doc: op.doc,
          code: t.code as string,
          reason: t.reason ?? '',
          at,
          author: t.replica,
        }));
      });
      await store.settlePeerTransactions(sent.map((t) => ({ replica: t.replica, seq: t.seq })));
      if (refused.length > 0) await store.refusePeerTransaction(refused);
      return refused;
    },
  };
}
