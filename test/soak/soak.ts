/**
 * A soak run: a real `loam-server` child process behind a TCP balancer, many terminals (the Node engine on a
 * better-sqlite3 file with the sync client) in shops of `shopSize`, each subscribed to its shop's
 * orders; writers insert orders at `rate` per second on random terminals, random terminals disconnect and come back,
 * and the relay is killed with SIGKILL and restarted on the same database every `killEveryMs`.
 *
 * At the end, writes stop and the run waits for quiescence: every terminal connected with nothing left to upload,
 * and every terminal's orders equal the relay's for its shop, twice in a row a second apart. Then it checks that
 * every order written is stored on the relay exactly once with the value written, and reports acknowledged ops/s,
 * ack and fan-out latency (p50/p99, measured on the terminals: write → outbox acknowledged, write → visible on
 * another terminal of the shop), the relay's RSS at start, peak and end, and the sync issues seen by code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { q, type Schema } from '@loam/core';
import { mintToken, SERVICE_TOKEN, testRules, testSchema } from '@loam/server/testing';
import {
  type RelayNode,
  startRelayNode,
  startTcpBalancer,
  type TestDevice,
  writeClusterConfig,
} from '@loam/server/testing/cluster';
import { createBetterSqlite3Storage, openEngine } from '@loam/store/node';
import { createSyncClient, createWebSocketTransport, type WebSocketConstructor } from '@loam/sync';
import { WebSocket } from 'ws';

/** Options of {@link runSoak}. */
export interface SoakOptions {
  readonly dir: string;
  readonly seconds: number;
  readonly clients: number;
  /** Writes per second over all terminals. */
  readonly rate: number;
  readonly shopSize?: number;
  /** SIGKILL + restart of the relay every this many ms (0: never). */
  readonly killEveryMs?: number;
  /** One random terminal disconnects (and reconnects 0.5-3 s later) every this many ms. */
  readonly disconnectEveryMs?: number;
  /** Longest wait for quiescence after the writes stop. */
  readonly drainTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

/** What a soak run measured and found. */
export interface SoakReport {
  readonly written: number;
  readonly ackedPerSecond: number;
  readonly ackMs: { readonly p50: number; readonly p99: number };
  readonly fanOutMs: { readonly p50: number; readonly p99: number };
  readonly relayRssMb: { readonly start: number; readonly peak: number; readonly end: number };
  readonly relayKills: number;
  readonly disconnects: number;
  readonly issues: Readonly<Record<string, number>>;
  /** Orders written that the relay does not hold (must be 0). */
  readonly missing: number;
  /** Orders the relay holds with another value than written, or more than once (must be 0). */
  readonly wrong: number;
  /** Terminals whose orders differ from the relay's for their shop after the drain (must be 0). */
  readonly diverged: number;
  readonly drainMs: number;
}

interface Terminal {
  readonly index: number;
  readonly shop: string;
  readonly device: TestDevice;
  /** Write times of the ops not yet acknowledged, oldest first. */
  readonly pending: number[];
  offline: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
function rssMb(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/**
 * A terminal: the engine on a better-sqlite3 file and the sync client. Pings every 15 s (answer within 30 s): with
 * hundreds of terminals in one busy process, a 1 s ping would time out for the process's own slowness and make the
 * terminals reconnect over and over.
 */
async function openTerminal(dir: string, index: number, url: string, user: string): Promise<TestDevice> {
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, `t${index}.db`) }),
    schema: testSchema as Schema,
  });
  const client = createSyncClient({
    store: engine.syncStore,
    transportFactory: () =>
      createWebSocketTransport({ url, WebSocket: WebSocket as unknown as WebSocketConstructor }),
    getToken: () => mintToken({ role: 'manager', sub: user }, { alg: 'HS256' }),
    backoff: { baseMs: 100, maxMs: 2000 },
    pingIntervalMs: 15_000,
    pingTimeoutMs: 30_000,
  });
  client.start();
  return {
    engine,
    client,
    async close() {
      await client.stop();
      await engine.close();
    },
  };
}

/** Runs a soak (see the module documentation). */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const shopSize = options.shopSize ?? 10;
  const config = writeClusterConfig(options.dir, testSchema, testRules, {
    limits: {
      connectionsPerUser: 100_000,
      connectionsPerAddress: 1_000_000,
      handshakesPerSecond: 1_000_000,
      opsPerBatch: 1000,
    },
  });
  const storePath = join(options.dir, 'relay.db');
  let relay: RelayNode = await startRelayNode(config, storePath);
  const balancer = await startTcpBalancer(() => [relay.port]);
  const url = `ws://127.0.0.1:${balancer.port}/sync`;
  const rss = { start: 0, peak: 0, end: 0 };
  const issues: Record<string, number> = {};
  const ackMs: number[] = [];
  const fanOutMs: number[] = [];
  const terminals: Terminal[] = [];
  const written = new Map<string, { shop: string; total: number }>();
  const watching = new Map<string, { at: number; observer: Terminal }>();
  let relayKills = 0;
  let disconnects = 0;

  const open = async (index: number): Promise<Terminal> => {
    const shop = `shop${Math.floor(index / shopSize)}`;
    const device = await openTerminal(options.dir, index, url, `${shop}-t${index}`);
    const terminal: Terminal = { index, shop, device, pending: [], offline: false };
    let pendingBefore = 0;
    device.client.onStatus((status) => {
      const acked = Math.max(0, pendingBefore - status.pendingUploads);
      pendingBefore = status.pendingUploads;
      const now = performance.now();
      for (let k = 0; k < acked && terminal.pending.length > 0; k++)
        ackMs.push(now - terminal.pending.shift()!);
    });
    let lastIssue = '';
    device.client.onStatus((status) => {
      const key = status.lastError && `${status.lastError.code}@${status.lastError.at}`;
      if (status.lastError && key && key !== lastIssue) {
        lastIssue = key;
        issues[status.lastError.code] = (issues[status.lastError.code] ?? 0) + 1;
      }
    });
    device.client.subscribe('orders', q.eq('storeId', shop));
    return terminal;
  };

  const started = performance.now();
  try {
    for (let i = 0; i < options.clients; i += 50) {
      const batch = Array.from({ length: Math.min(50, options.clients - i) }, (_, k) => open(i + k));
      terminals.push(...(await Promise.all(batch)));
    }
    log(`${terminals.length} terminals open in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    rss.start = rssMb(relay.process.pid);
    rss.peak = rss.start;

    const writeStart = performance.now();
    const until = writeStart + options.seconds * 1000;
    let restarting: Promise<void> | undefined;
    let total = 0;
    let nextKill = options.killEveryMs ? performance.now() + options.killEveryMs : Number.POSITIVE_INFINITY;
    let nextDisconnect = performance.now() + (options.disconnectEveryMs ?? 2000);
    const tickMs = 50;
    let owed = 0;
    let lastReport = performance.now();
    let ticks = 0;
    while (performance.now() < until) {
      const tickStart = performance.now();
      owed += (options.rate * tickMs) / 1000;
      const writes: Promise<unknown>[] = [];
      for (; owed >= 1; owed--) {
        const t = terminals[Math.floor(Math.random() * terminals.length)]!;
        const value = ++total;
        const at = performance.now();
        t.pending.push(at);
        writes.push(
          t.device.engine.insert('orders', { storeId: t.shop, owner: 'soak', total: value }).then((id) => {
            written.set(id, { shop: t.shop, total: value });
            const mates = terminals.filter((o) => o.shop === t.shop && o !== t && !o.offline);
            const observer = mates[Math.floor(Math.random() * mates.length)];
            if (observer) watching.set(id, { at, observer });
          }),
        );
      }
      await Promise.all(writes);
      if (++ticks % 5 === 0) {
        let checked = 0;
        for (const [id, w] of watching) {
          if (++checked > 500) break;
          if (await w.observer.device.engine.get('orders', id)) {
            fanOutMs.push(performance.now() - w.at);
            watching.delete(id);
          } else if (w.observer.offline) watching.delete(id);
        }
      }
      if (performance.now() >= nextDisconnect) {
        nextDisconnect += options.disconnectEveryMs ?? 2000;
        const t = terminals[Math.floor(Math.random() * terminals.length)]!;
        if (!t.offline) {
          disconnects++;
          t.offline = true;
          void t.device.client.stop().then(async () => {
            await sleep(500 + Math.random() * 2500);
            t.device.client.start();
            t.offline = false;
          });
        }
      }
      if (performance.now() >= nextKill && !restarting) {
        nextKill += options.killEveryMs ?? 0;
        relayKills++;
        rss.peak = Math.max(rss.peak, rssMb(relay.process.pid));
        restarting = relay.stop('SIGKILL').then(async () => {
          relay = await startRelayNode(config, storePath);
          log(`relay killed and restarted (${relayKills})`);
          restarting = undefined;
        });
      }
      rss.peak = Math.max(rss.peak, rssMb(relay.process.pid));
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        log(`${total} written, ${ackMs.length} acked, relay RSS ${rssMb(relay.process.pid).toFixed(0)} MB`);
      }
      await sleep(Math.max(0, tickMs - (performance.now() - tickStart)));
    }
    const writeSeconds = (performance.now() - writeStart) / 1000;
    await restarting;

    const drainStart = performance.now();
    const drainUntil = drainStart + (options.drainTimeoutMs ?? 180_000);
    const relayShop = async (shop: string) => {
      const res = await fetch(`${relay.url}/v1/collections/orders/query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${SERVICE_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ filter: q.eq('storeId', shop) }),
      });
      if (!res.ok) throw new Error(`relay query failed: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { docs: { id: string; total: number }[] }).docs;
    };
    const shops = [...new Set(terminals.map((t) => t.shop))];
    const fingerprint = (docs: readonly { id: string; total: number }[]) =>
      docs
        .map((d) => `${d.id}:${d.total}`)
        .sort()
        .join(',');
    const divergedNow = async () => {
      let diverged = 0;
      for (const shop of shops) {
        const expected = fingerprint(await relayShop(shop));
        for (const t of terminals.filter((x) => x.shop === shop)) {
          const docs = (await t.device.engine.find({
            collection: 'orders',
            filter: q.eq('storeId', shop),
          })) as {
            id: string;
            total: number;
          }[];
          if (fingerprint(docs) !== expected) diverged++;
        }
      }
      return diverged;
    };
    let diverged = terminals.length;
    let quietRounds = 0;
    while (performance.now() < drainUntil && quietRounds < 2) {
      await sleep(1000);
      const busy = terminals.filter(
        (t) =>
          t.offline || !t.device.client.status().connected || t.device.client.status().pendingUploads > 0,
      ).length;
      diverged = busy > 0 ? terminals.length : await divergedNow();
      quietRounds = busy === 0 && diverged === 0 ? quietRounds + 1 : 0;
      if (quietRounds === 0) log(`draining: ${busy} terminals busy, ${diverged} not converged`);
    }
    const drainMs = performance.now() - drainStart;
    if (quietRounds < 2) {
      log('drain timed out: comparing every terminal with the relay as they are');
      diverged = await divergedNow();
    }

    let missing = 0;
    let wrong = 0;
    const held = new Map<string, number[]>();
    for (const shop of shops)
      for (const d of await relayShop(shop)) held.set(d.id, [...(held.get(d.id) ?? []), d.total]);
    for (const [id, w] of written) {
      const totals = held.get(id);
      if (!totals) missing++;
      else if (totals.length !== 1 || totals[0] !== w.total) wrong++;
    }
    if (held.size !== written.size) wrong += Math.abs(held.size - written.size - missing);
    rss.end = rssMb(relay.process.pid);
    rss.peak = Math.max(rss.peak, rss.end);
    return {
      written: written.size,
      ackedPerSecond: ackMs.length / writeSeconds,
      ackMs: { p50: percentile(ackMs, 50), p99: percentile(ackMs, 99) },
      fanOutMs: { p50: percentile(fanOutMs, 50), p99: percentile(fanOutMs, 99) },
      relayRssMb: rss,
      relayKills,
      disconnects,
      issues,
      missing,
      wrong,
      diverged,
      drainMs,
    };
  } finally {
    await Promise.all(terminals.map((t) => t.device.close().catch(() => undefined)));
    await balancer.close();
    await relay.stop();
  }
}
