/**
 * Screening of one op against the schema and a user's rules: the one judgement the relay (for pushed and
 * forwarded batches) and peers (for transactions received offline) both run, so a write refused by one is refused
 * by the other for the same reason.
 *
 * `checkOpSchema` needs only the op; `judgeOp` needs the document's merge state before and after the op (the
 * receiver's own state: the relay's stored document, a peer's local copy).
 */
import * as Y from 'yjs';
import type { Problem } from '../errors';
import { checkOpShape, type DocState, materialize } from '../merge/doc-state';
import { type Op, touchedFields } from '../ops/ops';
import { type CollectionDef, fieldAt, type Schema } from '../schema/schema';
import { checkFieldValue, validate } from '../schema/validate';
import type { Access } from './access';

/** Why an op is refused: a stable code (`schema_invalid`, `permission_denied`, a `DenialCode`) and a reason. */
export interface OpRefusal {
  readonly code: string;
  readonly reason: string;
}

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

/** Refuses an op of an unknown collection, of the wrong shape, or whose values break the schema. */
export function checkOpSchema(schema: Schema, op: Op): OpRefusal | null {
  const col = Object.hasOwn(schema.collections, op.collection)
    ? schema.collections[op.collection]
    : undefined;
  if (!col) return { code: 'schema_invalid', reason: `Unknown collection "${op.collection}"` };
  try {
    checkOpShape(col, op);
  } catch (error) {
    return { code: 'schema_invalid', reason: (error as Error).message };
  }
  const problems = schemaProblems(col, op);
  if (problems.length > 0)
    return {
      code: 'schema_invalid',
      reason: `Invalid ${op.collection} ${op.kind}: ${describeProblems(problems)}`,
    };
  return null;
}

/** The fields a create actually writes: those whose value differs from the schema's default. */
function createdFields(col: CollectionDef, op: Op & { kind: 'create' }): string[] {
  return Object.entries(op.values)
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

/**
 * Judges an op that changed its document (`before` → `after`) under `access` (the author's rules for the op's
 * collection): a delete needs the delete right on the document as it was; any other op needs the document to
 * exist after it and the insert or update rights for the fields it writes.
 */
export function judgeOp(
  col: CollectionDef,
  access: Access,
  op: Op,
  before: DocState,
  after: DocState,
): OpRefusal | null {
  const beforeDoc = materialize(col, op.doc, before);
  const afterDoc = materialize(col, op.doc, after);
  let decision: { ok: true } | { ok: false; code: string; reason: string };
  if (op.kind === 'delete') {
    decision = beforeDoc
      ? access.checkWrite({ kind: 'delete', before: beforeDoc })
      : { ok: false, code: 'row_denied', reason: 'The document does not exist' };
  } else if (!afterDoc) {
    decision = {
      ok: false,
      code: 'row_denied',
      reason: beforeDoc
        ? 'The op belongs to an incarnation of the document the receiver does not have'
        : 'The document does not exist',
    };
  } else {
    const touched = op.kind === 'create' ? createdFields(col, op) : touchedFields(op);
    decision = beforeDoc
      ? access.checkWrite({ kind: 'update', before: beforeDoc, after: afterDoc, touchedFields: touched })
      : access.checkWrite({ kind: 'insert', after: afterDoc, touchedFields: touched });
  }
  if (decision.ok) return null;
  return { code: decision.code === 'no_role' ? 'permission_denied' : decision.code, reason: decision.reason };
}
