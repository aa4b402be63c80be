/**
 * The relay's write path: every batch (a device's push or a backend write) is screened op by op and committed
 * durably; listeners (sessions, webhooks) learn of commits from the store's commit feed, in version order, whether
 * this process or another relay node sharing the store committed them.
 *
 * Invariants:
 * 1. **Commits reach listeners in version order.** Listeners see every version once, in order, from the store's
 *    commit feed (`ServerStore.commits`), so a session's downloads follow the server's change counter. Pushes
 *    reach the store concurrently (a store may group them into one transaction); backend writes run one at a
 *    time.
 * 2. **Screening before anything is stored.** A pushed op is refused, in this order, when its id or timestamp
 *    names another replica than the session's (`replica_mismatch`), its timestamp is beyond the skew bound
 *    (`clock_skew`), it does not fit the schema (`schema_invalid`), an earlier op of the batch on the same document
 *    was refused (`depends_on_refused`), or the user's rules forbid it (`insert_denied`, `delete_denied`,
 *    `row_denied`, `field_denied`, `permission_denied`). A write to a document that does not exist (other than a
 *    create) or an op that would start a new incarnation without a create is `row_denied`. Ops that change nothing
 *    (duplicates, stale epochs, writes that lose) are accepted: they store nothing.
 * 3. **Refused ops are invisible.** They are neither stored nor recorded, so no listener ever sees them.
 * 4. **Backend writes** are ops of the server's own replica, produced by `createWriter` (validated against the
 *    schema first); their sequence numbers and the clock are saved with the batch.
 */
import {
  type Claims,
  type Clock,
  ClockSkewError,
  type CollectionDef,
  checkFieldValue,
  checkOpShape,
  createAccess,
  createWriter,
  type DocState,
  decodeTimestamp,
  fieldAt,
  getCollection,
  type MaterializedDoc,
  materialize,
  type Op,
  type Problem,
  parseOpId,
  type ReplicaId,
  type Rules,
  type Schema,
  touchedFields,
  validate,
  type Writer,
} from '@loam/core';
import type { Refusal } from '@loam/sync';
import * as Y from 'yjs';
import { ServerErrorCode } from '../errors';
import type { CommitSource, CommittedDocChange, ScreenRefusal, ServerStore } from '../storage/server-store';
import { commitView } from './commit-view';

/** A committed document change, with its materialized after image (undefined: not live). */
export interface CommittedChange extends CommittedDocChange {
  readonly afterDoc: MaterializedDoc | undefined;
}

/** A committed version, as listeners see it. */
export interface Commit {
  readonly version: number;
  /** Wall time of the commit (Unix ms, the committing node's clock). */
  readonly at: number;
  readonly changes: readonly CommittedChange[];
  /** `device` for pushes, `backend` for HTTP API writes. */
  readonly source: CommitSource;
}

/** The outcome of a push. */
export interface PushOutcome {
  readonly accepted: readonly string[];
  readonly refused: readonly Refusal[];
  /** The documents of refused ops (to send their authoritative state). */
  readonly refusedDocs: readonly { readonly collection: string; readonly id: string }[];
  readonly version: number;
}

/** What a backend write's callback gets. */
export interface BackendWriteContext {
  readonly writer: Writer;
  /** The stored state of a document (a private copy the callback may edit). */
  state(collection: string, id: string): Promise<DocState | undefined>;
}

/** The write path. */
export interface Relay {
  readonly replica: ReplicaId;
  readonly schema: Schema;
  readonly rules: Rules;
  /** The newest version announced to listeners. */
  version(): number;
  /**
   * Waits until listeners were given `version` when some relay node sharing the store committed it (a device's
   * cursor from another node); resolves at once for a version nobody committed.
   */
  reach(version: number): Promise<void>;
  /** Screens and commits a device's batch (see invariant 2); resolves once durable. */
  push(input: {
    readonly replica: ReplicaId;
    readonly claims: Claims;
    readonly ops: readonly Op[];
  }): Promise<PushOutcome>;
  /**
   * Runs `fn` in the write queue to produce ops with the server's writer, and commits them. If `fn` throws,
   * nothing is stored and the sequence numbers it used are reused.
   */
  backendWrite<T>(fn: (ctx: BackendWriteContext) => Promise<{ ops: Op[]; result: T }>): Promise<T>;
  /** Registers a listener of commits (called synchronously, in version order); returns unsubscribe. */
  onCommit(listener: (commit: Commit) => void): () => void;
  /**
   * Registers a listener called when versions were lost to this process (the store folded them away while it
   * lagged): views built from commits must be rebuilt from the store. Returns unsubscribe.
   */
  onGap(listener: () => void): () => void;
  /** Waits for pushes and backend writes in progress to finish. */
  drain(): Promise<void>;
}

/** Options of {@link createRelay}. */
export interface RelayOptions {
  readonly store: ServerStore;
  readonly schema: Schema;
  readonly rules: Rules;
  readonly clock: Clock;
  readonly nextSeq: number;
  readonly now?: () => number;
}

const DENIAL_TO_REFUSAL: Record<string, string> = { no_role: 'permission_denied' };

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

/** Creates the write path over a store. */
export function createRelay(options: RelayOptions): Relay {
  const { store, schema, rules, clock } = options;
  const listeners = new Set<(commit: Commit) => void>();
  const gapListeners = new Set<() => void>();
  let nextSeq = options.nextSeq;
  let queue: Promise<unknown> = Promise.resolve();
  const inFlight = new Set<Promise<unknown>>();

  const enqueue = <T>(task: () => Promise<T>): Promise<T> => {
    const run = queue.then(task, task);
    queue = run.catch(() => undefined);
    return track(run);
  };
  const concurrent = <T>(task: () => Promise<T>): Promise<T> => track(task());
  const track = <T>(run: Promise<T>): Promise<T> => {
    inFlight.add(run);
    const done = () => inFlight.delete(run);
    run.then(done, done);
    return run;
  };

  store.commits.subscribe((event) => {
    if (event.t === 'commit') {
      const commit = commitView(schema, event.commit);
      for (const listener of listeners) listener(commit);
    } else for (const listener of gapListeners) listener();
  });

  const relay: Relay = {
    replica: clock.replica,
    schema,
    rules,
    version: () => store.commits.position(),
    reach: (v) => (v > store.commits.position() ? store.commits.reach(v) : Promise.resolve()),

    push({ replica, claims, ops }) {
      return concurrent(async () => {
        const refused: Refusal[] = [];
        const refusedDocs = new Map<string, { collection: string; id: string }>();
        const candidates: Op[] = [];
        const refuse = (op: Op, code: string, reason: string) => {
          refused.push({ op: op.id, collection: op.collection, doc: op.doc, code, reason });
          refusedDocs.set(`${op.collection}\u0000${op.doc}`, { collection: op.collection, id: op.doc });
        };
        for (const op of ops) {
          const key = `${op.collection}\u0000${op.doc}`;
          if (parseOpId(op.id).replica !== replica || decodeTimestamp(op.ts).replica !== replica) {
            refuse(
              op,
              ServerErrorCode.replicaMismatch,
              `Op ${op.id} is not an op of this connection's replica ${replica}`,
            );
            continue;
          }
          const col = Object.hasOwn(schema.collections, op.collection)
            ? schema.collections[op.collection]
            : undefined;
          if (!col) {
            refuse(op, ServerErrorCode.schemaInvalid, `Unknown collection "${op.collection}"`);
            continue;
          }
          try {
            checkOpShape(col, op);
          } catch (error) {
            refuse(op, ServerErrorCode.schemaInvalid, (error as Error).message);
            continue;
          }
          const problems = schemaProblems(col, op);
          if (problems.length > 0) {
            refuse(
              op,
              ServerErrorCode.schemaInvalid,
              `Invalid ${op.collection} ${op.kind}: ${describeProblems(problems)}`,
            );
            continue;
          }
          if (refusedDocs.has(key)) {
            refuse(
              op,
              ServerErrorCode.dependsOnRefused,
              'An earlier op of this batch on the same document was refused',
            );
            continue;
          }
          try {
            clock.receive(op.ts);
          } catch (error) {
            if (!(error instanceof ClockSkewError)) throw error;
            refuse(op, ServerErrorCode.clockSkew, error.message);
            continue;
          }
          candidates.push(op);
        }
        const accessOf = new Map<string, ReturnType<typeof createAccess>>();
        const access = (collection: string) => {
          let a = accessOf.get(collection);
          if (!a) {
            a = createAccess(rules, claims, collection);
            accessOf.set(collection, a);
          }
          return a;
        };
        const screen = (
          op: Op,
          before: DocState,
          after: DocState,
          changed: boolean,
        ): ScreenRefusal | null => {
          const key = `${op.collection}\u0000${op.doc}`;
          if (refusedDocs.has(key)) {
            return {
              code: ServerErrorCode.dependsOnRefused,
              reason: 'An earlier op of this batch on the same document was refused',
            };
          }
          if (!changed) return null;
          const col = schema.collections[op.collection] as CollectionDef;
          const a = access(op.collection);
          const beforeDoc = materialize(col, op.doc, before);
          const afterDoc = materialize(col, op.doc, after);
          let decision: { ok: true } | { ok: false; code: string; reason: string };
          if (op.kind === 'delete') {
            decision = beforeDoc
              ? a.checkWrite({ kind: 'delete', before: beforeDoc })
              : { ok: false, code: 'row_denied', reason: 'The document does not exist' };
          } else if (!afterDoc) {
            decision = {
              ok: false,
              code: 'row_denied',
              reason: beforeDoc
                ? 'The op belongs to an incarnation of the document the server does not have'
                : 'The document does not exist',
            };
          } else if (!beforeDoc) {
            const touched = op.kind === 'create' ? createdFields(col, op) : touchedFields(op);
            decision = a.checkWrite({ kind: 'insert', after: afterDoc, touchedFields: touched });
          } else {
            const touched = op.kind === 'create' ? createdFields(col, op) : touchedFields(op);
            decision = a.checkWrite({
              kind: 'update',
              before: beforeDoc,
              after: afterDoc,
              touchedFields: touched,
            });
          }
          if (decision.ok) return null;
          refusedDocs.set(key, { collection: op.collection, id: op.doc });
          return { code: DENIAL_TO_REFUSAL[decision.code] ?? decision.code, reason: decision.reason };
        };
        const result = await store.applyBatch({
          ops: candidates,
          screen,
          clock: clock.last(),
          now: (options.now ?? Date.now)(),
          source: 'device',
        });
        for (const r of result.refused) {
          refused.push({
            op: r.op.id,
            collection: r.op.collection,
            doc: r.op.doc,
            code: r.refusal.code,
            reason: r.refusal.reason,
          });
        }
        const order = new Map<string, number>(ops.map((op, i) => [op.id, i]));
        refused.sort((x, y) => (order.get(x.op) ?? 0) - (order.get(y.op) ?? 0));
        return {
          accepted: result.accepted,
          refused,
          refusedDocs: [...refusedDocs.values()],
          version: result.version,
        };
      });
    },

    backendWrite(fn) {
      return enqueue(async () => {
        const writer = createWriter({ schema, clock, nextSeq });
        const { ops, result } = await fn({
          writer,
          state: async (collection, id) => {
            getCollection(schema, collection);
            return (await store.getDoc(collection, id))?.state;
          },
        });
        if (ops.length === 0) return result;
        for (const op of ops) checkOpShape(getCollection(schema, op.collection), op);
        await store.applyBatch({
          ops,
          clock: clock.last(),
          nextSeq: writer.nextSeq(),
          now: (options.now ?? Date.now)(),
          source: 'backend',
        });
        nextSeq = writer.nextSeq();
        return result;
      });
    },

    onCommit(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    onGap(listener) {
      gapListeners.add(listener);
      return () => gapListeners.delete(listener);
    },

    async drain() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
  return relay;
}
