/**
 * What a batch does to the documents it touches, decided in memory inside the store's transaction: the one
 * screening loop every {@link ServerStore} runs (invariants 2 and 5 of `server-store.ts`).
 *
 * The store supplies what it knows: whether an op id is already recorded, and each document's state just before
 * the batch. The plan says which ops are new, duplicate or refused, and each touched document's state after the
 * batch; the store then writes the dirty documents and records the new op ids.
 */
import {
  applyOp,
  type CollectionDef,
  createDocState,
  type DocState,
  mergeDocState,
  type Op,
} from '@loam/core';
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

/** The outcome of {@link planBatch}. */
export interface BatchPlan {
  /** Op ids applied now or known before, in batch order. */
  readonly accepted: string[];
  /** The subset of `accepted` known before the batch (or earlier in it). */
  readonly duplicates: string[];
  readonly refused: { op: Op; refusal: ScreenRefusal }[];
  /** Op ids accepted now, to record: each once, in batch order. */
  readonly fresh: string[];
  /** Every document an op reached, in first-touch order. */
  readonly docs: PlannedDoc[];
}

/** What the store knows, for {@link planBatch}. */
export interface PlanSource {
  def(collection: string): CollectionDef;
  /** Whether an op id is recorded already. */
  isKnown(opId: string): boolean | Promise<boolean>;
  /** A document's state just before the batch (not mutated by the plan), or undefined if no op touched it. */
  load(collection: string, id: string): DocState | undefined | Promise<DocState | undefined>;
}

/** Screens and applies a batch's ops in memory, in order (see the module documentation). */
export async function planBatch(
  request: Pick<ApplyBatchRequest, 'ops' | 'screen'>,
  source: PlanSource,
): Promise<BatchPlan> {
  const plan: BatchPlan = { accepted: [], duplicates: [], refused: [], fresh: [], docs: [] };
  const seen = new Set<string>();
  const docs = new Map<string, PlannedDoc>();
  for (const op of request.ops) {
    if (seen.has(op.id) || (await source.isKnown(op.id))) {
      seen.add(op.id);
      plan.accepted.push(op.id);
      plan.duplicates.push(op.id);
      continue;
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
    plan.fresh.push(op.id);
    if (changed) {
      entry.current = trial;
      entry.dirty = true;
    }
  }
  return plan;
}
