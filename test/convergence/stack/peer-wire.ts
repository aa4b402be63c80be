/**
 * The stack fuzzer's record of forwarding: the signed transactions of other devices a device uploaded for its
 * peers (`forward` frames) and the relay's answers (`forwarded`), keyed by each transaction's (replica, seq).
 * `check-peers.ts` holds the relay to them.
 */
import { decodeOps, type Op, parseOpId } from '@loam/core';
import type { ClientMessage, ServerMessage } from '@loam/sync';

/** One forwarded transaction: its ops, when a frame carrying it first reached the relay, and every answer. */
export interface ForwardedTx {
  readonly ops: readonly Op[];
  reachedAt?: number;
  /** `accepted` (stored or already held) or the relay's refusal code, in the order they were sent. */
  readonly answers: string[];
  /** The ops the last refusal named (the relay refused only those; absent: all). */
  refusedOps?: ReadonlySet<string>;
}

/** A device's forwarding record. */
export interface PeerWireLog {
  /** `replica:seq` → the transaction. */
  readonly forwarded: Map<string, ForwardedTx>;
}

const keyOf = (replica: string, seq: number) => `${replica}:${seq}`;

/** Notes a `forward` frame the device sent (`delivered`: it reached the relay at `at`). */
export function noteForwarded(
  log: PeerWireLog,
  message: Extract<ClientMessage, { t: 'forward' }>,
  delivered: boolean,
  at: number,
): void {
  for (const tx of message.txs) {
    const ops = decodeOps(tx.ops);
    const first = ops[0];
    if (!first) continue;
    const { replica, seq } = parseOpId(first.id);
    const key = keyOf(replica, seq);
    const entry = log.forwarded.get(key) ?? { ops, answers: [] };
    if (delivered) entry.reachedAt ??= at;
    log.forwarded.set(key, entry);
  }
}

/** Notes the relay's answers to a `forward` batch (when they were sent, arrived or not). */
export function noteForwardOutcomes(
  log: PeerWireLog,
  message: Extract<ServerMessage, { t: 'forwarded' }>,
): void {
  for (const outcome of message.txs) {
    const tx = log.forwarded.get(keyOf(outcome.replica, outcome.seq));
    if (!tx) continue;
    tx.answers.push(outcome.code ?? 'accepted');
    if (outcome.code) tx.refusedOps = new Set(outcome.ops ?? tx.ops.map((op) => op.id));
  }
}
