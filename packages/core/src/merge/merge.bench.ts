/**
 * Merge benchmarks: raw field-op throughput, and lists/text through Loam's op layer against plain Yjs.
 */
import * as Y from 'yjs';
import type { Bench } from '../../../../test/bench/bench';
import { bestOf } from '../../../../test/bench/bench';
import { encodeTimestamp } from '../clock/hlc';
import { asDocId, asReplicaId, createOpId, type DocId } from '../ids/ids';
import { decodeOps, encodeOps } from '../ops/codec';
import type { Op } from '../ops/ops';
import { defineSchema, f } from '../schema/schema';
import { createMemoryReplica } from './memory-replica';
import { createMemoryState } from './memory-state';

const schema = defineSchema({
  version: 1,
  collections: {
    products: {
      fields: {
        name: f.string(),
        price: f.number(),
        category: f.string({ optional: true }),
        active: f.boolean({ default: true }),
        supplier: f.object({ city: f.string(), zip: f.string() }, { optional: true }),
        stock: f.counter(),
        tags: f.list<string>(),
        note: f.text(),
      },
    },
  },
});

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const FIELD_OPS = 100_000;
const DOCS = 1_000;

function randomFieldOps(): { creates: Op[]; ops: Op[] } {
  const rnd = lcg(7);
  const replicas = ['a', 'b', 'c'].map((c) => asReplicaId(c.repeat(16)));
  const seqs = [0, 0, 0];
  const ids: DocId[] = Array.from({ length: DOCS }, (_, i) => asDocId(`p${i}`));
  let wall = 1_750_000_000_000;
  const header = (doc: DocId) => {
    const r = Math.floor(rnd() * 3);
    seqs[r]! += 1;
    wall += Math.floor(rnd() * 3);
    const replica = replicas[r]!;
    return {
      id: createOpId(replica, seqs[r]!),
      ts: encodeTimestamp({ wall, counter: seqs[r]! & 0xffff, replica }),
      collection: 'products',
      doc,
      epoch: 0,
    };
  };
  const creates: Op[] = ids.map((doc) => ({
    ...header(doc),
    kind: 'create',
    values: { name: doc, price: 1, stock: 10 },
  }));
  const ops: Op[] = [];
  for (let i = 0; i < FIELD_OPS; i++) {
    const doc = ids[Math.floor(rnd() * DOCS)]!;
    const r = rnd();
    if (r < 0.3)
      ops.push({ ...header(doc), kind: 'set', path: 'price', value: Math.floor(rnd() * 1000) / 100 });
    else if (r < 0.5)
      ops.push({ ...header(doc), kind: 'set', path: 'name', value: `n${Math.floor(rnd() * 1e6)}` });
    else if (r < 0.6) ops.push({ ...header(doc), kind: 'set', path: 'supplier.city', value: 'Lyon' });
    else if (r < 0.7) ops.push({ ...header(doc), kind: 'set', path: 'active', value: rnd() < 0.5 });
    else ops.push({ ...header(doc), kind: 'increment', field: 'stock', by: -1 });
  }
  // Delivered out of timestamp order, as they would be from several replicas.
  for (let i = ops.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [ops[i], ops[j]] = [ops[j]!, ops[i]!];
  }
  return { creates, ops };
}

const EDITS = 5_000;

/** One typist's edits on replica A, delivered to replica B, through Loam's op layer (with wire encoding). */
function loamEdits(kind: 'text' | 'list'): void {
  let wall = 1_750_000_000_000;
  const now = () => wall++;
  const a = createMemoryReplica({ schema, replica: asReplicaId('editora000000000'), now });
  const b = createMemoryReplica({ schema, replica: asReplicaId('editorb000000000'), now });
  const { id, ops } = a.insert('products', { name: 'x', price: 1 });
  b.receive(ops);
  const rnd = lcg(3);
  for (let i = 0; i < EDITS; i++) {
    const at = Math.floor(rnd() * (i + 1));
    const edit =
      kind === 'text'
        ? a.textInsert('products', id, 'note', at, 'ab')
        : a.listInsert('products', id, 'tags', at, ['ab']);
    b.receive(decodeOps(encodeOps(edit)));
  }
}

/** The same edits with plain Yjs: a Y.Doc per replica, updates passed from A to B. */
function plainYjsEdits(kind: 'text' | 'list'): void {
  const a = new Y.Doc();
  const b = new Y.Doc();
  a.on('update', (u: Uint8Array) => Y.applyUpdate(b, u));
  const rnd = lcg(3);
  for (let i = 0; i < EDITS; i++) {
    const at = Math.floor(rnd() * (i + 1));
    if (kind === 'text') a.getText('v').insert(at, 'ab');
    else a.getArray<string>('v').insert(at, ['ab']);
  }
}

export const benches: Bench[] = [
  {
    name: `core: merge ${FIELD_OPS / 1000}k field ops (LWW sets, nested paths, counter increments)`,
    run() {
      const { creates, ops } = randomFieldOps();
      const loamMs = bestOf(5, () => {
        const state = createMemoryState(schema);
        for (const op of creates) state.apply(op);
        for (const op of ops) state.apply(op);
      });
      const plainMs = bestOf(5, () => {
        const docs = new Map<string, Record<string, unknown>>();
        for (const op of creates) docs.set(op.doc, { ...(op as { values: object }).values });
        for (const op of ops) {
          const doc = docs.get(op.doc)!;
          if (op.kind === 'set') doc[op.path] = op.value;
          else if (op.kind === 'increment') doc[op.field] = (doc[op.field] as number) + op.by;
        }
      });
      return {
        figure: ops.length / (loamMs / 1000),
        unit: 'ops/s',
        higherIsBetter: true,
        baseline: { name: 'plain object assignment (no merge)', figure: ops.length / (plainMs / 1000) },
        notes: `${DOCS} docs, ops shuffled out of timestamp order`,
      };
    },
  },
  ...(['text', 'list'] as const).map(
    (kind): Bench => ({
      name: `core: ${kind} edits through Loam ops vs plain Yjs (${EDITS / 1000}k inserts, A → B)`,
      run() {
        const loamMs = bestOf(3, () => loamEdits(kind));
        const yjsMs = bestOf(3, () => plainYjsEdits(kind));
        return {
          figure: EDITS / (loamMs / 1000),
          unit: 'edits/s',
          higherIsBetter: true,
          baseline: { name: 'plain Yjs', figure: EDITS / (yjsMs / 1000) },
          target: 0.8,
          notes: 'Loam includes validation, HLC, op ids and wire encoding',
        };
      },
    }),
  ),
];
