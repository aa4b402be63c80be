/**
 * What must hold once the real stack is quiet (every device connected and subscribed to everything, nothing in
 * flight):
 * 1. every device and the relay hold identical documents (canonical encoding of the materialized documents);
 * 2. no outbox entry is left on any device;
 * 3. every op the relay acknowledged is in the relay's op ledger (compaction keeps it), with the content of one of
 *    the ops the device pushed under that id (a database restored from an older copy may reuse an id), or is an
 *    echo (a write renumbered again, acknowledged and held under the id it was applied under);
 * 4. no write is held under two op ids (renumbered after an `op_id_reused`, then renumbered again by another copy
 *    of the database, and applied under both; a write is told from another with equal content, which a restored
 *    clock can stamp, by the id it was first answered `op_id_reused` under), and the tally counter equals the sum of
 *    the increments in the relay's op ledger, with the content the relay holds for each id: with 3, no
 *    acknowledged increment is lost or counted twice (an op the relay applied but could not acknowledge, its device
 *    closed and then put back to a copy from before it, counts too: the write happened; so does one only a peer
 *    uploaded, its author put back to a copy from before it);
 * 5. every op a device pushed since it was last restored was answered; every refusal it got is in its
 *    refused-writes log; an op answered `op_id_reused` reached the relay under a new id.
 */
import type { MaterializedDoc } from '@loam/core';
import { opDigest } from '@loam/server/testing';
import type { PushedContent, StackDevice } from './device';
import type { RelayHost } from './relay-host';
import { TALLY } from './workload';

/** One broken invariant. */
export interface Failure {
  readonly check: string;
  readonly detail: string;
}

const COLLECTIONS = ['items', 'tallies'] as const;

/** Canonical text of a value: object keys sorted, dates as ISO strings, undefined fields left out. */
export function canonical(value: unknown): string {
  if (value instanceof Date) return JSON.stringify({ $date: value.toISOString() });
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

function byId(docs: readonly MaterializedDoc[]): Map<string, string> {
  return new Map([...docs].sort((a, b) => (a.id < b.id ? -1 : 1)).map((d) => [d.id, canonical(d)]));
}

/** A content key of an op without its id (an op renumbered after a restore keeps it). */
function contentKey(op: object): string {
  return canonical({ ...op, id: undefined });
}

/** Runs every check; resolves with the broken ones (empty: the run converged). */
export async function checkQuiescence(input: {
  relay: RelayHost;
  devices: readonly StackDevice[];
}): Promise<Failure[]> {
  const { relay, devices } = input;
  const failures: Failure[] = [];
  const { store } = relay.current();

  for (const collection of COLLECTIONS) {
    const reference = byId(await store.queryDocs({ collection }));
    for (const d of devices) {
      const held = byId(await d.engine().find({ collection }));
      for (const id of new Set([...reference.keys(), ...held.keys()])) {
        const want = reference.get(id);
        const got = held.get(id);
        if (want !== got)
          failures.push({
            check: 'documents',
            detail: `device ${d.index} ${collection}/${id}: relay ${want ?? 'absent'}, device ${got ?? 'absent'}`,
          });
      }
    }
  }

  for (const d of devices) {
    const pending = await d.engine().pendingCount();
    if (pending > 0) failures.push({ check: 'outbox', detail: `device ${d.index} has ${pending} ops left` });
  }

  const ledger = await relay.opLedger();
  {
    const variants = (pushed: PushedContent & { earlier?: PushedContent[] }) => [
      pushed,
      ...(pushed.earlier ?? []),
    ];
    /** The op the relay holds under `id`, among those pushed under it, and when it was first pushed. */
    const heldOp = (id: string, pushed: PushedContent & { earlier?: PushedContent[] }) => {
      const hash = ledger.get(id);
      if (!hash) return undefined;
      return variants(pushed).find((v) => Buffer.from(opDigest(v.op)).equals(hash));
    };
    let tally = 0;
    /** The op ids whose held content the tally has counted. */
    const counted = new Set<string>();
    /** Each write the relay holds (see `writeOf`) → its id: a write held under two ids was applied twice. */
    const heldAs = new Map<string, string>();
    for (const d of devices) {
      const refusedLog = new Set((await d.engine().refusedWrites()).map((r) => r.op));
      const acceptedContent = new Set<string>();
      const refusedContent = new Set(
        [...refusedLog].flatMap((id) => {
          const pushed = d.log.pushed.get(id);
          return pushed ? variants(pushed).map((v) => contentKey(v.op)) : [];
        }),
      );
      /** Content → when an id carrying it was answered `op_id_reused`, and that id (it does not hold the content). */
      const reused = new Map<string, { at: number; id: string }[]>();
      for (const [id, pushed] of d.log.pushed)
        for (const a of d.log.answers.get(id) ?? []) {
          if (a.code !== 'op_id_reused') continue;
          const holds = heldOp(id, pushed);
          for (const v of variants(pushed)) {
            const content = contentKey(v.op);
            if (holds && contentKey(holds.op) === content) continue;
            reused.set(content, [...(reused.get(content) ?? []), { at: a.at, id }]);
          }
        }
      /** The write an op is: its id, or the first id its content was answered `op_id_reused` under before it. */
      const writeOf = (id: string, v: PushedContent) =>
        (reused.get(contentKey(v.op)) ?? [])
          .filter((r) => r.id !== id && r.at <= v.pushedAt)
          .sort((x, y) => x.at - y.at)[0]?.id ?? id;
      for (const [id, pushed] of d.log.pushed) {
        const v = heldOp(id, pushed);
        if (!v) continue;
        const { op } = v;
        const content = contentKey(op);
        acceptedContent.add(content);
        const write = `${writeOf(id, v)}\u0000${content}`;
        const other = heldAs.get(write);
        if (other !== undefined && other !== id)
          failures.push({
            check: 'doubled',
            detail: `one write of device ${d.index} is held as ${other} and ${id}`,
          });
        heldAs.set(write, id);
        counted.add(id);
        if (op.kind === 'increment' && op.collection === 'tallies' && op.doc === TALLY) tally += op.by;
      }
      for (const [id, answers] of d.log.answers) {
        const pushed = d.log.pushed.get(id);
        if (!pushed || !answers.some((a) => a.code === 'accepted') || heldOp(id, pushed)) continue;
        // An echo: a write renumbered again, acknowledged without being applied, is held under another id.
        if (!variants(pushed).some((v) => acceptedContent.has(contentKey(v.op))))
          failures.push({
            check: 'ledger',
            detail: `op ${id} (device ${d.index}) acknowledged, not stored with content it pushed`,
          });
      }
      for (const [id, { op, epoch }] of d.log.pushed) {
        if (epoch < d.epoch()) continue;
        const answers = (d.log.answers.get(id) ?? []).filter((a) => a.epoch === epoch);
        if (answers.length === 0) {
          failures.push({ check: 'answered', detail: `op ${id} (device ${d.index}) pushed, never answered` });
          continue;
        }
        // The last answer is the outcome: an op refused (its ack lost) and pushed again may be accepted then.
        const a = answers.at(-1) as (typeof answers)[number];
        if (a.code === 'accepted') continue;
        if (a.code === 'op_id_reused') {
          if (!acceptedContent.has(contentKey(op)) && !refusedContent.has(contentKey(op)))
            failures.push({
              check: 'renumbered',
              detail: `op ${id} (device ${d.index}) answered op_id_reused, its content never reached the relay`,
            });
        } else if (!refusedLog.has(id))
          failures.push({
            check: 'refused-log',
            detail: `op ${id} (device ${d.index}) refused (${a.code}) but not in the refused-writes log`,
          });
      }
    }
    // A write only a peer uploaded: its author was put back to a copy from before it (and pushed other content
    // under its id, answered `op_id_reused`), so no device's own pushes hold it, yet the relay applied it.
    for (const d of devices)
      for (const tx of d.log.peer.forwarded.values())
        for (const op of tx.ops) {
          const hash = ledger.get(op.id);
          if (counted.has(op.id) || !hash || !Buffer.from(opDigest(op)).equals(hash)) continue;
          counted.add(op.id);
          if (op.kind === 'increment' && op.collection === 'tallies' && op.doc === TALLY) tally += op.by;
        }
    const doc = (await store.queryDocs({ collection: 'tallies' })).find((t) => t.id === TALLY);
    if (doc?.n !== tally)
      failures.push({
        check: 'counter',
        detail: `tally is ${String(doc?.n)} on the relay, the increments it holds sum to ${tally}`,
      });
  }
  return failures;
}
