/**
 * Screening of one pushed batch: which ops are refused and why, before anything is stored (`admit`) and inside the
 * store's transaction (`screen`), in the order of `relay.ts`'s invariant 2, with `@loam/core`'s `checkOpSchema` and
 * `judgeOp` (the judgement peers run too). An op after a refused op of the same
 * document in the batch is refused too (`depends_on_refused`).
 */
import {
  type Claims,
  type Clock,
  ClockSkewError,
  type CollectionDef,
  checkOpSchema,
  createAccess,
  type DocState,
  decodeTimestamp,
  judgeOp,
  type Op,
  parseOpId,
  type ReplicaId,
  type Rules,
  type Schema,
} from '@loam/core';
import type { Refusal } from '@loam/sync';
import { ServerErrorCode } from '../errors';
import type { Screen, ScreenRefusal } from '../storage/server-store';

/** The screening of one batch. */
export interface BatchScreening {
  /** Checks an op before anything is stored; false (and recorded as refused) when it may not go further. */
  admit(op: Op): boolean;
  /** The store's in-transaction check: the user's rules on the document before and after the op. */
  readonly screen: Screen;
  /** Records a refusal decided elsewhere (by the store). */
  refuse(op: Op, code: string, reason: string): void;
  /** Every refusal, in the order of the ops of `batch`. */
  refusals(batch: readonly Op[]): Refusal[];
  /** The documents of refused ops. */
  refusedDocs(): { collection: string; id: string }[];
}

/** Starts screening a batch pushed by `replica` for a user with `claims`. */
export function createBatchScreening(input: {
  readonly schema: Schema;
  readonly rules: Rules;
  readonly clock: Clock;
  readonly replica: ReplicaId;
  readonly claims: Claims;
}): BatchScreening {
  const { schema, rules, clock, replica, claims } = input;
  const refused = new Map<string, Refusal>();
  const docs = new Map<string, { collection: string; id: string }>();
  const keyOf = (op: Op) => `${op.collection}\u0000${op.doc}`;
  const accessOf = new Map<string, ReturnType<typeof createAccess>>();
  const access = (collection: string) => {
    let a = accessOf.get(collection);
    if (!a) {
      a = createAccess(rules, claims, collection);
      accessOf.set(collection, a);
    }
    return a;
  };
  const refuse = (op: Op, code: string, reason: string) => {
    refused.set(op.id, { op: op.id, collection: op.collection, doc: op.doc, code, reason });
    docs.set(keyOf(op), { collection: op.collection, id: op.doc });
  };
  const dependsOnRefused = {
    code: ServerErrorCode.dependsOnRefused,
    reason: 'An earlier op of this batch on the same document was refused',
  };

  const admit = (op: Op): boolean => {
    if (parseOpId(op.id).replica !== replica || decodeTimestamp(op.ts).replica !== replica) {
      refuse(
        op,
        ServerErrorCode.replicaMismatch,
        `Op ${op.id} is not an op of this connection's replica ${replica}`,
      );
      return false;
    }
    const invalid = checkOpSchema(schema, op);
    if (invalid) {
      refuse(op, invalid.code, invalid.reason);
      return false;
    }
    if (docs.has(keyOf(op))) {
      refuse(op, dependsOnRefused.code, dependsOnRefused.reason);
      return false;
    }
    try {
      clock.receive(op.ts);
    } catch (error) {
      if (!(error instanceof ClockSkewError)) throw error;
      refuse(op, ServerErrorCode.clockSkew, error.message);
      return false;
    }
    return true;
  };

  const screen = (op: Op, before: DocState, after: DocState, changed: boolean): ScreenRefusal | null => {
    if (docs.has(keyOf(op))) return dependsOnRefused;
    if (!changed) return null;
    const refusal = judgeOp(
      schema.collections[op.collection] as CollectionDef,
      access(op.collection),
      op,
      before,
      after,
    );
    if (!refusal) return null;
    docs.set(keyOf(op), { collection: op.collection, id: op.doc });
    return refusal;
  };

  return {
    admit,
    screen,
    refuse,
    refusals: (batch) => batch.flatMap((op) => refused.get(op.id) ?? []),
    refusedDocs: () => [...docs.values()],
  };
}
