/**
 * Several relay nodes on PostgreSQL (`npm run bench -- cluster`; `-- server` runs it with the other relay
 * benches). Every relay is a `loam-server` child process; the load comes from raw protocol clients in this
 * process; the SQLite relay (one process, one file) is the baseline measured in the same run.
 * - acknowledged ops/s with 1 and with 3 PostgreSQL nodes (target ≥ 5,000/s in total), vs one SQLite relay;
 * - sessions held: 2,000 signed-in, subscribed connections on each of 3 nodes, and the time one write takes to
 *   reach all of them;
 * - cross-node visibility: a write through node 1 seen by a subscriber on node 3, p50/p99 (target p99 ≤ 150 ms),
 *   vs the same path through one SQLite relay;
 * - the write path's CPU per 1,000 ops (screening, group commit, commit feeds) with stores opened in this process
 *   and groups of a fixed size, vs a SQLite store: unlike the figures above, it does not move with how busy the
 *   machine is (a slower run makes smaller groups, each paying the per-transaction costs again).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClock, createWriter, type DocId, encodeOps, writeIntent } from '@loam/core';
import { type Bench, percentile } from '../../../test/bench/bench';
import { createRelay, type Relay } from './relay/relay';
import { openServerStore } from './storage/open-store';
import type { ServerStore } from './storage/server-store';
import { type RelayNode, startRelayNode, writeClusterConfig } from './testing/cluster';
import { mintToken, testDevice, testRules, testSchema } from './testing/fixtures';
import { createTestSchema, type TestSchema } from './testing/postgres';
import { connectClient, type ProtocolClient } from './testing/protocol-client';

type Backend = { readonly kind: 'sqlite' } | { readonly kind: 'postgres'; readonly nodes: number };

/** Starts relays on a fresh store, runs `fn`, then stops them and drops the store. */
async function withRelays<T>(
  backend: Backend,
  fn: (nodes: RelayNode[], db: TestSchema | undefined) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'loam-cluster-bench-'));
  const db = backend.kind === 'postgres' ? createTestSchema('loam_bench') : undefined;
  const config = writeClusterConfig(dir, testSchema, testRules, {
    limits: {
      connectionsPerUser: 100_000,
      connectionsPerAddress: 100_000,
      handshakesPerSecond: 100_000,
      opsPerBatch: 1000,
      frameBytes: 4 * 1024 * 1024,
    },
  });
  const count = backend.kind === 'postgres' ? backend.nodes : 1;
  const store = db?.url ?? join(dir, 'relay.db');
  let nodes: RelayNode[] = [];
  try {
    nodes = await Promise.all(Array.from({ length: count }, () => startRelayNode(config, store)));
    return await fn(nodes, db);
  } finally {
    await Promise.all(nodes.map((n) => n.stop('SIGTERM')));
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const token = () => mintToken({ sub: 'bench', role: 'manager' }, { alg: 'HS256' });

async function signedIn(url: string, subs: Parameters<ProtocolClient['hello']>[0]['subs'] = []) {
  const device = testDevice();
  const client = await connectClient(url);
  await client.hello({ replica: device.replica, token: await token(), subs });
  return { device, client };
}

/** CPU seconds (user + system) each process has used so far, by pid; processes gone are left out. */
function cpuSeconds(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      out.set(pid, (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {}
  }
  return out;
}

/** The PostgreSQL backends serving the relays of `db`. */
async function backends(db: TestSchema | undefined): Promise<number[]> {
  if (!db) return [];
  const rows = await db.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
    [`loam-relay:${db.schema}`],
  );
  return rows.map((r) => r.pid);
}

/**
 * What an ingest run measured: acknowledged ops/s, and CPU ms per 1,000 acknowledged ops of the relays, the
 * database and the load generator (this process: the devices' writers, encoding, `ws`).
 */
interface Ingest {
  readonly opsPerSecond: number;
  readonly relayCpuMs: number;
  readonly dbCpuMs: number;
  readonly loadCpuMs: number;
  /** Ops per database transaction, averaged over the run (connecting included). */
  readonly opsPerTransaction: number;
}

/** "CPU per 1,000 ops" notes, with what that CPU would allow on 2 idle cores (load generator elsewhere). */
function cpuNote(r: Ingest): string {
  const idle = 2_000_000 / (r.relayCpuMs + r.dbCpuMs);
  return `CPU per 1,000 acked ops: relays ${r.relayCpuMs.toFixed(0)} ms, PostgreSQL ${r.dbCpuMs.toFixed(0)} ms (≈ ${Math.round(idle).toLocaleString('en-US')} ops/s on 2 otherwise idle cores), load generator ${r.loadCpuMs.toFixed(0)} ms; ${Math.round(r.opsPerTransaction)} ops per transaction`;
}

/**
 * Acknowledged ops/s: `perNode` connections (devices) on each node push batches of 10 new orders, 2 batches in
 * flight each (a session handles its pushes one after the other, so throughput comes from many devices).
 */
async function ingest(
  nodes: RelayNode[],
  db: TestSchema | undefined,
  perNode: number,
  seconds: number,
): Promise<Ingest> {
  const clients = await Promise.all(
    nodes.flatMap((n) => Array.from({ length: perNode }, () => signedIn(n.wsUrl))),
  );
  const relayPids = nodes.map((n) => n.process.pid as number);
  const relayBefore = cpuSeconds(relayPids);
  const dbBefore = cpuSeconds(await backends(db));
  const loadBefore = process.cpuUsage();
  const window = process.hrtime.bigint();
  let acked = 0;
  let stop = false;
  const started = performance.now();
  await Promise.all(
    clients.map(async ({ device, client }) => {
      // The device's writer alone: its memory replica would also apply and keep every op, CPU the relays need.
      const writer = createWriter({ schema: testSchema, clock: createClock({ replica: device.replica }) });
      const order = writeIntent.insert('orders', { storeId: 'bench', owner: 'bench', total: 1 });
      let batch = 0;
      const lane = async () => {
        while (!stop) {
          const ops = Array.from({ length: 10 }, () => writer.write(order, undefined).ops).flat();
          const ack = await client.push(++batch, ops);
          if (!stop) acked += ack.accepted.length;
        }
      };
      setTimeout(() => {
        stop = true;
      }, seconds * 1000);
      await Promise.all([lane(), lane()]);
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const load = process.cpuUsage(loadBefore);
  // With LOAM_NODE_PROF (node CPU profiles), the pushing window on the monotonic clock the profiles' times use (µs).
  if (process.env.LOAM_NODE_PROF)
    process.stderr.write(`ingest window µs ${window / 1000n} ${process.hrtime.bigint() / 1000n}\n`);
  const spent = (before: Map<number, number>, after: Map<number, number>) =>
    [...after].reduce((sum, [pid, s]) => sum + s - (before.get(pid) ?? 0), 0);
  const relayCpu = spent(relayBefore, cpuSeconds(relayPids));
  const dbCpu = spent(dbBefore, cpuSeconds(await backends(db)));
  for (const { client } of clients) client.close();
  let groupOps = 0;
  let groups = 0;
  for (const n of nodes) {
    const text = await (await fetch(`${n.url}/metrics`)).text();
    groupOps += Number(/^loam_db_batch_ops_sum (\S+)/m.exec(text)?.[1] ?? 0);
    groups += Number(/^loam_db_batch_ops_count (\S+)/m.exec(text)?.[1] ?? 0);
  }
  return {
    opsPerSecond: acked / elapsed,
    relayCpuMs: (relayCpu * 1_000_000) / acked,
    dbCpuMs: (dbCpu * 1_000_000) / acked,
    loadCpuMs: (load.user + load.system) / 1000 / (acked / 1000),
    opsPerTransaction: groups > 0 ? groupOps / groups : 0,
  };
}

/** Visibility of a write made through `writerUrl` to a subscriber on `readerUrl`: samples in ms. */
async function visibility(writerUrl: string, readerUrl: string, writes: number): Promise<number[]> {
  const sub = [
    {
      id: 's',
      query: { collection: 'orders', filter: { op: 'eq', field: 'storeId', value: 'vis' } },
    } as const,
  ];
  const writer = await signedIn(writerUrl);
  const reader = await signedIn(readerUrl, [...sub]);
  await reader.client.next('synced');
  const { id, ops } = writer.device.insert('orders', { storeId: 'vis', owner: 'bench', total: 0 });
  await writer.client.push(1, ops);
  await reader.client.next('docs', (m) => m.docs.some((d) => d.id === id));
  const samples: number[] = [];
  for (let i = 0; i < writes; i++) {
    const update = writer.device.update('orders', id as DocId, { total: i + 1 });
    const start = performance.now();
    writer.client.send({ t: 'push', batch: i + 2, ops: encodeOps(update) });
    await reader.client.next('docs', (m) => m.docs.some((d) => d.id === id), 30_000);
    samples.push(performance.now() - start);
  }
  writer.client.close();
  reader.client.close();
  return samples;
}

/**
 * CPU ms of this process per 1,000 ops pushed through relays over `locations` (one store and relay each, like
 * nodes): `perStore` devices per store push 10 new orders each, all at once, `rounds` times; the feeds' reads of
 * each other's commits that follow are counted too.
 */
async function writePathCpu(locations: readonly string[], perStore: number, rounds: number): Promise<number> {
  const stores: ServerStore[] = [];
  try {
    const relays: Relay[] = [];
    for (const location of locations) {
      const store = await openServerStore(location, { schema: testSchema });
      stores.push(store);
      const meta = await store.meta();
      const clock = createClock({ replica: meta.replica });
      const relay = createRelay({
        store,
        schema: testSchema,
        rules: testRules,
        clock,
        nextSeq: meta.nextSeq,
      });
      relay.onCommit((commit) => commit.changes.length);
      relays.push(relay);
    }
    const devices = Array.from({ length: perStore * locations.length }, (_, i) => {
      const { replica } = testDevice();
      return {
        replica,
        relay: relays[i % relays.length] as Relay,
        writer: createWriter({ schema: testSchema, clock: createClock({ replica }) }),
      };
    });
    const order = writeIntent.insert('orders', { storeId: 'bench', owner: 'bench', total: 1 });
    const claims = { sub: 'bench', role: 'manager' };
    let cpu = 0;
    let ops = 0;
    for (let round = 0; round < rounds; round++) {
      const batches = devices.map((d) =>
        Array.from({ length: 10 }, () => d.writer.write(order, undefined).ops).flat(),
      );
      const before = process.cpuUsage();
      const outcomes = await Promise.all(
        devices.map((d, i) => d.relay.push({ replica: d.replica, claims, ops: batches[i] ?? [] })),
      );
      const used = process.cpuUsage(before);
      // The first rounds warm the code up.
      if (round < 2) continue;
      cpu += (used.user + used.system) / 1000;
      ops += outcomes.reduce((n, o) => n + o.accepted.length, 0);
    }
    const before = process.cpuUsage();
    const newest = Math.max(...relays.map((r) => r.version()));
    await Promise.all(relays.map((r) => r.reach(newest)));
    const used = process.cpuUsage(before);
    cpu += (used.user + used.system) / 1000;
    return (cpu * 1000) / ops;
  } finally {
    for (const store of stores) await store.close();
  }
}

const INGEST_SECONDS = 6;
const CONNECTIONS = 150;

let sqliteIngest: Promise<Ingest> | undefined;
const sqliteBaseline = () => {
  sqliteIngest ??= withRelays({ kind: 'sqlite' }, (nodes) =>
    ingest(nodes, undefined, CONNECTIONS, INGEST_SECONDS),
  );
  return sqliteIngest;
};

export const benches: Bench[] = [
  {
    name: 'cluster: write path CPU per 1,000 ops, 3 PostgreSQL stores in one process',
    run: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'loam-write-path-'));
      const db = createTestSchema('loam_bench');
      try {
        const sqlite = await writePathCpu([join(dir, 'relay.db')], 100, 8);
        const one = await writePathCpu([db.url], 100, 8);
        const three = await writePathCpu([db.url, db.url, db.url], 100, 8);
        return {
          figure: three,
          unit: 'ms',
          higherIsBetter: false,
          baseline: { name: 'one SQLite store', figure: sqlite },
          notes: `groups of 100 pushes of 10 inserts per store, 6 rounds measured; 1 PostgreSQL store ${one.toFixed(0)} ms`,
        };
      } finally {
        await db.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'cluster: acknowledged ops/s, 1 PostgreSQL node',
    run: async () => {
      const baseline = await sqliteBaseline();
      const run = await withRelays({ kind: 'postgres', nodes: 1 }, (nodes, db) =>
        ingest(nodes, db, CONNECTIONS, INGEST_SECONDS),
      );
      return {
        figure: run.opsPerSecond,
        unit: 'ops/s',
        higherIsBetter: true,
        baseline: { name: 'one SQLite relay', figure: baseline.opsPerSecond },
        notes: `${CONNECTIONS} connections, batches of 10 inserts, 2 in flight each, ${INGEST_SECONDS} s; ${cpuNote(run)}; SQLite relay ${baseline.relayCpuMs.toFixed(0)} ms (load generator ${baseline.loadCpuMs.toFixed(0)} ms)`,
      };
    },
  },
  {
    name: 'cluster: acknowledged ops/s, 3 PostgreSQL nodes (total)',
    run: async () => {
      const baseline = await sqliteBaseline();
      const run = await withRelays({ kind: 'postgres', nodes: 3 }, (nodes, db) =>
        ingest(nodes, db, CONNECTIONS / 3, INGEST_SECONDS),
      );
      const figure = run.opsPerSecond;
      return {
        figure,
        unit: 'ops/s',
        higherIsBetter: true,
        baseline: { name: 'one SQLite relay', figure: baseline.opsPerSecond },
        notes: `${CONNECTIONS} connections spread over 3 nodes; target ≥ 5,000 ops/s: ${figure >= 5000 ? 'met' : 'MISSED'}; ${cpuNote(run)}`,
      };
    },
  },
  {
    name: 'cluster: sessions held, 3 PostgreSQL nodes × 2,000',
    run: () =>
      withRelays({ kind: 'postgres', nodes: 3 }, async (nodes) => {
        const perNode = 2000;
        const started = performance.now();
        const clients: ProtocolClient[] = [];
        for (const node of nodes) {
          for (let i = 0; i < perNode; i += 100) {
            const batch = await Promise.all(
              Array.from({ length: 100 }, async (_, j) => {
                const storeId = `s${(i + j) % 20}`;
                const { client } = await signedIn(node.wsUrl, [
                  {
                    id: 'o',
                    query: { collection: 'orders', filter: { op: 'eq', field: 'storeId', value: storeId } },
                  },
                ]);
                await client.next('synced', undefined, 60_000);
                return client;
              }),
            );
            clients.push(...batch);
          }
        }
        const connectSeconds = (performance.now() - started) / 1000;
        const writer = await signedIn(nodes[0]!.wsUrl);
        const ids = Array.from({ length: 20 }, (_, s) =>
          writer.device.insert('orders', { storeId: `s${s}`, owner: 'bench', total: 1 }),
        );
        const sent = performance.now();
        await writer.client.push(
          1,
          ids.flatMap((x) => x.ops),
        );
        await Promise.all(clients.map((c) => c.next('docs', (m) => m.docs.length > 0, 60_000)));
        const reachAll = performance.now() - sent;
        const open = clients.filter((c) => c.ws.readyState === c.ws.OPEN).length;
        for (const c of clients) c.close();
        writer.client.close();
        return {
          figure: open,
          unit: 'sessions',
          higherIsBetter: true,
          notes: `target 3 × 2,000 = 6,000: ${open >= 6000 ? 'met' : 'MISSED'}; signed in and subscribed in ${connectSeconds.toFixed(1)} s; one commit of 20 orders reached all ${open} subscribers in ${reachAll.toFixed(0)} ms`,
        };
      }),
  },
  {
    name: 'cluster: cross-node visibility p99 (write on node 1, subscriber on node 3)',
    run: async () => {
      const base = await withRelays({ kind: 'sqlite' }, ([node]) =>
        visibility(node!.wsUrl, node!.wsUrl, 300),
      );
      const samples = await withRelays({ kind: 'postgres', nodes: 3 }, (nodes) =>
        visibility(nodes[0]!.wsUrl, nodes[2]!.wsUrl, 300),
      );
      const p99 = percentile(samples, 99);
      return {
        figure: p99,
        unit: 'ms',
        higherIsBetter: false,
        baseline: { name: 'same relay, SQLite', figure: percentile(base, 99) },
        notes: `p50 ${percentile(samples, 50).toFixed(1)} ms (SQLite relay p50 ${percentile(base, 50).toFixed(1)} ms) over 300 writes; target p99 ≤ 150 ms: ${p99 <= 150 ? 'met' : 'MISSED'}`,
      };
    },
  },
];
