/**
 * The terminals of one soak process: the Node engine on a better-sqlite3 file with the sync client each, grouped
 * in shops of `shopSize` (a process holds whole shops), each subscribed to its shop's orders. It writes orders at
 * `rate` per second on its random terminals, disconnects a random terminal every `disconnectEveryMs` (back 0.5-3 s
 * later), measures ack latency (write → outbox acknowledged) and fan-out latency (write → visible on another
 * terminal of the shop, looked for every 50 ms tick), and checks its terminals against the relay's HTTP API.
 */
import { join } from 'node:path';
import { q, type Schema } from '@loam/core';
import { mintToken, SERVICE_TOKEN, testSchema } from '@loam/server/testing';
import type { TestDevice } from '@loam/server/testing/cluster';
import { createBetterSqlite3Storage, openEngine } from '@loam/store/node';
import { createSyncClient, createWebSocketTransport, type WebSocketConstructor } from '@loam/sync';
import { WebSocket } from 'ws';

/** Options of {@link openTerminals}. */
export interface TerminalsOptions {
  readonly dir: string;
  /** The relay's sync URL. */
  readonly url: string;
  /** Terminal numbers `from` (included) to `to` (excluded). */
  readonly from: number;
  readonly to: number;
  readonly shopSize: number;
  /** Writes per second over this process's terminals. */
  readonly rate: number;
  readonly disconnectEveryMs: number;
}

/** What a process's terminals measured. */
export interface TerminalsResult {
  readonly written: number;
  readonly acked: number;
  readonly ackMs: number[];
  readonly fanOutMs: number[];
  readonly disconnects: number;
  readonly issues: Record<string, number>;
}

/** The outcome of comparing the terminals with the relay. */
export interface Check {
  /** Terminals offline, disconnected or with uploads pending. */
  readonly busy: number;
  /** Terminals whose orders differ from the relay's for their shop (only counted when `busy` is 0 or forced). */
  readonly diverged: number;
  /** Orders written here that the relay does not hold. */
  readonly missing: number;
  /** Orders written here that the relay holds with another value, or more than once. */
  readonly wrong: number;
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

/**
 * The relay's orders of `shop` through its HTTP API. An overloaded relay (a reconnect storm after a restart) may
 * refuse or time out a request: tried up to 6 times, 30 s each, 5 s apart, before the check fails.
 */
async function relayOrders(relayUrl: string, shop: string): Promise<{ id: string; total: number }[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`${relayUrl}/v1/collections/orders/query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${SERVICE_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ filter: q.eq('storeId', shop) }),
        signal: AbortSignal.timeout(30_000),
      });
      if (!res.ok) throw new Error(`relay query failed: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { docs: { id: string; total: number }[] }).docs;
    } catch (error) {
      if (attempt === 6)
        throw new Error(`relay query of ${shop} failed ${attempt} times: ${(error as Error).message}`);
      await sleep(5000);
    }
  }
}

/** Opens a process's terminals (see the module documentation). */
export async function openTerminals(options: TerminalsOptions) {
  const terminals: Terminal[] = [];
  const written = new Map<string, { shop: string; total: number }>();
  const watching = new Map<string, { at: number; observer: Terminal }>();
  const ackMs: number[] = [];
  const fanOutMs: number[] = [];
  const issues: Record<string, number> = {};
  let disconnects = 0;
  let total = 0;
  let writing: Promise<void> | undefined;
  let stop = false;
  let halted = false;

  const open = async (index: number): Promise<Terminal> => {
    const shop = `shop${Math.floor(index / options.shopSize)}`;
    const device = await openTerminal(options.dir, index, options.url, `${shop}-t${index}`);
    const terminal: Terminal = { index, shop, device, pending: [], offline: false };
    let pendingBefore = 0;
    let lastIssue = '';
    device.client.onStatus((status) => {
      const acked = Math.max(0, pendingBefore - status.pendingUploads);
      pendingBefore = status.pendingUploads;
      const now = performance.now();
      for (let k = 0; k < acked && terminal.pending.length > 0; k++)
        ackMs.push(now - terminal.pending.shift()!);
      const key = status.lastError && `${status.lastError.code}@${status.lastError.at}`;
      if (status.lastError && key && key !== lastIssue) {
        lastIssue = key;
        issues[status.lastError.code] = (issues[status.lastError.code] ?? 0) + 1;
      }
    });
    device.client.subscribe('orders', q.eq('storeId', shop));
    return terminal;
  };
  for (let i = options.from; i < options.to; i += 25) {
    const batch = Array.from({ length: Math.min(25, options.to - i) }, (_, k) => open(i + k));
    terminals.push(...(await Promise.all(batch)));
  }
  const shops = [...new Set(terminals.map((t) => t.shop))];
  const mates = new Map(shops.map((s) => [s, terminals.filter((t) => t.shop === s)]));

  const writeLoop = async () => {
    const tickMs = 50;
    let owed = 0;
    let last = performance.now();
    let nextDisconnect = last + options.disconnectEveryMs;
    while (!stop) {
      const tickStart = performance.now();
      // Owed by the clock, not by ticks: a slow tick is caught up (up to a second's worth) rather than lost.
      owed = Math.min(owed + (options.rate * (tickStart - last)) / 1000, Math.max(1, options.rate));
      last = tickStart;
      const writes: Promise<unknown>[] = [];
      for (; owed >= 1; owed--) {
        const t = terminals[Math.floor(Math.random() * terminals.length)]!;
        const value = ++total;
        const at = performance.now();
        t.pending.push(at);
        writes.push(
          t.device.engine.insert('orders', { storeId: t.shop, owner: 'soak', total: value }).then((id) => {
            written.set(id, { shop: t.shop, total: value });
            const others = mates.get(t.shop)!.filter((o) => o !== t && !o.offline);
            const observer = others[Math.floor(Math.random() * others.length)];
            if (observer) watching.set(id, { at, observer });
          }),
        );
      }
      await Promise.all(writes);
      {
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
        nextDisconnect += options.disconnectEveryMs;
        const t = terminals[Math.floor(Math.random() * terminals.length)]!;
        if (!t.offline) {
          disconnects++;
          t.offline = true;
          void t.device.client.stop().then(async () => {
            await sleep(500 + Math.random() * 2500);
            if (halted) return;
            t.device.client.start();
            t.offline = false;
          });
        }
      }
      await sleep(Math.max(0, tickMs - (performance.now() - tickStart)));
    }
  };

  const fingerprint = (docs: readonly { id: string; total: number }[]) =>
    docs
      .map((d) => `${d.id}:${d.total}`)
      .sort()
      .join(',');

  return {
    count: terminals.length,
    startWriting() {
      writing = writeLoop();
    },
    async stopWriting() {
      stop = true;
      await writing;
    },
    /** Stops every terminal's sync client (before the final check: the relay then answers only the check). */
    async halt() {
      halted = true;
      await Promise.all(terminals.map((t) => t.device.client.stop()));
    },
    /** Compares every terminal with the relay at `relayUrl` (orders of its shop); `full` also checks every write. */
    async check(relayUrl: string, full: boolean): Promise<Check> {
      const busy = terminals.filter(
        (t) =>
          t.offline || !t.device.client.status().connected || t.device.client.status().pendingUploads > 0,
      ).length;
      if (busy > 0 && !full) return { busy, diverged: terminals.length, missing: 0, wrong: 0 };
      let diverged = 0;
      const held = new Map<string, number[]>();
      for (const shop of shops) {
        const docs = await relayOrders(relayUrl, shop);
        for (const d of docs) held.set(d.id, [...(held.get(d.id) ?? []), d.total]);
        const expected = fingerprint(docs);
        for (const t of mates.get(shop)!) {
          const mine = (await t.device.engine.find({
            collection: 'orders',
            filter: q.eq('storeId', shop),
          })) as {
            id: string;
            total: number;
          }[];
          if (fingerprint(mine) !== expected) diverged++;
        }
      }
      let missing = 0;
      let wrong = 0;
      if (full) {
        for (const [id, w] of written) {
          const totals = held.get(id);
          if (!totals) missing++;
          else if (totals.length !== 1 || totals[0] !== w.total) wrong++;
        }
        // Orders of these shops the relay holds that no terminal wrote.
        if (held.size > written.size - missing) wrong += held.size - (written.size - missing);
      }
      return { busy, diverged, missing, wrong };
    },
    result(): TerminalsResult {
      const round = (xs: number[]) => xs.map((x) => Math.round(x * 10) / 10);
      return {
        written: written.size,
        acked: ackMs.length,
        ackMs: round(ackMs),
        fanOutMs: round(fanOutMs),
        disconnects,
        issues,
      };
    },
    async close() {
      await Promise.all(terminals.map((t) => t.device.close().catch(() => undefined)));
    },
  };
}
