/**
 * What must hold once the real stack is quiet (every device connected and subscribed to everything, nothing in
 * flight):
 * 1. every device and the relay hold identical documents (canonical encoding of the materialized documents);
 * 2. no outbox entry is left on any device;
 * 3. every op the relay acknowledged is stored on the relay, unless compaction ran after it first arrived (a copy
 *    pushed again after its id was folded away changes nothing and is acknowledged without being recorded);
 * 4. the tally counter equals the sum of the acknowledged increments (each counted once; an acknowledgement counts
 *    when the relay sent it: a device restored from an older copy may never hear of it);
 * 5. every op a device pushed since it was last restored was answered; every refusal it got is in its
 *    refused-writes log; an op answered `op_id_reused` reached the relay under a new id.
 */
import type { MaterializedDoc } from '@loam/core';
import type { StackDevice } from './device';
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
  lastCompaction: number;
}): Promise<Failure[]> {
  const { relay, devices, lastCompaction } = input;
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
    let tally = 0;
    const counted = new Set<string>();
    for (const d of devices) {
      const refusedLog = new Set((await d.engine().refusedWrites()).map((r) => r.op));
      const acceptedContent = new Set<string>();
      const refusedContent = new Set(
        [...refusedLog].flatMap((id) => {
          const pushed = d.log.pushed.get(id);
          return pushed ? [contentKey(pushed.op)] : [];
        }),
      );
      for (const [id, answers] of d.log.answers) {
        const pushed = d.log.pushed.get(id);
        const last = answers.at(-1);
        if (!pushed || !last) continue;
        if (answers.some((a) => a.code === 'accepted')) {
          acceptedContent.add(contentKey(pushed.op));
          if ((pushed.reachedAt ?? 0) > lastCompaction && !ledger.has(id))
            failures.push({
              check: 'ledger',
              detail: `op ${id} (device ${d.index}) acknowledged, not stored`,
            });
          const op = pushed.op;
          if (
            op.kind === 'increment' &&
            op.collection === 'tallies' &&
            op.doc === TALLY &&
            !counted.has(id)
          ) {
            counted.add(id);
            tally += op.by;
          }
        }
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
    const doc = (await store.queryDocs({ collection: 'tallies' })).find((t) => t.id === TALLY);
    if (doc?.n !== tally)
      failures.push({
        check: 'counter',
        detail: `tally is ${String(doc?.n)} on the relay, acknowledged increments sum to ${tally}`,
      });
  }
  return failures;
}
