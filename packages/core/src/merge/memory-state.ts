/**
 * An in-memory replica state: every document of every collection, merged with `applyOp`.
 *
 * Used by tests, the convergence fuzzer and benchmarks, and as the reference the SQLite engine must agree with.
 * It keeps no op log: `applyOp` is idempotent, so duplicates are harmless.
 */
import { encode } from '@msgpack/msgpack';
import type { Op } from '../ops/ops';
import { getCollection, type Schema } from '../schema/schema';
import {
  applyOp,
  canonicalDocState,
  checkOpShape,
  createDocState,
  type DocState,
  type MaterializedDoc,
  materialize,
} from './doc-state';
import { mergeDocState } from './snapshot';

/** All documents of a replica, in memory. */
export interface MemoryState {
  readonly schema: Schema;
  /** Applies one op (after checking its shape against the schema); true when something changed. */
  apply(op: Op): boolean;
  /** Joins a document snapshot (e.g. from the server) into this state; true when something changed. */
  mergeState(collection: string, id: string, incoming: DocState): boolean;
  /** The merge state of a document, if any op touched it. */
  getState(collection: string, id: string): DocState | undefined;
  /** The materialized document, or undefined when it does not exist. */
  get(collection: string, id: string): MaterializedDoc | undefined;
  /** Every existing document of a collection, sorted by id. */
  list(collection: string): MaterializedDoc[];
  /** Bytes that are equal for two replicas exactly when their whole merge states are equal. */
  canonical(): Uint8Array;
}

/** Creates an empty in-memory replica state for `schema`. */
export function createMemoryState(schema: Schema): MemoryState {
  const collections = new Map<string, Map<string, DocState>>();
  const docsOf = (collection: string) => {
    let docs = collections.get(collection);
    if (!docs) {
      docs = new Map();
      collections.set(collection, docs);
    }
    return docs;
  };
  return {
    schema,
    apply(op) {
      const col = getCollection(schema, op.collection);
      checkOpShape(col, op);
      const docs = docsOf(op.collection);
      let state = docs.get(op.doc);
      if (!state) {
        state = createDocState();
        docs.set(op.doc, state);
      }
      return applyOp(col, state, op);
    },
    mergeState(collection, id, incoming) {
      getCollection(schema, collection);
      const docs = docsOf(collection);
      let state = docs.get(id);
      if (!state) {
        state = createDocState();
        docs.set(id, state);
      }
      return mergeDocState(state, incoming);
    },
    getState(collection, id) {
      return collections.get(collection)?.get(id);
    },
    get(collection, id) {
      const state = collections.get(collection)?.get(id);
      return state && materialize(getCollection(schema, collection), id, state);
    },
    list(collection) {
      const col = getCollection(schema, collection);
      const out: MaterializedDoc[] = [];
      for (const [id, state] of [...(collections.get(collection) ?? [])].sort(([a], [b]) =>
        a < b ? -1 : 1,
      )) {
        const doc = materialize(col, id, state);
        if (doc) out.push(doc);
      }
      return out;
    },
    canonical() {
      const names = [...collections.keys()].sort();
      return encode(
        names.map((name) => {
          const col = getCollection(schema, name);
          const docs = [...(collections.get(name) ?? [])].sort(([a], [b]) => (a < b ? -1 : 1));
          return [name, docs.map(([id, state]) => [id, canonicalDocState(col, state)])];
        }),
      );
    },
  };
}
