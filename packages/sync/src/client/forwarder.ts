/**
 * Forwarding: the signed transactions of other replicas this client learned from peers go to the relay in
 * `forward` batches (a few in flight per link), interleaved with the outbox's pushes by timestamp so that a write
 * reaches the relay after the writes it was made on top of (the relay handles a link's frames in order); they leave the peer log when `forwarded` answered them
 * (stored, already held, or refused: the relay's word is final; a refusal is logged with its author and announced,
 * and the answer's `corrections`, the relay's state of the documents the refused ops touched, revert what the
 * peer's write changed here, in the local transaction that logs the refusal: no dropped link can separate them).
 */
import { compareTimestamps, decodeDocSnapshot, decodeOps, type Timestamp } from '@loam/core';
import type { LoggedTransaction, RefusedWrite, SyncStore } from '../port/sync-store';
import type { ForwardedTx, ServerMessage } from '../protocol/messages';
import type { Link } from './link';

/** The forwarder of one client. */
export interface Forwarder {
  /** Starts afresh on a welcomed link. */
  begin(link: Link): void;
  /** The first timestamp of the oldest learned transaction not yet sent on the current link. */
  next(): Promise<Timestamp | undefined>;
  /** Sends one batch of learned transactions stamped before `before` (all, when absent); false when none was sent. */
  pump(before?: Timestamp): Promise<boolean>;
  /** Handles `forwarded`; resolves with the refusals it recorded. */
  forwarded(link: Link, message: Extract<ServerMessage, { t: 'forwarded' }>): Promise<RefusedWrite[]>;
}

const BATCH = 64;
const MAX_IN_FLIGHT = 4;

const keyOf = (t: { replica: string; seq: number }) => `${t.replica}:${t.seq}`;
const firstTs = (t: LoggedTransaction) =>
  decodeOps(t.ops, { maxBytes: t.ops.length, maxOps: 1_000_000 })[0]?.ts;

/** Creates the forwarder over `store`; `current` is the welcomed link, if any. */
export function createForwarder(store: SyncStore, current: () => Link | null, now: () => number): Forwarder {
  let flight: {
    link: Link;
    batch: number;
    batches: Map<number, LoggedTransaction[]>;
    sent: Set<string>;
  } | null = null;
  const all: Record<string, number> = { [store.replica]: Number.MAX_SAFE_INTEGER };
  /** Learned transactions not in flight, oldest stamp first. */
  const unsent = async () => {
    const f = flight;
    if (!f || current() !== f.link) return [];
    const learned = (await store.peerTransactions(all, f.sent.size + BATCH)).filter(
      (t) => t.certificate && !f.sent.has(keyOf(t)),
    );
    return learned
      .map((t) => ({ t, ts: firstTs(t) as Timestamp }))
      .sort((x, y) => compareTimestamps(x.ts, y.ts));
  };

  return {
    begin(link) {
      flight = { link, batch: 0, batches: new Map(), sent: new Set() };
    },
    async next() {
      return (await unsent())[0]?.ts;
    },
    async pump(before) {
      const f = flight;
      if (!f || current() !== f.link || f.batches.size >= MAX_IN_FLIGHT) return false;
      const learned = (await unsent())
        .filter((x) => before === undefined || compareTimestamps(x.ts, before) < 0)
        .slice(0, BATCH)
        .map((x) => x.t);
      if (learned.length === 0 || current() !== f.link) return false;
      const batch = ++f.batch;
      f.batches.set(batch, learned);
      for (const t of learned) f.sent.add(keyOf(t));
      const txs: ForwardedTx[] = learned.map((t) => ({
        ops: t.ops,
        sig: t.signature,
        cert: (t.certificate as { bytes: Uint8Array }).bytes,
        certSig: (t.certificate as { signature: Uint8Array }).signature,
      }));
      f.link.send({ t: 'forward', batch, txs });
      return true;
    },
    async forwarded(link, message) {
      const f = flight;
      const sent = f && f.link === link ? f.batches.get(message.batch) : undefined;
      if (!f || !sent) return [];
      f.batches.delete(message.batch);
      for (const t of sent) f.sent.delete(keyOf(t));
      const at = now();
      const refused: RefusedWrite[] = message.txs.flatMap((t, i) => {
        const tx = sent[i];
        if (!t.code || !tx) return [];
        const only = t.ops ? new Set(t.ops) : undefined;
        const ops = decodeOps(tx.ops, { maxBytes: tx.ops.length, maxOps: Number.MAX_SAFE_INTEGER });
        return ops
          .filter((op) => !only || only.has(op.id))
          .map((op) => ({
            op: op.id,
            collection: op.collection,
            doc: op.doc,
            code: t.code as string,
            reason: t.reason ?? '',
            at,
            author: t.replica,
          }));
      });
      const fixes = message.corrections;
      if (refused.length > 0 || fixes)
        await store.recordRefusals(
          refused,
          fixes && {
            docs: fixes.docs.map((d) => ({ ...d, state: decodeDocSnapshot(d.state) })),
            removed: fixes.removed,
          },
        );
      await store.settlePeerTransactions(sent.map((t) => ({ replica: t.replica, seq: t.seq })));
      return refused;
    },
  };
}
