/**
 * N replicas on a seeded simulated network.
 *
 * Every batch of ops a replica writes is sent to every other replica. The network delays each message by a
 * random time (so messages reorder), duplicates some, drops some (the sender resends after a timeout, as the
 * real transports do until acknowledged) and, from time to time, partitions the replicas into two groups for
 * a while (messages across the cut are lost and resent). Each replica's wall clock is skewed by a fixed offset
 * within the drift bound. Batches cross the wire through `encodeOps`/`decodeOps`. At the end the network heals,
 * everything is delivered, and the whole merge states are compared byte for byte.
 */
import { asReplicaId, decodeOps, encodeOps } from '@loam/core';
import { createMemoryReplica, type MemoryReplica } from '@loam/core/testing';
import { createRng } from './random';
import { fuzzSchema, randomWrite } from './workload';

/** Parameters of one simulated run. */
export interface SimulationOptions {
  readonly seed: number;
  readonly replicas: number;
  readonly ops: number;
}

/** What a run ended with. */
export interface SimulationResult {
  readonly converged: boolean;
  /** Index of the first replica whose state differs from replica 0's, if any. */
  readonly divergent?: number;
  readonly writes: number;
  readonly delivered: number;
  readonly dropped: number;
  readonly duplicated: number;
  readonly replicas: MemoryReplica[];
}

interface Message {
  at: number;
  seq: number;
  to: number;
  from: number;
  bytes: Uint8Array;
}

const MAX_DRIFT_MS = 60_000;

/** Runs one seeded simulation. Deterministic: the same options give the same result. */
export function simulate({ seed, replicas: n, ops: target }: SimulationOptions): SimulationResult {
  const rng = createRng(seed);
  let time = 1_750_000_000_000;
  const replicas = Array.from({ length: n }, (_, i) => {
    const skew = rng.int(-20_000, 20_000);
    return createMemoryReplica({
      schema: fuzzSchema,
      replica: asReplicaId(`r${String(i).padStart(3, '0')}${seed.toString(36).padStart(12, '0').slice(-12)}`),
      now: () => time + skew,
      maxDriftMs: MAX_DRIFT_MS,
    });
  });
  const queue = createHeap<Message>((x, y) => x.at - y.at || x.seq - y.seq);
  let seqNo = 0;
  let partition: { until: number; side: boolean[] } | undefined;
  let delivered = 0;
  let dropped = 0;
  let duplicated = 0;

  const schedule = (m: Omit<Message, 'seq'>) => {
    queue.push({ ...m, seq: seqNo++ });
  };
  const cut = (a: number, b: number) =>
    partition !== undefined && time < partition.until && partition.side[a] !== partition.side[b];

  const deliverDue = (all: boolean) => {
    for (;;) {
      const next = queue.peek();
      if (!next || (!all && next.at > time)) return;
      queue.pop();
      if (all && next.at > time) time = next.at;
      if (cut(next.from, next.to) || (!all && rng.chance(0.08))) {
        dropped++;
        schedule({ ...next, at: time + rng.int(20, 200) });
        continue;
      }
      if (!all && rng.chance(0.05)) {
        duplicated++;
        schedule({ ...next, at: time + rng.int(1, 100) });
      }
      (replicas[next.to] as MemoryReplica).receive(decodeOps(next.bytes));
      delivered++;
    }
  };

  let writes = 0;
  while (writes < target) {
    time += rng.int(0, 8);
    if (!partition && rng.chance(0.01)) {
      partition = { until: time + rng.int(50, 400), side: replicas.map(() => rng.chance(0.5)) };
    } else if (partition && time >= partition.until) {
      partition = undefined;
    }
    deliverDue(false);
    const from = rng.int(0, n - 1);
    const ops = randomWrite(replicas[from] as MemoryReplica, rng);
    writes++;
    if (ops.length === 0) continue;
    const bytes = encodeOps(ops);
    for (let to = 0; to < n; to++) {
      if (to !== from) schedule({ at: time + rng.int(0, 60), to, from, bytes });
    }
  }
  partition = undefined;
  deliverDue(true);

  const reference = (replicas[0] as MemoryReplica).state.canonical();
  const divergent = replicas.findIndex((r) => !equalBytes(r.state.canonical(), reference));
  return {
    converged: divergent === -1,
    ...(divergent === -1 ? {} : { divergent }),
    writes,
    delivered,
    dropped,
    duplicated,
    replicas,
  };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface Heap<T> {
  push(item: T): void;
  peek(): T | undefined;
  pop(): T | undefined;
}

function createHeap<T>(less: (a: T, b: T) => number): Heap<T> {
  const items: T[] = [];
  const at = (i: number) => items[i] as T;
  const swap = (i: number, j: number) => {
    [items[i], items[j]] = [at(j), at(i)];
  };
  return {
    push(item) {
      items.push(item);
      let i = items.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (less(at(i), at(parent)) >= 0) break;
        swap(i, parent);
        i = parent;
      }
    },
    peek: () => items[0],
    pop() {
      const top = items[0];
      const last = items.pop();
      if (items.length > 0 && last !== undefined) {
        items[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < items.length && less(at(l), at(m)) < 0) m = l;
          if (r < items.length && less(at(r), at(m)) < 0) m = r;
          if (m === i) break;
          swap(i, m);
          i = m;
        }
      }
      return top;
    },
  };
}
