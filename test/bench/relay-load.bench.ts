/**
 * Relay load (`npm run bench -- relay-load`): a `loam-server` child process on its SQLite store (synchronous=FULL)
 * and raw protocol clients in this process.
 * - 1,000 signed-in terminals in 100 shops (each subscribed to its shop's orders), one-op pushes at 500 ops/s from
 *   random terminals for 20 s: ack p50/p99 (push → ack), fan-out p50/p99 (push → the first other terminal of the
 *   shop holding it), and the relay's CPU over the run in % of one core (from `/proc`), against the same run with
 *   10 terminals (10 shops): how much the relay's cost grows with sessions it does not write to. Targets (issue
 *   12): ack p99 < 50 ms, relay CPU < 50% of a core.
 * - Memory per idle signed-in connection, server side only: the relay child's RSS with 1,000 idle connections
 *   minus its RSS with 20, against a raw `ws` server child holding the same connections.
 *
 * Environment: `LOAM_RELAY_LOAD_SECONDS` (default 20), `LOAM_RELAY_LOAD_CLIENTS` (default 1000),
 * `LOAM_RELAY_LOAD_RATE` (default 500).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeOps } from '@loam/core';
import { mintToken, testDevice, testRules, testSchema } from '@loam/server/testing';
import { rssMb, startRelayNode, writeClusterConfig } from '@loam/server/testing/cluster';
import { decodeServerMessage, encodeMessage, PROTOCOL_VERSION } from '@loam/sync';
import { WebSocket } from 'ws';
import { type Bench, percentile } from './bench';

const SECONDS = Number(process.env.LOAM_RELAY_LOAD_SECONDS ?? 20);
const CLIENTS = Number(process.env.LOAM_RELAY_LOAD_CLIENTS ?? 1000);
const RATE = Number(process.env.LOAM_RELAY_LOAD_RATE ?? 500);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Terminal {
  readonly ws: WebSocket;
  readonly shop: number;
  readonly device: ReturnType<typeof testDevice>;
}

/** Opens a signed-in terminal subscribed to its shop's orders; resolves once its (empty) set is synced. */
async function openTerminal(url: string, shop: number, user: string): Promise<Terminal> {
  const device = testDevice();
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const token = await mintToken({ sub: user, role: 'manager' }, { alg: 'HS256' });
  await new Promise<void>((resolve, reject) => {
    const onMessage = (data: Buffer) => {
      const m = decodeServerMessage(new Uint8Array(data));
      if (m.t === 'error') reject(new Error(`${m.code}: ${m.message}`));
      if (m.t === 'synced') {
        ws.off('message', onMessage);
        resolve();
      }
    };
    ws.on('message', onMessage);
    ws.send(
      encodeMessage({
        t: 'hello',
        protocol: PROTOCOL_VERSION,
        schemaVersion: testSchema.version,
        replica: device.replica,
        token,
        cursor: 0,
        subs: [
          {
            id: 's',
            query: { collection: 'orders', filter: { op: 'eq', field: 'storeId', value: `shop${shop}` } },
          },
        ],
      }),
    );
  });
  return { ws, shop, device };
}

async function openTerminals(url: string, n: number, shops: number): Promise<Terminal[]> {
  const out: Terminal[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = Array.from({ length: Math.min(50, n - i) }, (_, k) =>
      openTerminal(url, (i + k) % shops, `load-${i + k}`),
    );
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

function startRelay(dir: string) {
  const config = writeClusterConfig(dir, testSchema, testRules, {
    limits: { connectionsPerUser: 100_000, connectionsPerAddress: 1_000_000, handshakesPerSecond: 1_000_000 },
  });
  return startRelayNode(config, join(dir, 'relay.db'));
}

/** One load run: `clients` terminals in `shops` shops, `RATE` one-op pushes a second for `SECONDS`. */
async function loadRun(clients: number, shops: number) {
  const dir = mkdtempSync(join(tmpdir(), 'loam-relay-load-'));
  const relay = await startRelay(dir);
  const pid = relay.process.pid!;
  try {
    const terminals = await openTerminals(relay.wsUrl, clients, shops);
    const ackMs: number[] = [];
    const fanOutMs: number[] = [];
    const pendingAcks = new Map<string, number>();
    const pendingFanOut = new Map<string, { at: number; from: Terminal }>();
    for (const [index, t] of terminals.entries()) {
      t.ws.on('message', (data: Buffer) => {
        const m = decodeServerMessage(new Uint8Array(data));
        const now = performance.now();
        if (m.t === 'ack') {
          const key = `${index}:${m.batch}`;
          const at = pendingAcks.get(key);
          if (at !== undefined) {
            ackMs.push(now - at);
            pendingAcks.delete(key);
          }
        } else if (m.t === 'docs') {
          for (const d of m.docs) {
            const w = pendingFanOut.get(d.id);
            if (w && w.from !== t) {
              fanOutMs.push(now - w.at);
              pendingFanOut.delete(d.id);
            }
          }
        }
      });
    }
    const batches = terminals.map(() => 0);
    const cpuStart = cpuSeconds(pid);
    const start = performance.now();
    const until = start + SECONDS * 1000;
    let owed = 0;
    let written = 0;
    let last = start;
    while (performance.now() < until) {
      const now = performance.now();
      owed += ((now - last) / 1000) * RATE;
      last = now;
      for (; owed >= 1; owed--) {
        const index = Math.floor(Math.random() * terminals.length);
        const t = terminals[index]!;
        const { id, ops } = t.device.insert('orders', {
          storeId: `shop${t.shop}`,
          owner: 'load',
          total: written,
        });
        const batch = ++batches[index]!;
        pendingAcks.set(`${index}:${batch}`, performance.now());
        pendingFanOut.set(id, { at: performance.now(), from: t });
        t.ws.send(encodeMessage({ t: 'push', batch, ops: encodeOps(ops) }));
        written++;
      }
      await sleep(10);
    }
    const deadline = performance.now() + 30_000;
    while (pendingAcks.size > 0 && performance.now() < deadline) await sleep(50);
    const seconds = (performance.now() - start) / 1000;
    const cpu = (cpuSeconds(pid) - cpuStart) / seconds;
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    const metric = (name: string) =>
      Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN);
    const transactions = metric('loam_db_latency_seconds_count');
    await sleep(500);
    for (const t of terminals) t.ws.terminate();
    return {
      written,
      acked: ackMs.length,
      ackedPerSecond: ackMs.length / seconds,
      ack: { p50: percentile(ackMs, 50), p99: percentile(ackMs, 99) },
      fanOut: { p50: percentile(fanOutMs, 50), p99: percentile(fanOutMs, 99) },
      cpuPercent: cpu * 100,
      /** Transactions (each one fsync), their mean duration (the event loop is blocked meanwhile), ops in each. */
      db: {
        transactions,
        meanMs: (metric('loam_db_latency_seconds_sum') / transactions) * 1000,
        opsPerTransaction: metric('loam_db_batch_ops_sum') / transactions,
        busyPercent: (metric('loam_db_latency_seconds_sum') / seconds) * 100,
      },
    };
  } finally {
    await relay.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A raw `ws` server child process accepting connections (the baseline of memory per connection). */
function startRawWsServer(): Promise<{ pid: number; url: string; stop(): void }> {
  const script = `const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
wss.on('listening', () => console.log('port ' + wss.address().port));
wss.on('connection', (ws) => ws.on('message', () => {}));`;
  const proc = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => {
    proc.stdout!.on('data', (d: Buffer) => {
      const m = /port (\d+)/.exec(d.toString());
      if (m) resolve({ pid: proc.pid!, url: `ws://127.0.0.1:${m[1]}`, stop: () => proc.kill() });
    });
  });
}

const fmt = (n: number) => n.toFixed(1);

export const benches: Bench[] = [
  {
    name: `relay load: ${CLIENTS} terminals in ${CLIENTS / 10} shops, ${RATE} ops/s, relay CPU`,
    run: async () => {
      const small = await loadRun(10, 10);
      const big = await loadRun(CLIENTS, CLIENTS / 10);
      return {
        figure: big.cpuPercent,
        unit: '% of a core',
        higherIsBetter: false,
        baseline: { name: '10 terminals, same rate', figure: small.cpuPercent },
        notes:
          `${CLIENTS} terminals: acked ${fmt(big.ackedPerSecond)} ops/s (${big.acked}/${big.written}), ` +
          `ack p50 ${fmt(big.ack.p50)} ms p99 ${fmt(big.ack.p99)} ms, fan-out p50 ${fmt(big.fanOut.p50)} ms p99 ${fmt(big.fanOut.p99)} ms; ` +
          `${big.db.transactions} transactions of ${fmt(big.db.opsPerTransaction)} ops, ${fmt(big.db.meanMs)} ms each (fsync included, event loop blocked ${fmt(big.db.busyPercent)}% of the time); ` +
          `10 terminals: ack p50 ${fmt(small.ack.p50)} ms p99 ${fmt(small.ack.p99)} ms; ` +
          `targets ack p99 < 50 ms: ${big.ack.p99 < 50 ? 'met' : 'MISSED'}, CPU < 50%: ${big.cpuPercent < 50 ? 'met' : 'MISSED'}`,
      };
    },
  },
  {
    name: 'relay load: memory per idle signed-in connection (server RSS)',
    run: async () => {
      const N = 1000;
      const dir = mkdtempSync(join(tmpdir(), 'loam-relay-mem-'));
      const relay = await startRelay(dir);
      const raw = await startRawWsServer();
      try {
        const warm = await openTerminals(relay.wsUrl, 20, 10);
        await sleep(1000);
        const before = rssMb(relay.process.pid!);
        const terminals = await openTerminals(relay.wsUrl, N, 100);
        await sleep(1000);
        const loamKiB = ((rssMb(relay.process.pid!) - before) * 1024) / N;
        for (const t of [...warm, ...terminals]) t.ws.terminate();

        const rawOpen = async () => {
          const ws = new WebSocket(raw.url);
          await new Promise<void>((resolve) => ws.once('open', () => resolve()));
          return ws;
        };
        const rawWarm = await Promise.all(Array.from({ length: 20 }, rawOpen));
        await sleep(1000);
        const rawBefore = rssMb(raw.pid);
        const rawSockets: WebSocket[] = [];
        for (let i = 0; i < N; i += 50)
          rawSockets.push(...(await Promise.all(Array.from({ length: 50 }, rawOpen))));
        await sleep(1000);
        const rawKiB = ((rssMb(raw.pid) - rawBefore) * 1024) / N;
        for (const ws of [...rawWarm, ...rawSockets]) ws.terminate();
        return {
          figure: loamKiB,
          unit: 'KiB',
          higherIsBetter: false,
          baseline: { name: 'raw ws server', figure: rawKiB },
          notes: `server process RSS with ${N} more idle connections (signed in, one subscription each), divided by ${N}`,
        };
      } finally {
        raw.stop();
        await relay.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];
