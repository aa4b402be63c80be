import { defineSchema, f, q, type Rules, validateRules } from '@loam/core';
import type { Doc } from '@loam/store';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRng } from '../../../test/convergence/random';
import {
  openTestDevice,
  type RelayNode,
  startRelayNode,
  startTcpBalancer,
  type TcpBalancer,
  type TestDevice,
  writeClusterConfig,
} from './testing/cluster';
import { SERVICE_TOKEN, tempDir } from './testing/fixtures';
import { createTestSchema } from './testing/postgres';

const schema = defineSchema({
  version: 1,
  collections: {
    notes: {
      fields: {
        title: f.string(),
        store: f.number({ indexed: true }),
        count: f.counter(),
        tags: f.list<string>(),
        body: f.text(),
      },
    },
  },
});
const rules: Rules = validateRules({
  notes: { roles: [{ name: 'clerk', read: true, write: true, insert: true, delete: true }] },
});

const tmp = tempDir('loam-cluster-');
const db = createTestSchema('loam_cluster');
let nodes: RelayNode[] = [];
let balancer: TcpBalancer;
const devices: TestDevice[] = [];

beforeAll(async () => {
  const config = writeClusterConfig(tmp.dir, schema, rules);
  nodes = await Promise.all([0, 1, 2].map(() => startRelayNode(config, db.url)));
  balancer = await startTcpBalancer(() =>
    nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null).map((n) => n.port),
  );
}, 60_000);

afterAll(async () => {
  for (const d of devices) await d.close();
  await balancer?.close();
  await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
  await db.drop();
  tmp.cleanup();
});

let deviceCount = 0;
async function device(url = `ws://127.0.0.1:${balancer.port}/sync`): Promise<TestDevice> {
  const d = await openTestDevice({
    dir: tmp.dir,
    name: `device-${++deviceCount}`,
    schema,
    url,
    user: `clerk-${deviceCount}`,
  });
  devices.push(d);
  return d;
}

async function api(node: RelayNode, path: string, body?: unknown) {
  const res = await fetch(`${node.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${SERVICE_TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return (await res.json()) as { docs: Doc[] };
}

const docsOf = (d: TestDevice, store: number) =>
  d.engine.find({ collection: 'notes', filter: q.eq('store', store), sort: [q.asc('id')] });

/** Cuts connections of this cluster's nodes: their LISTEN connections only, or every one (a database restart). */
async function cutConnections(which: 'listen' | 'all'): Promise<number> {
  const [row] =
    which === 'listen'
      ? await db.query<{ n: number }>(
          "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE query ILIKE 'listen %' AND query LIKE $1",
          [`%loam_commits_${db.schema}%`],
        )
      : await db.query<{ n: number }>(
          'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1',
          [`loam-relay:${db.schema}`],
        );
  return row?.n ?? 0;
}

async function converged(all: readonly TestDevice[], store: number): Promise<boolean> {
  for (const d of all) if ((await d.engine.pendingCount()) > 0) return false;
  const states = await Promise.all(all.map(async (d) => JSON.stringify(await docsOf(d, store))));
  return states.every((s) => s === states[0]);
}

describe('three relay nodes on one PostgreSQL', () => {
  it('shows a change written through node 1 to a subscriber on node 3', async () => {
    const [one, three] = [await device(nodes[0]!.wsUrl), await device(nodes[2]!.wsUrl)];
    await three.client.subscribe('notes', q.eq('store', 7)).ready;
    const id = await one.engine.insert('notes', { title: 'from node 1', store: 7 });
    await vi.waitFor(async () => expect((await three.engine.get('notes', id))?.title).toBe('from node 1'), {
      timeout: 10_000,
    });
  });

  it('converges every device and the database after random writes of every kind, across dropped connections', async () => {
    const all = await Promise.all(Array.from({ length: 6 }, () => device()));
    for (const d of all)
      expect(await d.client.subscribe('notes', q.eq('store', 1)).ready).toEqual({ status: 'synced' });
    const connections = await Promise.all(
      nodes.map(async (n) =>
        Number(/^loam_connections (\d+)$/m.exec(await (await fetch(`${n.url}/metrics`)).text())?.[1]),
      ),
    );
    expect(connections.every((c) => c >= 2)).toBe(true);

    const rng = createRng(Number(process.env.LOAM_CLUSTER_SEED ?? 11));
    const ids: string[] = [];
    for (let step = 0; step < 160; step++) {
      if (step === 50) expect(await cutConnections('listen')).toBe(3);
      if (step === 110) expect(await cutConnections('all')).toBeGreaterThanOrEqual(3);
      const d = rng.pick(all);
      const roll = rng();
      if (roll < 0.2 || ids.length === 0) {
        ids.push(await d.engine.insert('notes', { title: `s${step}`, store: 1, tags: ['a'], body: 'hi' }));
        continue;
      }
      const id = rng.pick(ids);
      const doc = (await d.engine.get('notes', id)) as { tags: string[]; body: string } | undefined;
      if (!doc) continue;
      if (roll < 0.35) await d.engine.update('notes', id, { title: `s${step}` });
      else if (roll < 0.5) await d.engine.increment('notes', id, 'count', rng.int(-3, 5));
      else if (roll < 0.62)
        await d.engine.listInsert('notes', id, 'tags', rng.int(0, doc.tags.length), [`t${step}`]);
      else if (roll < 0.7 && doc.tags.length > 0)
        await d.engine.listDelete('notes', id, 'tags', rng.int(0, doc.tags.length - 1), 1);
      else if (roll < 0.85)
        await d.engine.textInsert('notes', id, 'body', rng.int(0, doc.body.length), `<${step}>`);
      else if (roll < 0.92 && doc.body.length > 0) await d.engine.textDelete('notes', id, 'body', 0, 1);
      else if (roll >= 0.92) await d.engine.delete('notes', id);
      if (step % 8 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }

    await vi.waitFor(async () => expect(await converged(all, 1)).toBe(true), {
      timeout: 30_000,
      interval: 50,
    });
    const onDevices = await docsOf(all[0]!, 1);
    expect(onDevices.length).toBeGreaterThan(5);
    for (const node of nodes) {
      const { docs } = await api(node, '/v1/collections/notes/query', {
        filter: q.eq('store', 1),
        sort: [q.asc('id')],
      });
      expect(docs).toEqual(onDevices);
    }
  });

  it('loses and duplicates no acknowledged op when a node is killed mid-batch while devices keep writing', async () => {
    const all = await Promise.all(Array.from({ length: 6 }, () => device()));
    const shared = await all[0]!.engine.insert('notes', { title: 'shared', store: 2 });
    for (const d of all) await d.client.subscribe('notes', q.eq('store', 2)).ready;
    for (const d of all)
      await vi.waitFor(async () => expect(await d.engine.get('notes', shared)).toBeDefined(), {
        timeout: 10_000,
      });
    const rng = createRng(5);
    let total = 0;
    const writes = all.map(async (d, i) => {
      for (let n = 0; n < 40; n++) {
        const by = rng.int(1, 3);
        total += by;
        await d.engine.increment('notes', shared, 'count', by);
        if (i === 0 && n === 12) await nodes[1]!.stop('SIGKILL');
        await new Promise((resolve) => setTimeout(resolve, rng.int(0, 3)));
      }
    });
    await Promise.all(writes);
    expect(nodes[1]!.process.signalCode).toBe('SIGKILL');
    await vi.waitFor(async () => expect(await converged(all, 2)).toBe(true), {
      timeout: 30_000,
      interval: 50,
    });
    const [doc] = (await api(nodes[0]!, '/v1/collections/notes/query', { filter: q.eq('store', 2) }))
      .docs as unknown as { count: number }[];
    expect(doc?.count).toBe(total);
    for (const d of all) expect((await d.engine.get('notes', shared))?.count).toBe(total);
    for (const [i, d] of all.entries()) {
      const [row] = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM loam_server_ops WHERE id LIKE $1',
        [`${d.engine.replica}:%`],
      );
      expect(row?.n).toBe(i === 0 ? 41 : 40);
    }
    const versions = await db.query<{ version: string }>(
      'SELECT version FROM loam_server_batches ORDER BY version',
    );
    const [counter] = await db.query<{ version: string }>('SELECT version FROM loam_server_counter');
    expect(versions.map((v) => Number(v.version))).toEqual(
      Array.from({ length: Number(counter?.version) }, (_, i) => i + 1),
    );
  });
});
