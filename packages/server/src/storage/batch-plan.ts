/**
 * What a batch does to the documents it touches, decided in memory inside the store's transaction: the one
 * screening loop every {@link ServerStore} runs (invariants 2 and 5 of `server-store.ts`).
 *
 * The store supplies what it knows: the content digest recorded with an op id, if any, and each document's state
 * just before the batch. The plan says which ops are new, duplicate, refused or in conflict (an id recorded with
 * other content: then nothing else is planned), and each touched document's state after the batch; the store then
 * writes the dirty documents and records the new op ids with their digests.
 *
 * Renumbered writes. A device answered a conflict gives the op a new id and sends it again. Another copy of the
 * same old database may hold the same write under the same conflicting id, and renumber it again, to another id:
 * applied twice, an increment would count twice. So the store remembers each conflict by the op's content without
 * id and its conflicting id (`reissues`, a *pending* renumbering), and, when that content next arrives under a new
 * id, settles it (`settled`): the first time it is applied and the new id is bound to the conflict; when the
 * pending conflict is one already bound (the same write, conflicting again from another copy), the op is an *echo*:
 * accepted, not applied, not recorded, and the device is sent the document's authoritative state (its own copy
 * counts the write under the echo's id); the echo's id is remembered too (`echoed`), so the same echo sent again
 * (its ack lost) is an echo again. Two distinct writes with equal content (a restored clock can stamp the
 * same timestamp again) conflict under different ids, so each is applied.
 */
import {
  applyOp,
  type CollectionDef,
  createDocState,
  type DocState,
  mergeDocState,
  type Op,
  parseOpId,
} from '@loam/core';
import { contentDigest, type OpDigests, opDigests, sameDigest } from './op-digest';
import type { ApplyBatchRequest, ScreenRefusal } from './server-store';

/** A deep copy of a document state (Yjs documents included) that shares nothing mutable with `state`. */
export function cloneDocState(state: DocState): DocState {
  const copy = createDocState();
  mergeDocState(copy, state);
  copy.epoch = state.epoch;
  copy.created = state.created;
  copy.deleted = state.deleted;
  return copy;
}

/** A document the batch touched. */
export interface PlannedDoc {
  readonly collection: string;
  readonly id: string;
  /** Its state before the batch, as `load` gave it (never mutated); undefined when no op had touched it. */
  readonly before: DocState | undefined;
  /** Its state after the batch's accepted ops. */
  current: DocState;
  /** Whether an accepted op changed it. */
  dirty: boolean;
}

/** An op a batch accepts now, with the digest of its content (recorded with its id). */
export interface FreshOp {
  readonly op: Op;
  readonly digest: Uint8Array;
}

/** The outcome of {@link planBatch}. */
export interface BatchPlan {
  /** Op ids applied now or known before, in batch order. */
  readonly accepted: string[];
  /** The subset of `accepted` known before the batch (or earlier in it). */
  readonly duplicates: string[];
  readonly refused: { op: Op; refusal: ScreenRefusal }[];
  /** Ops accepted now, with their content digests, to record: each id once, in batch order. */
  readonly fresh: FreshOp[];
  /**
   * Ops whose id is recorded with other content, in batch order. When there is any, nothing was screened or
   * applied: `docs`, `fresh` and `refused` are empty and `accepted` holds only the same-content duplicates.
   */
  readonly conflicts: Op[];
  /** Every document an op reached, in first-touch order. */
  readonly docs: PlannedDoc[];
  /** The conflicts to remember as pending renumberings: content digest and conflicting id. */
  readonly reissues: { readonly content: Uint8Array; readonly origin: string }[];
  /** Pending renumberings settled now: content digest, and the id it was applied under (null: an echo). */
  readonly settled: { readonly content: Uint8Array; readonly id: string | null }[];
  /** The echoes' content digests and ids, to remember. */
  readonly echoed: { readonly content: Uint8Array; readonly id: string }[];
  /** Ops whose write was already accepted under another id: in `accepted` and `duplicates`, not applied. */
  readonly echoes: Op[];
}

/** A recorded digest, as {@link PlanSource.recorded} reports it. */
export type Digest = Uint8Array | null | undefined;

/** What is pending for a content, as {@link PlanSource.reissued} reports it. */
export type Reissue = 'none' | 'fresh' | 'again';

/**
 * What is pending for a content, from the rows holding it (`origin`: the conflicting id, or an echo's id; `id`: the
 * id bound to it; `pending`: renumberings still due), for an op with id `opId`.
 */
export function reissueOf(
  rows: readonly { readonly origin: string; readonly id: string | null; readonly pending: number }[],
  opId: string,
): Reissue {
  if (rows.some((r) => r.origin === opId && r.id === opId)) return 'again';
  const due = rows.filter((r) => Number(r.pending) > 0);
  if (due.length === 0) return 'none';
  return due.some((r) => r.id !== null) ? 'again' : 'fresh';
}

/** What the store knows, for {@link planBatch}. */
export interface PlanSource {
  def(collection: string): CollectionDef;
  /**
   * The digest recorded with an op id: undefined when the id is not recorded, null when it was recorded without
   * one (before digests were kept; it matches any content).
   */
  recorded(opId: string): Digest | Promise<Digest>;
  /** An op's digests; default {@link opDigests} (a store that hashed the op already passes its own). */
  digests?(op: Op): OpDigests;
  /**
   * The pending renumberings of a content (`contentDigest`) for op `opId`: `none`, `fresh` (none of them was
   * applied yet) or `again` (one was: the write conflicted again; or `opId` is a known echo). Without it, a write
   * renumbered twice is applied twice.
   */
  reissued?(content: Uint8Array, opId: string): Reissue | Promise<Reissue>;
  /** A document's state just before the batch (not mutated by the plan), or undefined if no op touched it. */
  load(collection: string, id: string): DocState | undefined | Promise<DocState | undefined>;
}

/** Screens and applies a batch's ops in memory, in order (see the module documentation). */
export async function planBatch(
  request: Pick<ApplyBatchRequest, 'ops' | 'screen'>,
  source: PlanSource,
): Promise<BatchPlan> {
  const plan: BatchPlan = {
    accepted: [],
    duplicates: [],
    refused: [],
    fresh: [],
    conflicts: [],
    docs: [],
    reissues: [],
    settled: [],
    echoed: [],
    echoes: [],
  };
  const memo = new Map<Op, OpDigests>();
  const digestsOf =
    source.digests ??
    ((op: Op) => {
      let d = memo.get(op);
      if (!d) {
        d = opDigests(op);
        memo.set(op, d);
      }
      return d;
    });
  const digestOf = (op: Op) => digestsOf(op).op;
  const firsts = new Map<string, FreshOp>();
  const known = new Set<string>();
  for (const op of request.ops) {
    if (firsts.has(op.id)) continue;
    const digest = digestOf(op);
    firsts.set(op.id, { op, digest });
    const recorded = await source.recorded(op.id);
    if (recorded === undefined) continue;
    if (sameDigest(recorded, digest)) known.add(op.id);
    else plan.conflicts.push(op);
  }
  if (plan.conflicts.length > 0) return conflictPlan(request.ops, known, plan.conflicts);
  const seen = new Set<string>();
  /** Digest of the content each id was accepted with in this batch; ops of another content under it (`late`). */
  const tookAs = new Map<string, Uint8Array>();
  const late: Op[] = [];
  const docs = new Map<string, PlannedDoc>();
  /** Contents (hex) whose pending renumberings this batch settled. */
  const settledNow = new Set<string>();
  for (const op of request.ops) {
    if (seen.has(op.id) || known.has(op.id)) {
      // Another content under an id this batch accepted: a group of pushes (`group-commit.ts`) holding a device's
      // queued push and its restored copy's, which took the same ids. A conflict, never a duplicate of the first.
      const took = tookAs.get(op.id);
      if (took && !sameDigest(took, digestOf(op))) {
        late.push(op);
        continue;
      }
      seen.add(op.id);
      plan.accepted.push(op.id);
      plan.duplicates.push(op.id);
      continue;
    }
    let renumbered: Uint8Array | undefined;
    if (source.reissued) {
      const content = digestsOf(op).content;
      const key = Buffer.from(content).toString('hex');
      const pending = settledNow.has(key) ? 'none' : await source.reissued(content, op.id);
      if (pending === 'again') {
        settledNow.add(key);
        plan.settled.push({ content, id: null });
        plan.echoed.push({ content, id: op.id });
        seen.add(op.id);
        plan.accepted.push(op.id);
        plan.duplicates.push(op.id);
        plan.echoes.push(op);
        continue;
      }
      if (pending === 'fresh') renumbered = content;
    }
    const def = source.def(op.collection);
    const key = `${op.collection}\u0000${op.doc}`;
    let entry = docs.get(key);
    if (!entry) {
      const before = await source.load(op.collection, op.doc);
      entry = {
        collection: op.collection,
        id: op.doc,
        before,
        current: before ? cloneDocState(before) : createDocState(),
        dirty: false,
      };
      docs.set(key, entry);
      plan.docs.push(entry);
    }
    const trial = cloneDocState(entry.current);
    const changed = applyOp(def, trial, op);
    const refusal = request.screen ? request.screen(op, entry.current, cloneDocState(trial), changed) : null;
    if (refusal) {
      plan.refused.push({ op, refusal });
      continue;
    }
    seen.add(op.id);
    plan.accepted.push(op.id);
    if (renumbered) {
      plan.settled.push({ content: renumbered, id: op.id });
      settledNow.add(Buffer.from(renumbered).toString('hex'));
    }
    const first = firsts.get(op.id) as FreshOp;
    const fresh = first.op === op ? first : { op, digest: digestOf(op) };
    plan.fresh.push(fresh);
    tookAs.set(op.id, fresh.digest);
    if (changed) {
      entry.current = trial;
      entry.dirty = true;
    }
  }
  return late.length > 0 ? conflictPlan(request.ops, known, late) : plan;
}

/**
 * The plan of a batch holding op ids recorded (or accepted earlier in it) with other content: nothing of it is
 * applied; the conflicts are remembered as pending renumberings, and ids recorded with the same content are
 * duplicates.
 */
function conflictPlan(ops: readonly Op[], known: ReadonlySet<string>, conflicts: Op[]): BatchPlan {
  const plan: BatchPlan = {
    accepted: [],
    duplicates: [],
    refused: [],
    fresh: [],
    conflicts,
    docs: [],
    reissues: conflicts.map((op) => ({ content: contentDigest(op), origin: op.id })),
    settled: [],
    echoed: [],
    echoes: [],
  };
  for (const op of ops)
    if (known.has(op.id)) {
      plan.accepted.push(op.id);
      plan.duplicates.push(op.id);
    }
  return plan;
}

/** Each replica's highest sequence number among `fresh` ops (what a store raises for `replicaSeq`). */
export function highestSeqs(fresh: readonly FreshOp[]): Map<string, number> {
  const highest = new Map<string, number>();
  for (const { op } of fresh) {
    const { replica, seq } = parseOpId(op.id);
    highest.set(replica, Math.max(highest.get(replica) ?? 0, seq));
  }
  return highest;
}
