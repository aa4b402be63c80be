/**
 * What must also hold at the end of a `peers` run (beside `check.ts`):
 * 1. no device's peer log holds anything: its own transactions were acknowledged, the ones it learned from peers
 *    were settled by the relay (forwarded and answered);
 * 2. every transaction the relay accepted from a forwarder is stored on the relay (unless compaction ran after it
 *    first arrived), and no op it refused is (it screens op by op: a refusal names the ops it refused; an op
 *    refused `op_id_reused` may have its id stored, with the other content the relay holds under it);
 * 3. no peer link was refused, and no peer declined a transaction, for a reason the run cannot cause
 *    (`peer-mesh.ts`).
 */
import type { Op } from '@loam/core';
import { opDigest } from '@loam/server/testing';
import type { Failure } from './check';
import type { StackDevice } from './device';
import type { PeerMesh } from './peer-mesh';
import type { RelayHost } from './relay-host';

/** Runs the peer checks; resolves with the broken ones. */
export async function checkPeers(input: {
  relay: RelayHost;
  devices: readonly StackDevice[];
  mesh: PeerMesh;
}): Promise<Failure[]> {
  const { relay, devices, mesh } = input;
  const failures: Failure[] = [...mesh.failures()];
  for (const d of devices) {
    const left = await d.engine().syncStore.peerTransactions({}, 1_000_000);
    if (left.length === 0) continue;
    const own = left.filter((t) => t.replica === d.engine().replica).length;
    failures.push({
      check: 'peer-log',
      detail: `device ${d.index} keeps ${own} own and ${left.length - own} learned transactions (first ${left[0]?.replica}:${left[0]?.seq})`,
    });
  }
  const ledger = await relay.opLedger();
  /** Whether the relay holds `op` itself: its id with its content (`op_id_reused` says it holds other content). */
  const holds = (op: Op) => {
    const hash = ledger.get(op.id);
    return hash !== undefined && (hash === null || Buffer.from(opDigest(op)).equals(hash));
  };
  for (const d of devices)
    for (const [key, tx] of d.log.peer.forwarded) {
      const last = tx.answers.at(-1);
      if (last === undefined) continue;
      if (tx.answers.includes('accepted'))
        for (const op of tx.ops)
          if (!ledger.has(op.id))
            failures.push({
              check: 'forwarded',
              detail: `transaction ${key} forwarded by device ${d.index} acknowledged, op ${op.id} not stored`,
            });
      if (!tx.answers.includes('accepted') && last !== 'accepted')
        for (const op of tx.ops)
          if (tx.refusedOps?.has(op.id) && holds(op) && !acceptedElsewhere(devices, op.id))
            failures.push({
              check: 'forwarded',
              detail: `transaction ${key} forwarded by device ${d.index} refused (${last}), op ${op.id} stored`,
            });
    }
  return failures;
}

/**
 * Whether the relay took `op` on another path: the author's own push, or another forward of its transaction
 * (screened against a later state; a refusal may race with either).
 */
function acceptedElsewhere(devices: readonly StackDevice[], op: string): boolean {
  return devices.some(
    (d) =>
      d.log.answers.get(op)?.some((a) => a.code === 'accepted') === true ||
      [...d.log.peer.forwarded.values()].some(
        (tx) =>
          tx.ops.some((o) => o.id === op) &&
          (tx.answers.includes('accepted') || (tx.refusedOps !== undefined && !tx.refusedOps.has(op))),
      ),
  );
}
