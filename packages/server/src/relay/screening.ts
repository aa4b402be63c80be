/**
 * Screening of one pushed batch: which ops are refused and why, before anything is stored (`admit`) and inside the
 * store's transaction (`screen`), in the order of `relay.ts`'s invariant 2. An op after a refused op of the same
 * document in the batch is refused too (`depends_on_refused`).
 */
import {
  type Claims,
  type Clock,
  ClockSkewError,
  type CollectionDef,
  checkFieldValue,
  checkOpShape,
  createAccess,
  type DocState,
  decodeTimestamp,
  fieldAt,
  materialize,
  type Op,
  type Problem,
  parseOpId,
  type ReplicaId,
  type Rules,
  type Schema,
  touchedFields,
  validate,
} from '@loam/core';
import type { Refusal } from '@loam/sync';
import * as Y from 'yjs';
import { ServerErrorCode } from '../errors';
import type { Screen, ScreenRefusal } from '../storage/server-store';

const DENIAL_TO_REFUSAL: Record<string, string> = { no_role: ServerErrorCode.permissionDenied };

function schemaProblems(col: CollectionDef, op: Op): Problem[] {
  const problems: Problem[] = [];
  switch (op.kind) {
    case 'create':
      return validate(col, op.values, 'insert');
    case 'set': {
      const def = fieldAt(col, op.path);
      const path = op.path.split('.');
      if (!def) problems.push({ path, expected: 'a field of the schema', found: 'no such field' });
      else if (op.value === null) {
        if (!def.optional) problems.push({ path, expected: def.kind, found: 'null' });
      } else checkFieldValue(def, op.value, path, problems);
      return problems;
    }
    case 'increment':
      if (!Number.isSafeInteger(op.by))
        problems.push({ path: [op.field], expected: 'integer', found: String(op.by) });
      return problems;
    case 'yjs':
      try {
        Y.applyUpdate(new Y.Doc(), op.update);
      } catch {
        problems.push({ path: [op.field], expected: 'a Yjs update', found: 'malformed bytes' });
      }
      return problems;
    case 'delete':
      return problems;
  }
}

function describeProblems(problems: readonly Problem[]): string {
  return problems
    .map(
      (p) => `${p.path.length ? p.path.join('.') : '(document)'}: expected ${p.expected}, found ${p.found}`,
    )
    .join('; ');
}

/** The fields a create actually writes: those whose value differs from the schema's default. */
function createdFields(col: CollectionDef, values: Op & { kind: 'create' }): string[] {
  return Object.entries(values.values)
    .filter(([name, v]) => {
      const def = col.fields[name];
      if (!def) return true;
      if (def.kind === 'counter') return v !== (def.default ?? 0);
      if ('default' in def && def.default !== undefined)
        return JSON.stringify(v) !== JSON.stringify(def.default);
      return v !== null;
    })
    .map(([name]) => name);
}

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
    const col = Object.hasOwn(schema.collections, op.collection)
      ? schema.collections[op.collection]
      : undefined;
    if (!col) {
      refuse(op, ServerErrorCode.schemaInvalid, `Unknown collection "${op.collection}"`);
      return false;
    }
    try {
      checkOpShape(col, op);
    } catch (error) {
      refuse(op, ServerErrorCode.schemaInvalid, (error as Error).message);
      return false;
    }
    const problems = schemaProblems(col, op);
    if (problems.length > 0) {
      refuse(
        op,
        ServerErrorCode.schemaInvalid,
        `Invalid ${op.collection} ${op.kind}: ${describeProblems(problems)}`,
      );
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
    const col = schema.collections[op.collection] as CollectionDef;
    const a = access(op.collection);
    const beforeDoc = materialize(col, op.doc, before);
    const afterDoc = materialize(col, op.doc, after);
    let decision: { ok: true } | { ok: false; code: string; reason: string };
    if (op.kind === 'delete') {
      decision = beforeDoc
        ? a.checkWrite({ kind: 'delete', before: beforeDoc })
        : { ok: false, code: ServerErrorCode.rowDenied, reason: 'The document does not exist' };
    } else if (!afterDoc) {
      decision = {
        ok: false,
        code: ServerErrorCode.rowDenied,
        reason: beforeDoc
          ? 'The op belongs to an incarnation of the document the server does not have'
          : 'The document does not exist',
      };
    } else {
      const touched = op.kind === 'create' ? createdFields(col, op) : touchedFields(op);
      decision = beforeDoc
        ? a.checkWrite({ kind: 'update', before: beforeDoc, after: afterDoc, touchedFields: touched })
        : a.checkWrite({ kind: 'insert', after: afterDoc, touchedFields: touched });
    }
    if (decision.ok) return null;
    docs.set(keyOf(op), { collection: op.collection, id: op.doc });
    return { code: DENIAL_TO_REFUSAL[decision.code] ?? decision.code, reason: decision.reason };
  };

  return {
    admit,
    screen,
    refuse,
    refusals: (batch) => batch.flatMap((op) => refused.get(op.id) ?? []),
    refusedDocs: () => [...docs.values()],
  };
}
