/**
 * (Over 450 lines: it is the ServerStore contract written as one list of cases, which every implementation runs
 * in full; split up, a new case could be left out of a runner.)
 *
 * The server storage conformance suite: every {@link ServerStore} must pass every case.
 *
 * Framework-agnostic: a case throws to fail. Run them with {@link runServerStoreCase} under any test runner,
 * passing an `open` function that opens the same (initially empty) database each time it is called, with
 * {@link conformanceSchema}. One file on purpose: the cases are the contract, read side by side with
 * `server-store.ts`.
 */
import {
  asReplicaId,
  type DocId,
  type DocState,
  defineSchema,
  f,
  isLive,
  materialize,
  type Op,
  type Schema,
  type Timestamp,
} from '@loam/core';
import { createMemoryReplica } from '@loam/core/testing';
import { withReopening } from '@loam/store/testing';
import type { CommitFeedEvent, ServerStore } from './server-store';

/** The schema every case uses. */
export const conformanceSchema: Schema = defineSchema({
  version: 1,
  collections: {
    items: {
      fields: {
        name: f.string(),
        owner: f.string({ indexed: true }),
        qty: f.number({ optional: true }),
        stock: f.counter(),
        tags: f.list(),
      },
    },
  },
});

/** What a case gets: the open store, and a way to close and reopen the same database. */
export interface ServerStoreContext {
  readonly store: ServerStore;
  reopen(): Promise<ServerStore>;
}

/** One conformance case. */
export interface ServerStoreCase {
  readonly name: string;
  run(context: ServerStoreContext): Promise<void>;
}

/** A broken contract. */
export class ServerStoreConformanceFailure extends Error {
  override readonly name = 'ServerStoreConformanceFailure';
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new ServerStoreConformanceFailure(message);
}

function same(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  check(a === e, `${what}: expected ${e}, found ${a}`);
}

const col = conformanceSchema.collections.items!;

function device(name: string) {
  return createMemoryReplica({ schema: conformanceSchema, replica: asReplicaId(name.padEnd(16, '0')) });
}

function docValue(state: DocState | undefined, id: string) {
  return state ? materialize(col, id, state) : undefined;
}

/** Waits until `condition` holds (checked every 5 ms), or fails after 10 s naming `what`. */
async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    check(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Runs one case against the database `open` opens; every store opened is closed afterwards. */
export function runServerStoreCase(
  testCase: ServerStoreCase,
  open: () => Promise<ServerStore>,
): Promise<void> {
  return withReopening(open, (handle) =>
    testCase.run({
      get store() {
        return handle.current();
      },
      reopen: handle.reopen,
    }),
  );
}

/** Every case of the contract (see `server-store.ts`). */
export const serverStoreCases: readonly ServerStoreCase[] = [
  {
    name: 'a new store has a replica id, version 0 and no horizon; reopening keeps the replica id (a shared store: a new one)',
    async run(ctx) {
      const meta = await ctx.store.meta();
      check(/^[0-9a-z]{16}$/.test(meta.replica), `replica id ${meta.replica}`);
      same([meta.version, meta.horizon, meta.nextSeq, meta.clock], [0, 0, 1, undefined], 'fresh meta');
      const again = await (await ctx.reopen()).meta();
      if (ctx.store.info.shared) {
        check(again.replica !== meta.replica, 'each opening of a shared store has its own replica id');
        same(again.nextSeq, 1, 'a new replica starts at sequence 1');
      } else same(again.replica, meta.replica, 'replica after reopening');
      check(
        !(await ctx.store.claimReplica(again.replica, 'mallory')),
        "no user may claim the server's replica id",
      );
    },
  },
  {
    name: 'applies a batch atomically, reports before and after states, and keeps it across reopening',
    async run(ctx) {
      const a = device('a');
      const { id, ops: created } = a.insert('items', { name: 'tea', owner: 'u1', qty: 3 });
      const first = await ctx.store.applyBatch({ ops: created });
      same(first.version, 1, 'version of the first batch');
      same(
        first.accepted,
        created.map((o) => o.id),
        'accepted',
      );
      same(first.changes.length, 1, 'changes');
      check(first.changes[0]!.before === undefined, 'a new document has no before state');
      same(
        docValue(first.changes[0]!.after, id),
        { id, name: 'tea', owner: 'u1', qty: 3, stock: 0, tags: [] },
        'after',
      );
      const update = [...a.update('items', id, { qty: 4 }), ...a.increment('items', id, 'stock', 5)];
      const second = await ctx.store.applyBatch({ ops: update, clock: a.clock.last(), nextSeq: 7 });
      same(second.version, 2, 'version of the second batch');
      same((await ctx.store.meta()).nextSeq, 7, 'next sequence saved with the batch');
      same(docValue(second.changes[0]!.before, id)?.qty, 3, 'before image');
      same(docValue(second.changes[0]!.after, id)?.qty, 4, 'after image');
      const store = await ctx.reopen();
      const doc = await store.getDoc('items', id);
      check(doc, 'document after reopening');
      same([doc.version, doc.live, docValue(doc.state, id)?.stock], [2, true, 5], 'stored document');
      const meta = await store.meta();
      same([meta.version, meta.clock], [2, a.clock.last()], 'meta after reopening');
      if (!store.info.shared) same(meta.nextSeq, 7, 'next sequence after reopening');
    },
  },
  {
    name: 'acknowledges a re-sent op without applying it twice',
    async run(ctx) {
      const a = device('a');
      const { id, ops } = a.insert('items', { name: 'tea', owner: 'u1' });
      const inc = a.increment('items', id, 'stock', 2);
      await ctx.store.applyBatch({ ops: [...ops, ...inc] });
      const again = await ctx.store.applyBatch({ ops: [...inc, ...inc] });
      same(again.accepted, [inc[0]!.id, inc[0]!.id], 'accepted');
      same(again.duplicates, [inc[0]!.id, inc[0]!.id], 'duplicates');
      same([again.changes.length, again.version], [0, 1], 'nothing changed');
      const store = await ctx.reopen();
      await store.applyBatch({ ops: inc });
      same(docValue((await store.getDoc('items', id))?.state, id)?.stock, 2, 'stock counted once');
    },
  },
  {
    name: 'an op id held with other content is a conflict: nothing of the batch is applied, nothing of it accepted',
    async run(ctx) {
      const a = device('a');
      const { id, ops } = a.insert('items', { name: 'tea', owner: 'u1' });
      const inc = a.increment('items', id, 'stock', 2);
      await ctx.store.applyBatch({ ops: [...ops, ...inc] });
      const reused = { ...inc[0]!, by: 5 } as Op;
      const other = a.insert('items', { name: 'cake', owner: 'u1' });
      const result = await ctx.store.applyBatch({ ops: [...ops, reused, ...other.ops] });
      same(
        result.conflicts.map((op) => op.id),
        [reused.id],
        'conflicts',
      );
      same([result.accepted, result.duplicates], [[ops[0]!.id], [ops[0]!.id]], 'only the true duplicate');
      same([result.changes.length, result.version], [0, 1], 'nothing applied');
      check(
        (await ctx.store.getDoc('items', other.id)) === undefined,
        'the rest of the batch is not applied',
      );
      const store = await ctx.reopen();
      same(docValue((await store.getDoc('items', id))?.state, id)?.stock, 2, 'the first content stays');
      same(
        (await store.applyBatch({ ops: inc })).duplicates,
        [inc[0]!.id],
        'the same content is a duplicate',
      );
      same((await store.applyBatch({ ops: other.ops })).accepted, [other.ops[0]!.id], 'a fresh id applies');
    },
  },
  {
    name: 'a write renumbered after a conflict, then renumbered again by another copy of the database, counts once',
    async run(ctx) {
      const a = device('a');
      const { id, ops } = a.insert('items', { name: 'tea', owner: 'u1' });
      const first = a.increment('items', id, 'stock', 2)[0]!;
      await ctx.store.applyBatch({ ops: [...ops, first] });
      const write = { ...first, by: 5 } as Op;
      same((await ctx.store.applyBatch({ ops: [write] })).conflicts, [write], 'the reused id is a conflict');
      const renumbered = { ...write, id: a.increment('items', id, 'stock', 1)[0]!.id } as Op;
      const applied = await ctx.store.applyBatch({ ops: [renumbered] });
      same([applied.accepted, applied.echoes.length], [[renumbered.id], 0], 'the renumbered write applies');
      const store = await ctx.reopen();
      same((await store.applyBatch({ ops: [write] })).conflicts, [write], 'the other copy sends the old id');
      const again = { ...write, id: a.increment('items', id, 'stock', 1)[0]!.id } as Op;
      const echo = await store.applyBatch({ ops: [again] });
      same(
        [echo.accepted, echo.duplicates, echo.echoes, echo.changes.length],
        [[again.id], [again.id], [again], 0],
        'renumbered again: acknowledged, not applied',
      );
      same((await store.applyBatch({ ops: [again] })).echoes, [again], 'the echo sent again (its ack lost)');
      same(docValue((await store.getDoc('items', id))?.state, id)?.stock, 7, 'counted once');
      same(
        (await store.applyBatch({ ops: [renumbered] })).duplicates,
        [renumbered.id],
        'first id a duplicate',
      );
      // Another write with the same content (a restored clock can stamp a timestamp again), under another id.
      const twin = { ...write, id: ops[0]!.id } as Op;
      same((await store.applyBatch({ ops: [twin] })).conflicts, [twin], 'its id conflicts');
      const twinRenumbered = { ...write, id: a.increment('items', id, 'stock', 1)[0]!.id } as Op;
      same((await store.applyBatch({ ops: [twinRenumbered] })).echoes, [], 'not an echo');
      same(docValue((await store.getDoc('items', id))?.state, id)?.stock, 12, 'counted');
    },
  },
  {
    name: "keeps each replica's highest accepted sequence number, through compaction and reopening",
    async run(ctx) {
      const a = device('a');
      same(await ctx.store.replicaSeq(a.replica), 0, 'unknown replica');
      const x = a.insert('items', { name: 'x', owner: 'u1' });
      const y = a.insert('items', { name: 'y', owner: 'u1' });
      await ctx.store.applyBatch({ ops: [...y.ops, ...x.ops], now: 1000 });
      same(await ctx.store.replicaSeq(a.replica), 2, 'highest, whatever the order');
      await ctx.store.applyBatch({ ops: x.ops, now: 1000 });
      await ctx.store.compact(5000);
      same(await (await ctx.reopen()).replicaSeq(a.replica), 2, 'after compaction and reopening');
    },
  },
  {
    name: 'screens each new op inside the batch: a refused op leaves no trace and is screened again when re-sent',
    async run(ctx) {
      const a = device('a');
      const { id, ops } = a.insert('items', { name: 'tea', owner: 'u1' });
      const good = a.update('items', id, { qty: 1 });
      const bad = a.update('items', id, { owner: 'u2' });
      const seen: string[] = [];
      const result = await ctx.store.applyBatch({
        ops: [...ops, ...good, ...bad],
        screen: (op, before, after, changed) => {
          seen.push(`${op.id}:${isLive(before)}:${docValue(after, id)?.qty ?? '-'}:${changed}`);
          return docValue(after, id)?.owner === 'u2' ? { code: 'row_denied', reason: 'owner' } : null;
        },
      });
      same(
        seen,
        [`${ops[0]!.id}:false:-:true`, `${good[0]!.id}:true:1:true`, `${bad[0]!.id}:true:1:true`],
        'screen calls',
      );
      same(
        result.refused.map((r) => [r.op.id, r.refusal.code]),
        [[bad[0]!.id, 'row_denied']],
        'refused',
      );
      same(result.accepted, [ops[0]!.id, good[0]!.id], 'accepted');
      same(docValue((await ctx.store.getDoc('items', id))?.state, id)?.owner, 'u1', 'owner unchanged');
      const resent = await ctx.store.applyBatch({ ops: bad });
      same([resent.duplicates, resent.accepted], [[], [bad[0]!.id]], 'a refused op is not recorded');
      same(docValue((await ctx.store.getDoc('items', id))?.state, id)?.owner, 'u2', 'applied when allowed');
    },
  },
  {
    name: 'records an id with the content of the op accepted under it, not of an earlier refused op carrying it',
    async run(ctx) {
      const a = device('a');
      const { id, ops } = a.insert('items', { name: 'tea', owner: 'u1' });
      await ctx.store.applyBatch({ ops });
      const inc = a.increment('items', id, 'stock', 1)[0]!;
      const forged = { ...inc, by: 7 } as Op;
      const result = await ctx.store.applyBatch({
        ops: [forged, inc],
        screen: (op) => (op === forged ? { code: 'row_denied', reason: 'forged' } : null),
      });
      same([result.accepted, result.refused.length], [[inc.id], 1], 'the second op accepted');
      const resent = await ctx.store.applyBatch({ ops: [inc] });
      same([resent.duplicates, resent.conflicts], [[inc.id], []], 'the accepted content is a duplicate');
      same(docValue((await ctx.store.getDoc('items', id))?.state, id)?.stock, 1, 'stock');
    },
  },
  {
    name: 'a batch that fails changes nothing',
    async run(ctx) {
      const a = device('a');
      const { id, ops } = a.insert('items', { name: 'tea', owner: 'u1' });
      const broken = { ...ops[0]!, collection: 'nope', id: `${a.replica}:99` } as unknown as Op;
      let failed = false;
      try {
        await ctx.store.applyBatch({ ops: [...ops, broken] });
      } catch {
        failed = true;
      }
      check(failed, 'a batch with an op of an unknown collection must fail');
      check((await ctx.store.getDoc('items', id)) === undefined, 'no document stored');
      same((await ctx.store.meta()).version, 0, 'version unchanged');
      same((await ctx.store.applyBatch({ ops })).duplicates, [], 'op ids not recorded');
    },
  },
  {
    name: 'lists changes since a cursor by version, tombstones included',
    async run(ctx) {
      const a = device('a');
      const x = a.insert('items', { name: 'x', owner: 'u1' });
      const y = a.insert('items', { name: 'y', owner: 'u1' });
      await ctx.store.applyBatch({ ops: [...x.ops, ...y.ops] });
      await ctx.store.applyBatch({ ops: a.delete('items', x.id) });
      await ctx.store.applyBatch({ ops: a.update('items', y.id, { name: 'y2' }) });
      const since1 = await ctx.store.changedSince('items', 1);
      same(
        since1.map((d) => [d.id, d.version, d.live]),
        [
          [x.id, 2, false],
          [y.id, 3, true],
        ],
        'since 1',
      );
      check(since1[0]!.state.deleted, 'a tombstone carries the deleted state');
      same((await ctx.store.changedSince('items', 3)).length, 0, 'nothing since the newest version');
      const named = (name: string) => ({ op: 'eq', field: 'name', value: name }) as const;
      same(
        (await ctx.store.changedSince('items', 1, named('y2'))).map((d) => d.id),
        [x.id, y.id],
        'a filter keeps the matching live documents and every tombstone',
      );
      same(
        (await ctx.store.changedSince('items', 1, named('y'))).map((d) => d.id),
        [x.id],
        'a live document the filter does not match is left out',
      );
      same(await ctx.store.changedIdsSince('items', 0), [y.id], 'ids of the live documents changed since 0');
      same(await ctx.store.changedIdsSince('items', 3), [], 'no ids since the newest version');
      same(await ctx.store.countChangedSince('items', 0), 2, 'counted since 0, tombstone included');
      same(await ctx.store.countChangedSince('items', 2), 1, 'counted since 2');
      same(await ctx.store.countChangedSince('items', 3), 0, 'none counted since the newest version');
      same(await ctx.store.countChangedSince('items', 0, 1), 1, 'counting stops at the limit');
      same(await ctx.store.countChangedSince('items', 0, 5), 2, 'a limit above the count changes nothing');
    },
  },
  {
    name: 'finds and counts live documents matching a filter, a page at a time in id order',
    async run(ctx) {
      const a = device('a');
      const ops: Op[] = [];
      const ids: DocId[] = [];
      for (let i = 0; i < 7; i++) {
        const r = a.insert('items', { id: `d${i}`, name: `n${i}`, owner: i % 2 ? 'odd' : 'even', qty: i });
        ops.push(...r.ops);
        ids.push(r.id);
      }
      ops.push(...a.delete('items', 'd2' as DocId));
      await ctx.store.applyBatch({ ops });
      const filter = { op: 'eq', field: 'owner', value: 'even' } as const;
      same(await ctx.store.countDocs('items', filter), 3, 'count of even, d2 deleted');
      const first = await ctx.store.findDocs('items', filter, { limit: 2 });
      const rest = await ctx.store.findDocs('items', filter, { limit: 2, afterId: first.at(-1)!.id });
      same(
        [...first, ...rest].map((d) => d.id),
        ['d0', 'd4', 'd6'],
        'pages',
      );
      same(await ctx.store.countDocs('items', undefined), 6, 'count all');
      const queried = await ctx.store.queryDocs({
        collection: 'items',
        filter: { op: 'gte', field: 'qty', value: 3 },
        sort: [{ field: 'qty', dir: 'desc' }],
        limit: 2,
      });
      same(
        queried.map((d) => d.id),
        ['d6', 'd5'],
        'query',
      );
    },
  },
  {
    name: 'keeps list (Yjs) fields across reopening',
    async run(ctx) {
      const a = device('a');
      const { id, ops } = a.insert('items', { name: 'x', owner: 'u1', tags: ['a'] });
      await ctx.store.applyBatch({ ops: [...ops, ...a.listInsert('items', id, 'tags', 1, ['b'])] });
      const store = await ctx.reopen();
      same(docValue((await store.getDoc('items', id))?.state, id)?.tags, ['a', 'b'], 'tags');
    },
  },
  {
    name: 'binds a replica id to one user',
    async run(ctx) {
      const r = asReplicaId('r'.padEnd(16, '1'));
      check(await ctx.store.claimReplica(r, 'alice'), 'first claim');
      check(await ctx.store.claimReplica(r, 'alice'), 'same user again');
      check(!(await ctx.store.claimReplica(r, 'bob')), 'another user is refused');
      check(!(await (await ctx.reopen()).claimReplica(r, 'bob')), 'still refused after reopening');
    },
  },
  {
    name: 'compaction raises the horizon and keeps tombstones and op ids, so late ops are judged as before it',
    async run(ctx) {
      const a = device('a');
      const b = device('b');
      const x = a.insert('items', { name: 'x', owner: 'u1' });
      const inc = a.increment('items', x.id, 'stock', 3);
      const del = a.delete('items', x.id);
      await ctx.store.applyBatch({ ops: [...x.ops, ...inc], now: 1000 });
      await ctx.store.applyBatch({ ops: del, now: 2000 });
      const y = a.insert('items', { name: 'y', owner: 'u1' });
      const yInc = a.increment('items', y.id, 'stock', 2);
      await ctx.store.applyBatch({ ops: [...y.ops, ...yInc], now: 2500 });
      await ctx.store.applyBatch({ ops: a.insert('items', { name: 'z', owner: 'u1' }).ops, now: 5000 });
      same(await ctx.store.compact(3000), 3, 'horizon');
      const store = await ctx.reopen();
      same((await store.meta()).horizon, 3, 'horizon after reopening');
      const tomb = await store.getDoc('items', x.id);
      same([tomb?.live, tomb?.state.deleted], [false, true], 'the tombstone stays');
      // A device that never saw the delete sends its create of the deleted incarnation after compaction.
      const late = { ...b.insert('items', { name: 'late', owner: 'u1' }).ops[0]!, doc: x.id } as Op;
      const lost = await store.applyBatch({ ops: [late] });
      same([lost.accepted, lost.changes.length], [[late.id], 0], 'a late create of that incarnation loses');
      check(!(await store.getDoc('items', x.id))?.live, 'the deleted document stays deleted');
      const again = await store.applyBatch({ ops: [...y.ops, ...yInc] });
      same(again.duplicates, [y.ops[0]!.id, yInc[0]!.id], 'old op ids are still duplicates');
      same(docValue((await store.getDoc('items', y.id))?.state, y.id)?.stock, 2, 'counted once');
      const reused = { ...yInc[0]!, by: 7 } as Op;
      same(
        (await store.applyBatch({ ops: [reused] })).conflicts.map((op) => op.id),
        [reused.id],
        'an old id with other content is a conflict',
      );
      same(await store.compact(3000), 3, 'compacting again keeps the horizon');
    },
  },
  {
    name: 'persists the server clock with the batch',
    async run(ctx) {
      const a = device('a');
      const { ops } = a.insert('items', { name: 'x', owner: 'u1' });
      const ts = ops[0]!.ts as Timestamp;
      await ctx.store.applyBatch({ ops, clock: ts });
      same((await (await ctx.reopen()).meta()).clock, ts, 'clock');
    },
  },
  {
    name: 'delivers every committed version once, in order, with the document before it and its state after',
    async run(ctx) {
      const events: CommitFeedEvent[] = [];
      ctx.store.commits.subscribe((e) => events.push(e));
      const a = device('a');
      const { id, ops } = a.insert('items', { name: 'tea', owner: 'u1', qty: 1 });
      await ctx.store.applyBatch({ ops, now: 1000 });
      await ctx.store.applyBatch({ ops });
      await ctx.store.applyBatch({ ops: a.update('items', id, { qty: 2 }), source: 'backend', now: 2000 });
      await ctx.store.applyBatch({ ops: a.delete('items', id) });
      await until(() => ctx.store.commits.position() >= 3, 'version 3 on the feed');
      same(
        events.map((e) =>
          e.t === 'commit' ? [e.commit.version, e.commit.source, e.commit.changes.length] : e.t,
        ),
        [
          [1, 'device', 1],
          [2, 'backend', 1],
          [3, 'device', 1],
        ],
        'versions, sources and changes',
      );
      const commits = events.flatMap((e) => (e.t === 'commit' ? [e.commit] : []));
      same(
        commits.map((c) => (c.changes[0]?.beforeDoc as { qty?: number } | undefined)?.qty ?? null),
        [null, 1, 2],
        'documents before each version',
      );
      same([commits[0]?.at, commits[1]?.at], [1000, 2000], 'commit times');
      check(commits[2]?.changes[0]?.after.deleted, 'the state after the delete is a tombstone');
    },
  },
  {
    name: 'queues the outbox of each version durably and hands a lane to one deliverer at a time',
    async run(ctx) {
      ctx.store.setOutbox((commit) =>
        commit.changes.map((c) => ({ lane: 'L', body: `qty ${docValue(c.after, c.id)?.qty ?? '-'}` })),
      );
      const a = device('a');
      const x = a.insert('items', { name: 'x', owner: 'u1' });
      await ctx.store.applyBatch({ ops: x.ops, now: 1000 });
      await ctx.store.applyBatch({ ops: a.update('items', x.id, { qty: 5 }), now: 1000 });
      same(await ctx.store.deliveries.pending(['L', 'other']), 2, 'queued deliveries');
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const seen: string[] = [];
      const first = ctx.store.deliveries.deliverNext('L', 5000, async (d) => {
        seen.push(`${d.body}:${d.version}:${d.attempts}`);
        await gate;
        return { done: false, retryAt: 9000 };
      });
      await until(() => seen.length === 1, 'the first attempt');
      same(
        await ctx.store.deliveries.deliverNext('L', 5000, async () => ({ done: true })),
        'busy',
        'a lane in use is refused',
      );
      release();
      same(await first, 'attempted', 'first attempt');
      same(
        await ctx.store.deliveries.deliverNext('L', 5000, async () => ({ done: true })),
        { dueAt: 9000 },
        'the failed delivery waits for its retry',
      );
      same(
        await ctx.store.deliveries.deliverNext('M', 5000, async () => ({ done: true })),
        'idle',
        'empty lane',
      );
      const store = await ctx.reopen();
      const ids: string[] = [];
      for (;;) {
        const step = await store.deliveries.deliverNext('L', 9000, async (d) => {
          seen.push(`${d.body}:${d.version}:${d.attempts}`);
          ids.push(d.id);
          return { done: true };
        });
        if (step !== 'attempted') break;
      }
      same(seen, ['qty -:1:0', 'qty -:1:1', 'qty 5:2:0'], 'attempts in order, kept across reopening');
      same(await store.deliveries.pending(['L']), 0, 'delivered deliveries are gone');
      check(new Set(ids).size === 2, 'each delivery has its own id');
    },
  },
];
