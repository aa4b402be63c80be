/**
 * Algebraic properties of merge, checked with fast-check over realistic op sets: several replicas write
 * concurrently (every field kind, deletes and re-creates, counter resets, list and text edits), then the ops are
 * applied to fresh states in different orders, groupings and with duplicates.
 */
import {
  asReplicaId,
  decodeDocSnapshot,
  encodeDocSnapshot,
  isPackedDocState,
  latestTimestamp,
  type Op,
  readDocSnapshot,
  SNAPSHOT_VERSIONS,
} from '@loam/core';
import {
  canonicalDocState,
  createMemoryReplica,
  createMemoryState,
  type MemoryState,
} from '@loam/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRng } from './random';
import { fuzzSchema, randomWrite } from './workload';

/** Ops written by 3 replicas that only partly see each other (random deliveries while writing). */
function concurrentOps(seed: number, writes: number): Op[] {
  const rng = createRng(seed);
  let time = 1_750_000_000_000;
  const replicas = [0, 1, 2].map((i) =>
    createMemoryReplica({ schema: fuzzSchema, replica: asReplicaId(`prop${i}00000000000`), now: () => time }),
  );
  const all: Op[] = [];
  for (let i = 0; i < writes; i++) {
    time += rng.int(0, 3);
    const writer = rng.pick(replicas);
    if (rng.chance(0.3)) writer.receive(rng.pick(replicas).log());
    all.push(...randomWrite(writer, rng));
  }
  return all;
}

function stateOf(ops: readonly Op[]): Uint8Array {
  const state = createMemoryState(fuzzSchema);
  for (const op of ops) state.apply(op);
  return state.canonical();
}

const opSets = fc
  .tuple(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 5, max: 60 }))
  .map(([seed, n]) => concurrentOps(seed, n));

describe('merge', () => {
  it('is commutative: any order of the same ops gives the same state', () => {
    fc.assert(
      fc.property(
        opSets.chain((ops) =>
          fc.tuple(fc.constant(ops), fc.shuffledSubarray(ops, { minLength: ops.length })),
        ),
        ([ops, shuffled]) => {
          expect(stateOf(shuffled)).toEqual(stateOf(ops));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('is idempotent: applying ops again, or duplicated anywhere, changes nothing', () => {
    fc.assert(
      fc.property(
        opSets.chain((ops) =>
          fc.tuple(fc.constant(ops), fc.array(fc.nat({ max: ops.length - 1 }), { maxLength: 30 })),
        ),
        ([ops, dupIndexes]) => {
          const withDuplicates = [...ops];
          for (const i of dupIndexes) withDuplicates.splice(i, 0, ops[i] as Op);
          expect(stateOf(withDuplicates)).toEqual(stateOf(ops));
          expect(stateOf([...ops, ...ops])).toEqual(stateOf(ops));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('is associative: merging (A then B) then C equals A then (B then C), whatever the grouping', () => {
    fc.assert(
      fc.property(
        opSets.chain((ops) =>
          fc.tuple(fc.constant(ops), fc.nat({ max: ops.length }), fc.nat({ max: ops.length })),
        ),
        ([ops, i, j]) => {
          const [lo, hi] = i <= j ? [i, j] : [j, i];
          const a = ops.slice(0, lo);
          const b = ops.slice(lo, hi);
          const c = ops.slice(hi);
          const left = createMemoryState(fuzzSchema);
          for (const op of [...a, ...b]) left.apply(op);
          for (const op of c) left.apply(op);
          const bc = [...c, ...b];
          const right = createMemoryState(fuzzSchema);
          for (const op of a) right.apply(op);
          for (const op of bc) right.apply(op);
          expect(right.canonical()).toEqual(left.canonical());
        },
      ),
      { numRuns: 150 },
    );
  });

  it("a writer's live state (edits applied in place) equals a fresh replay of its log", () => {
    const rng = createRng(42);
    const replica = createMemoryReplica({
      schema: fuzzSchema,
      replica: asReplicaId('writer0000000000'),
      now: () => 1e12,
    });
    for (let i = 0; i < 300; i++) randomWrite(replica, rng);
    expect(stateOf(replica.log())).toEqual(replica.state.canonical());
    expect(stateOf([...replica.log()].reverse())).toEqual(replica.state.canonical());
  });

  it.each(SNAPSHOT_VERSIONS)(
    'joining document snapshots (format %i) equals applying the union of the ops (state-based merge agrees with op-based)',
    (version) => {
      const joinInto = (target: MemoryState, source: MemoryState, ids: readonly string[]) => {
        for (const id of ids) {
          const state = source.getState('items', id);
          if (state) target.mergeState('items', id, decodeDocSnapshot(encodeDocSnapshot(state, version)));
        }
      };
      const ids = ['a', 'b', 'c', 'd', 'e', 'f'].map((s) => `item-${s}`);
      fc.assert(
        fc.property(
          opSets.chain((ops) => fc.tuple(fc.constant(ops), fc.subarray(ops), fc.subarray(ops))),
          ([, left, right]) => {
            const a = createMemoryState(fuzzSchema);
            for (const op of left) a.apply(op);
            const b = createMemoryState(fuzzSchema);
            for (const op of right) b.apply(op);
            const union = [...new Map([...left, ...right].map((op) => [op.id, op])).values()];
            joinInto(a, b, ids);
            expect(a.canonical()).toEqual(stateOf(union));
            joinInto(a, b, ids);
            expect(a.canonical()).toEqual(stateOf(union));
          },
        ),
        { numRuns: 150 },
      );
    },
  );

  it('a snapshot of either format decodes to the state it was taken of, with the same latest timestamp', () => {
    const items = fuzzSchema.collections.items as Parameters<typeof canonicalDocState>[0];
    fc.assert(
      fc.property(opSets, (ops) => {
        const source = createMemoryState(fuzzSchema);
        for (const op of ops) source.apply(op);
        for (const id of ['a', 'b', 'c', 'd', 'e', 'f'].map((s) => `item-${s}`)) {
          const state = source.getState('items', id);
          if (!state) continue;
          for (const version of SNAPSHOT_VERSIONS) {
            const bytes = encodeDocSnapshot(state, version);
            expect(canonicalDocState(items, decodeDocSnapshot(bytes))).toEqual(
              canonicalDocState(items, state),
            );
            const read = readDocSnapshot(bytes);
            expect(isPackedDocState(read)).toBe(version === 2);
            expect(latestTimestamp(read)).toBe(latestTimestamp(state));
          }
        }
      }),
      { numRuns: 100 },
    );
  });
});
