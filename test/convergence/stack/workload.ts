/**
 * What the real-stack fuzzer writes: a schema with every field kind, rules with a role that may neither write one
 * field nor delete (so the relay refuses some writes and sends compensating states), and random transactions of
 * several write intents of every kind, through the engine's public API.
 */
import { defineSchema, f, type Rules, type WriteIntent, writeIntent } from '@loam/core';
import type { EngineWrites } from '@loam/store';
import { createRng, type Rng } from '../random';

/** Every field kind; `items` documents come and go, the one `tallies` document only counts. */
export const stackSchema = defineSchema({
  version: 1,
  collections: {
    items: {
      fields: {
        name: f.string(),
        price: f.number({ indexed: true }),
        active: f.boolean({ default: true }),
        seen: f.date({ optional: true }),
        meta: f.json({ optional: true }),
        owner: f.ref('items', { optional: true }),
        place: f.object(
          {
            city: f.string(),
            zip: f.string({ optional: true }),
            geo: f.object({ lat: f.number(), lng: f.number() }, { optional: true }),
          },
          { optional: true },
        ),
        secret: f.string({ optional: true }),
        stock: f.counter(),
        tags: f.list<string | number>(),
        note: f.text(),
      },
    },
    tallies: { fields: { n: f.counter() } },
  },
});

/** `full` may do anything; `clerk` may not write `secret` nor delete. Everyone reads everything. */
export const stackRules: Rules = {
  items: {
    roles: [
      {
        name: 'full',
        applyWhen: { op: 'eq', field: 'role', value: 'full' },
        read: true,
        write: true,
        insert: true,
        delete: true,
      },
      {
        name: 'clerk',
        applyWhen: { op: 'eq', field: 'role', value: 'clerk' },
        read: true,
        write: true,
        insert: true,
        delete: false,
        fields: {
          write: ['name', 'price', 'active', 'seen', 'meta', 'owner', 'place', 'stock', 'tags', 'note'],
        },
      },
    ],
  },
  tallies: { roles: [{ name: 'anyone', read: true, write: true, insert: false, delete: false }] },
};

/** The counter every device increments; created once by a backend write, never deleted nor reset. */
export const TALLY = 'tally';

/** Which kinds of writes a run makes. */
export interface WorkloadKinds {
  /** Dotted-path updates into the object field. */
  readonly nested: boolean;
  /** Writes to `secret` and deletes by the clerk (refused by the relay). */
  readonly refusals: boolean;
}

const IDS = ['a', 'b', 'c', 'd', 'e', 'f'].map((s) => `item-${s}`);
const WORDS = ['tea', 'café', '𝄞clef', 'x', '', 'long word here'];

function scalar(rng: Rng, field: string): unknown {
  switch (field) {
    case 'name':
      return rng.pick(WORDS);
    case 'price':
      return rng.pick([0, 1, 2.5, -3, 1e9, rng.int(0, 100) / 4]);
    case 'active':
      return rng.chance(0.5);
    case 'seen':
      return rng.chance(0.2) ? undefined : new Date(1_700_000_000_000 + rng.int(0, 1e6));
    case 'meta':
      return rng.chance(0.2)
        ? undefined
        : rng.pick([{ a: 1 }, [1, 'two', null], 'plain', { n: { d: [true] } }]);
    case 'owner':
      return rng.chance(0.3) ? undefined : rng.pick(IDS);
    case 'secret':
      return rng.chance(0.2) ? undefined : rng.pick(WORDS);
    case 'place':
      return rng.chance(0.2)
        ? undefined
        : {
            city: rng.pick(WORDS),
            ...(rng.chance(0.5) ? { zip: String(rng.int(1000, 9999)) } : {}),
            ...(rng.chance(0.5) ? { geo: { lat: rng.int(-90, 90), lng: rng.int(-180, 180) } } : {}),
          };
    default:
      throw new Error(`no generator for ${field}`);
  }
}

/** One random intent for the current state of the pool; undefined when the pick makes no sense (skipped). */
async function randomIntent(
  tx: EngineWrites,
  rng: Rng,
  kinds: WorkloadKinds,
): Promise<WriteIntent | undefined> {
  if (rng.chance(0.15)) return writeIntent.increment('tallies', TALLY, 'n', rng.pick([1, 2, 3, -1]));
  const id = rng.pick(IDS);
  const live = await tx.get('items', id);
  if (!live) {
    const doc: Record<string, unknown> = { id, name: rng.pick(WORDS), price: rng.int(0, 50) };
    for (const field of ['active', 'seen', 'meta', 'owner', 'place'] as const)
      if (rng.chance(0.5)) doc[field] = scalar(rng, field);
    if (kinds.refusals && rng.chance(0.2)) doc.secret = scalar(rng, 'secret');
    if (rng.chance(0.5)) doc.stock = rng.int(0, 20);
    if (rng.chance(0.3)) doc.tags = ['t0'];
    if (rng.chance(0.3)) doc.note = 'hello';
    return rng.chance(0.3) ? writeIntent.upsert('items', id, doc) : writeIntent.insert('items', doc);
  }
  const r = rng();
  if (r < 0.07) return writeIntent.delete('items', id);
  if (r < 0.12) return writeIntent.upsert('items', id, { name: rng.pick(WORDS), price: rng.int(0, 9) });
  if (r < 0.35) {
    const fields = ['name', 'price', 'active', 'seen', 'meta', 'owner', 'place'];
    if (kinds.refusals) fields.push('secret');
    const patch: Record<string, unknown> = {};
    for (let i = rng.int(1, 3); i > 0; i--) {
      const field = rng.pick(fields);
      const value = scalar(rng, field);
      if (value !== undefined || (field !== 'name' && field !== 'price')) patch[field] = value;
    }
    return writeIntent.update('items', id, patch);
  }
  if (r < 0.42 && kinds.nested && live.place !== undefined && live.place !== null) {
    const path = rng.pick(['place.city', 'place.zip', 'place.geo']);
    const value =
      path === 'place.city'
        ? rng.pick(WORDS)
        : path === 'place.zip'
          ? rng.pick([undefined, String(rng.int(1000, 9999))])
          : rng.pick([undefined, { lat: rng.int(-90, 90), lng: rng.int(-180, 180) }]);
    return writeIntent.update('items', id, { [path]: value });
  }
  if (r < 0.55) return writeIntent.increment('items', id, 'stock', rng.pick([-1, 1, 2, -5]));
  if (r < 0.58) return writeIntent.update('items', id, { stock: rng.int(0, 100) });
  const tags = live.tags as unknown[];
  const note = live.note as string;
  if (r < 0.7)
    return writeIntent.listInsert('items', id, 'tags', rng.int(0, tags.length), [rng.pick(['x', 7])]);
  if (r < 0.76 && tags.length > 0) {
    const index = rng.int(0, tags.length - 1);
    return writeIntent.listDelete('items', id, 'tags', index, rng.int(1, tags.length - index));
  }
  if (r < 0.9)
    return writeIntent.textInsert('items', id, 'note', rng.int(0, note.length), rng.pick(['a', '😀', ' ']));
  if (note.length > 0) {
    const index = rng.int(0, note.length - 1);
    return writeIntent.textDelete('items', id, 'note', index, rng.int(1, Math.min(3, note.length - index)));
  }
  return rng.chance(0.5)
    ? writeIntent.update('items', id, { note: rng.pick(['replaced', 'Hello world']) })
    : writeIntent.update('items', id, { tags: ['r1', 'r2'] });
}

/** Thrown by a transaction the workload abandons on purpose. */
export class Abandoned extends Error {}

/**
 * A random transaction of 1–4 writes; with `throwAt`, it throws (rolls back) after that many writes. Writes the
 * engine refuses (`not_found` on a document another transaction deleted...) throw too and roll back the rest.
 */
export function randomTransaction(rng: Rng, kinds: WorkloadKinds, throwAt?: number) {
  const writes = rng.int(1, 4);
  // Its own generator, so concurrent transactions do not interleave their draws with the run's.
  const seed = rng.int(0, 2 ** 31);
  return async (tx: EngineWrites): Promise<void> => {
    const local = createRng(seed);
    for (let i = 0; i < writes; i++) {
      if (throwAt === i) throw new Abandoned('abandoned midway');
      const intent = await randomIntent(tx, local, kinds);
      if (intent) await tx.write(intent);
    }
  };
}

/** A write the engine refused (schema, missing document...): the transaction rolls back, as the app would see. */
function isRefusedLocally(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && ['not_found', 'already_exists', 'validation_failed'].includes(code);
}

/**
 * One step of a run's workload on a device: a random transaction, or with `concurrent` sometimes 2–3 started at
 * once, each with `throwing` sometimes abandoned midway; counts committed and rolled-back ones. A transaction that
 * fails for another reason than an abandon or a local refusal fails the run.
 */
export async function runRandomTransactions(
  engine: { transaction(run: (tx: EngineWrites) => Promise<void>): Promise<unknown> },
  rng: Rng,
  kinds: WorkloadKinds,
  faults: { readonly concurrent: boolean; readonly throwing: boolean },
  counts: { committed: number; rolledBack: number },
): Promise<void> {
  const parallel = faults.concurrent && rng.chance(0.25) ? rng.int(2, 3) : 1;
  const running: Promise<void>[] = [];
  for (let k = 0; k < parallel; k++) {
    const throwAt = faults.throwing && rng.chance(0.2) ? rng.int(0, 3) : undefined;
    running.push(
      engine.transaction(randomTransaction(rng, kinds, throwAt)).then(
        () => {
          counts.committed++;
        },
        (error: unknown) => {
          counts.rolledBack++;
          if (!(error instanceof Abandoned) && !isRefusedLocally(error)) throw error;
        },
      ),
    );
  }
  await Promise.all(running);
}
