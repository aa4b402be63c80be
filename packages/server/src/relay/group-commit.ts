/**
 * Group commit of pushes on a store of one process: pushes that arrive while a commit is being written (or in the
 * same turn of the event loop as the first) are applied as one batch, so the store writes and syncs once for all
 * of them. On SQLite with `synchronous=FULL` each batch costs an fsync of a few ms on the event loop; one per push
 * capped the relay at the disk's fsync rate (≈250 pushes/s on the machine of issue 12) however idle its CPU was.
 * A store shared by several processes groups commits itself (`storage-postgres-batch.ts`) and is not wrapped.
 *
 * Invariants:
 * 1. **Each push is answered as if applied alone, in arrival order.** The group is the pushes' ops in arrival
 *    order; each op is screened by its own push's screening (found by the op object), so `depends_on_refused`
 *    stays within a push. A push's result holds its own accepted, refused, echoed and conflicting ops, and the
 *    changes of its own documents (by whichever push of the group); the version is the group's.
 * 2. **One push's conflict costs only itself.** When the group holds an op id recorded with other content, the
 *    store applied nothing of it; the pushes are then applied again one by one, so only the restored device's push
 *    is answered `op_id_reused`.
 * 3. **Bounded groups.** A group holds at most `maxOps` ops (a larger push goes alone).
 */
import type { Op } from '@loam/core';
import type { ApplyBatchRequest, BatchResult, DocChange, Screen, ServerStore } from '../storage/server-store';

/** Options of {@link createGroupCommit}. */
export interface GroupCommitOptions {
  readonly store: ServerStore;
  /** Most ops in one group; default 5000. */
  readonly maxOps?: number;
  /** The batch's other fields (clock, time), taken when the group is written. */
  readonly common: () => Omit<ApplyBatchRequest, 'ops' | 'screen'>;
}

interface Pending {
  readonly ops: readonly Op[];
  readonly screen: Screen;
  readonly resolve: (result: BatchResult) => void;
  readonly reject: (error: unknown) => void;
}

/** Applies device batches, grouping concurrent ones (see the module documentation). */
export function createGroupCommit(
  options: GroupCommitOptions,
): (request: Pick<ApplyBatchRequest, 'ops'> & { readonly screen: Screen }) => Promise<BatchResult> {
  const { store } = options;
  const maxOps = options.maxOps ?? 5000;
  const queue: Pending[] = [];
  let scheduled = false;

  const take = () => {
    const group: Pending[] = [];
    let ops = 0;
    while (queue.length > 0) {
      const next = queue[0]!;
      if (group.length > 0 && ops + next.ops.length > maxOps) break;
      group.push(queue.shift()!);
      ops += next.ops.length;
    }
    return group;
  };

  const alone = (p: Pending) =>
    store.applyBatch({ ...options.common(), ops: p.ops, screen: p.screen, source: 'device' });

  const write = async (group: Pending[]) => {
    if (group.length === 1) return group[0]!.resolve(await alone(group[0]!));
    const owner = new Map<Op, Pending>();
    const ops: Op[] = [];
    for (const p of group)
      for (const op of p.ops) {
        owner.set(op, p);
        ops.push(op);
      }
    const result = await store.applyBatch({
      ...options.common(),
      ops,
      screen: (op, before, after, changed) => (owner.get(op) as Pending).screen(op, before, after, changed),
      source: 'device',
    });
    if (result.conflicts.length > 0) {
      for (const p of group) p.resolve(await alone(p));
      return;
    }
    // Each push's share in one pass over the group's outcome (filtering it per push was quadratic in the group).
    const idOwners = new Map<string, Set<Pending>>();
    for (const p of group)
      for (const op of p.ops) {
        const owners = idOwners.get(op.id);
        if (owners) owners.add(p);
        else idOwners.set(op.id, new Set([p]));
      }
    const shares = new Map(
      group.map((p) => [
        p,
        {
          accepted: [] as string[],
          duplicates: [] as string[],
          refused: [] as BatchResult['refused'][number][],
          echoes: [] as Op[],
          changes: new Set<DocChange>(),
        },
      ]),
    );
    const each = (id: string, add: (share: NonNullable<ReturnType<typeof shares.get>>) => void) => {
      for (const p of idOwners.get(id) ?? []) add(shares.get(p)!);
    };
    for (const id of result.accepted) each(id, (s) => s.accepted.push(id));
    for (const id of result.duplicates) each(id, (s) => s.duplicates.push(id));
    for (const op of result.echoes) each(op.id, (s) => s.echoes.push(op));
    for (const r of result.refused) shares.get(owner.get(r.op) as Pending)?.refused.push(r);
    // Each push's own documents only: the relay looks its ops' documents up in them.
    const changeOf = new Map(result.changes.map((c) => [`${c.collection}\u0000${c.id}`, c]));
    for (const p of group)
      for (const op of p.ops) {
        const change = changeOf.get(`${op.collection}\u0000${op.doc}`);
        if (change) shares.get(p)!.changes.add(change);
      }
    for (const p of group) {
      const share = shares.get(p)!;
      p.resolve({ version: result.version, ...share, changes: [...share.changes], conflicts: [] });
    }
  };

  const run = async () => {
    while (queue.length > 0) {
      const group = take();
      try {
        await write(group);
      } catch (error) {
        for (const p of group) p.reject(error);
      }
    }
    scheduled = false;
  };

  return (request) =>
    new Promise<BatchResult>((resolve, reject) => {
      queue.push({ ops: request.ops, screen: request.screen, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        // After the frames read in this turn of the event loop were decoded: they join the first group.
        setImmediate(() => void run());
      }
    });
}
