/**
 * Random local writes of every kind against a schema that uses every field kind: creates (with a small pool
 * of ids, so concurrent creates, deletes and re-creates of one document happen often), sets of scalars and
 * nested objects, clearing optional fields, counter increments and resets, deletes, list and text edits.
 */
import { asDocId, type DocId, defineSchema, f, type Op } from '@loam/core';
import type { MemoryReplica } from '@loam/core/testing';
import type { Rng } from './random';

/** The schema the fuzzer writes: every field kind, nesting two levels deep. */
export const fuzzSchema = defineSchema({
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
        stock: f.counter(),
        tags: f.list<string | number>(),
        note: f.text(),
      },
    },
  },
});

const IDS = ['a', 'b', 'c', 'd', 'e', 'f'].map((s) => asDocId(`item-${s}`));
const WORDS = ['tea', 'café', '𝄞clef', '\uE000pua', 'x', '', 'long word here'];

function randomScalar(rng: Rng, field: string): unknown {
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
        : rng.pick([{ a: 1 }, [1, 'two', null], 'plain', { nested: { deep: [true] } }]);
    case 'owner':
      return rng.chance(0.3) ? undefined : rng.pick(IDS);
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

/** Performs one random local write on `replica`; returns its ops (possibly none when the write was refused). */
export function randomWrite(replica: MemoryReplica, rng: Rng): Op[] {
  const id: DocId = rng.pick(IDS);
  const live = replica.get('items', id);
  if (!live) {
    const doc: Record<string, unknown> = { id, name: rng.pick(WORDS), price: rng.int(0, 50) };
    for (const field of ['active', 'seen', 'meta', 'owner', 'place'] as const) {
      if (rng.chance(0.5)) doc[field] = randomScalar(rng, field);
    }
    if (rng.chance(0.5)) doc.stock = rng.int(0, 20);
    if (rng.chance(0.3)) doc.tags = ['t0'];
    if (rng.chance(0.3)) doc.note = 'hello';
    return replica.insert('items', doc).ops;
  }
  const r = rng();
  if (r < 0.06) return replica.delete('items', id);
  if (r < 0.35) {
    const patch: Record<string, unknown> = {};
    const fields = ['name', 'price', 'active', 'seen', 'meta', 'owner', 'place'] as const;
    for (let i = rng.int(1, 3); i > 0; i--) {
      const field = rng.pick(fields);
      patch[field] = randomScalar(rng, field);
    }
    if (patch.name === undefined && 'name' in patch) delete patch.name;
    if (patch.price === undefined && 'price' in patch) delete patch.price;
    return replica.update('items', id, patch);
  }
  if (r < 0.55) return replica.increment('items', id, 'stock', rng.pick([-1, -1, 1, 2, -5]));
  if (r < 0.6) return replica.update('items', id, { stock: rng.int(0, 100) });
  const tags = live.tags as unknown[];
  const note = live.note as string;
  if (r < 0.72)
    return replica.listInsert('items', id, 'tags', rng.int(0, tags.length), [rng.pick(['x', 'y', 7])]);
  if (r < 0.78 && tags.length > 0) {
    const index = rng.int(0, tags.length - 1);
    return replica.listDelete('items', id, 'tags', index, rng.int(1, tags.length - index));
  }
  if (r < 0.92)
    return replica.textInsert('items', id, 'note', rng.int(0, note.length), rng.pick(['a', 'bc', '😀', ' ']));
  if (note.length > 0) {
    const index = rng.int(0, note.length - 1);
    return replica.textDelete('items', id, 'note', index, rng.int(1, Math.min(3, note.length - index)));
  }
  if (rng.chance(0.5)) return replica.update('items', id, { note: rng.pick(['replaced', 'Hello world']) });
  return replica.update('items', id, { tags: ['r1', 'r2'] });
}
