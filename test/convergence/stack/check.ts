/**
 * What must hold once the real stack is quiet (every device connected and subscribed to everything, nothing in
 * flight):
 * 1. every device and the relay hold identical documents (canonical encoding of the materialized documents);
 * 2. no outbox entry is left on any device;
 * 3. every op the relay acknowledged is in the relay's op ledger (compaction keeps it), with the content of one of
 *    the ops the device pushed under that id (a database restored from an older copy may reuse an id);
 * 4. no write is held under two op ids (renumbered after a restore, then applied under both), and the tally
 *    counter equals the sum of the increments in the relay's op ledger, with the content the relay holds for each
 *    id: with 3, no acknowledged increment is lost or counted twice (an op the relay applied but could not
 *    acknowledge, its device closed and then put back to a copy from before it, counts too: the write happened);
 * 5. every op a device pushed since it was last restored was answered; every refusal it got is in its
 *    refused-writes log; an op answered `op_id_reused` reached the relay under a new id.
 */
import type { MaterializedDoc, Op } from '@loam/core';
import { opDigest } from '@loam/server/testing';
import Database from 'better-sqlite3';
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

  const ledger = new Database(relay.file, { readonly: true });
  try {
    const held = ledger.prepare<[string], { hash: Uint8Array | null }>(
      'SELECT hash FROM loam_server_ops WHERE id = ?',
    );
    /** The op the relay holds under `id`, among those pushed under it (undefined: none). */
    const heldOp = (id: string, pushed: { op: Op; earlier?: Op[] }): Op | undefined => {
      const hash = held.get(id)?.hash;
      if (!hash) return undefined;
      return [pushed.op, ...(pushed.earlier ?? [])].find((op) => Buffer.from(opDigest(op)).equals(hash));
    };
    let tally = 0;
    /** Content of each op the relay holds → its id (a write held under two ids was applied twice). */
    const heldAs = new Map<string, string>();
    for (const d of devices) {
      const refusedLog = new Set((await d.engine().refusedWrites()).map((r) => r.op));
      const acceptedContent = new Set<string>();
      const refusedContent = new Set(
        [...refusedLog].flatMap((id) => {
          const pushed = d.log.pushed.get(id);
          return pushed ? [pushed.op, ...(pushed.earlier ?? [])].map(contentKey) : [];
        }),
      );
      for (const [id, pushed] of d.log.pushed) {
        const op = heldOp(id, pushed);
        if (!op) continue;
        const content = contentKey(op);
        acceptedContent.add(content);
        const other = heldAs.get(content);
        if (other !== undefined && other !== id)
          failures.push({
            check: 'doubled',
            detail: `one write of device ${d.index} is held as ${other} and ${id}`,
          });
        heldAs.set(content, id);
        if (op.kind === 'increment' && op.collection === 'tallies' && op.doc === TALLY && other === undefined)
          tally += op.by;
      }
      for (const [id, answers] of d.log.answers) {
        const pushed = d.log.pushed.get(id);
        if (pushed && answers.some((a) => a.code === 'accepted') && !heldOp(id, pushed))
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
    const doc = (await store.queryDocs({ collection: 'tallies' })).find((t) => t.id === TALLY);
    if (doc?.n !== tally)
      failures.push({
        check: 'counter',
        detail: `tally is ${String(doc?.n)} on the relay, the increments it holds sum to ${tally}`,
      });
  } finally {
    ledger.close();
  }
  return failures;
}
