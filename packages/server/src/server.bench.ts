/**
 * Relay benchmarks (`npm run bench -- server`), everything on loopback in one process:
 * - device → server → device latency (p50, p99), target p50 < 50 ms;
 * - ingest: ops per second acknowledged durably (`synchronous=FULL`), batches of 100;
 * - fan-out of one write to 1,000 subscribed connections, deliveries/s from the commit to the last delivery, vs raw
 *   `ws` broadcasting the same frame bytes to the same 1,000 client processes' sockets (target ≥ 0.7 of raw);
 * - memory per idle signed-in connection, vs a raw `ws` connection (client side included in both).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type DocId, encodeOps } from '@loam/core';
import { decodeServerMessage } from '@loam/sync';
import { WebSocket, WebSocketServer } from 'ws';
import { type Bench, percentile } from '../../../test/bench/bench';
import { CONFIG_DEFAULTS } from './config/config';
import type { LoamServer } from './server';
import { mintToken, startTestServer, testDevice } from './testing/fixtures';
import { connectClient } from './testing/protocol-client';

async function withServer<T>(
  fn: (server: LoamServer) => Promise<T>,
  connectionsPerUser: number = CONFIG_DEFAULTS.limits.connectionsPerUser,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'loam-bench-'));
  const server = await startTestServer(dir, {
    limits: { ...CONFIG_DEFAULTS.limits, connectionsPerUser, handshakesPerSecond: 100_000 },
  });
  try {
    return await fn(server);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const sub = (store: string) => [
  { id: 's', query: { collection: 'orders', filter: { op: 'eq', field: 'storeId', value: store } } } as const,
];

function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

export const benches: Bench[] = [
  {
    name: 'server: device → server → device latency (p50)',
    run: () =>
      withServer(async (server) => {
        const token = await mintToken({ sub: 'bench', role: 'manager' });
        const a = testDevice();
        const writer = await connectClient(server.wsUrl);
        await writer.hello({ replica: a.replica, token });
        const reader = await connectClient(server.wsUrl);
        await reader.hello({ replica: testDevice().replica, token, subs: sub('lat') });
        await reader.next('synced');
        const { id, ops } = a.insert('orders', { storeId: 'lat', owner: 'bench', total: 0 });
        await writer.push(1, ops);
        await reader.next('docs', (m) => m.docs.some((d) => d.id === id));
        const samples: number[] = [];
        for (let i = 0; i < 300; i++) {
          const update = a.update('orders', id, { total: i + 1 });
          const start = performance.now();
          writer.send({ t: 'push', batch: i + 2, ops: encodeOps(update) });
          await reader.next('docs', (m) => m.docs.some((d) => d.id === id));
          samples.push(performance.now() - start);
        }
        writer.close();
        reader.close();
        const p50 = percentile(samples, 50);
        return {
          figure: p50,
          unit: 'ms',
          higherIsBetter: false,
          notes: `p99 ${percentile(samples, 99).toFixed(2)} ms over 300 writes; target p50 < 50 ms: ${p50 < 50 ? 'met' : 'MISSED'}`,
        };
      }),
  },
  {
    name: 'server: ingest, ops/s acknowledged durably',
    run: () =>
      withServer(async (server) => {
        const a = testDevice();
        const c = await connectClient(server.wsUrl);
        await c.hello({ replica: a.replica, token: await mintToken({ sub: 'bench', role: 'manager' }) });
        const batches = [];
        let n = 0;
        for (let b = 0; b < 60; b++) {
          const ops = [];
          for (let i = 0; i < 100; i++)
            ops.push(...a.insert('orders', { storeId: `i${b}`, owner: 'bench', total: i }).ops);
          n += ops.length;
          batches.push(ops);
        }
        const start = performance.now();
        await Promise.all(batches.map((ops, i) => c.push(i + 1, ops)));
        const seconds = (performance.now() - start) / 1000;
        c.close();
        return {
          figure: n / seconds,
          unit: 'ops/s',
          higherIsBetter: true,
          notes: `${n} creates in 60 pipelined batches of 100, synchronous=FULL`,
        };
      }),
  },
  {
    name: 'server: fan-out of one write to 1,000 subscribers',
    run: () =>
      withServer(async (server) => {
        const N = 1000;
        const token = await mintToken({ sub: 'fan', role: 'manager' });
        const readers: WebSocket[] = [];
        let delivered = 0;
        let onDelivered: (() => void) | undefined;
        for (let i = 0; i < N; i++) {
          const r = await connectClient(server.wsUrl);
          await r.hello({ replica: testDevice().replica, token, subs: sub('fan') });
          await r.next('synced');
          r.ws.removeAllListeners('message');
          r.ws.on('message', () => {
            delivered++;
            if (delivered === N) onDelivered?.();
          });
          readers.push(r.ws);
        }
        const a = testDevice();
        const writer = await connectClient(server.wsUrl);
        await writer.hello({ replica: a.replica, token });
        const { id, ops } = a.insert('orders', { storeId: 'fan', owner: 'fan', total: 0 });
        let committedAt = 0;
        let lastFrame: Uint8Array | undefined;
        const store = server.store;
        const applyBatch = store.applyBatch.bind(store);
        store.applyBatch = async (request) => {
          const result = await applyBatch(request);
          committedAt = performance.now();
          return result;
        };
        const round = (send: () => void) =>
          new Promise<number>((resolve) => {
            delivered = 0;
            onDelivered = () => resolve(performance.now());
            send();
          });
        let batch = 0;
        await round(() => writer.send({ t: 'push', batch: ++batch, ops: encodeOps(ops) }));
        const loam: number[] = [];
        const endToEnd: number[] = [];
        for (let i = 0; i < 15; i++) {
          const start = performance.now();
          const done = await round(() =>
            writer.send({
              t: 'push',
              batch: ++batch,
              ops: encodeOps(a.update('orders', id as DocId, { total: i })),
            }),
          );
          loam.push(done - committedAt);
          endToEnd.push(done - start);
        }
        readers[0]!.once('message', (data: Buffer) => {
          lastFrame = new Uint8Array(data);
        });
        await round(() =>
          writer.send({
            t: 'push',
            batch: ++batch,
            ops: encodeOps(a.update('orders', id as DocId, { total: -1 })),
          }),
        );
        const frame = lastFrame!;
        decodeServerMessage(frame);

        const raw = new WebSocketServer({ port: 0, host: '127.0.0.1' });
        await new Promise<void>((resolve) => raw.once('listening', () => resolve()));
        const rawUrl = `ws://127.0.0.1:${(raw.address() as { port: number }).port}`;
        const rawReaders: WebSocket[] = [];
        for (let i = 0; i < N; i++) {
          const ws = new WebSocket(rawUrl);
          await new Promise<void>((resolve) => ws.once('open', () => resolve()));
          ws.on('message', () => {
            delivered++;
            if (delivered === N) onDelivered?.();
          });
          rawReaders.push(ws);
        }
        const rawTimes: number[] = [];
        for (let i = 0; i < 15; i++) {
          const start = performance.now();
          const done = await round(() => {
            for (const client of raw.clients) client.send(frame);
          });
          rawTimes.push(done - start);
        }
        for (const ws of [...readers, ...rawReaders]) ws.terminate();
        writer.close();
        await new Promise<void>((resolve) => raw.close(() => resolve()));
        const perSecond = (ms: number) => N / (ms / 1000);
        return {
          figure: perSecond(percentile(loam, 50)),
          unit: 'deliveries/s',
          higherIsBetter: true,
          baseline: { name: 'raw ws broadcast', figure: perSecond(percentile(rawTimes, 50)) },
          target: 0.7,
          notes: `median of 15 writes, from commit to the last of ${N} deliveries; end to end incl. push and fsync: ${percentile(endToEnd, 50).toFixed(1)} ms`,
        };
      }, 2000),
  },
  {
    name: 'server: memory per idle connection',
    run: () =>
      withServer(async (server) => {
        const N = 300;
        const token = await mintToken({ sub: 'idle' });
        const used = () => {
          gc();
          const m = process.memoryUsage();
          return m.heapUsed + m.external + m.arrayBuffers;
        };
        const raw = new WebSocketServer({ port: 0, host: '127.0.0.1' });
        await new Promise<void>((resolve) => raw.once('listening', () => resolve()));
        const url = `ws://127.0.0.1:${(raw.address() as { port: number }).port}`;
        const rawBefore = used();
        const sockets: WebSocket[] = [];
        for (let i = 0; i < N; i++) {
          const ws = new WebSocket(url);
          await new Promise<void>((resolve) => ws.once('open', () => resolve()));
          sockets.push(ws);
        }
        const rawPer = (used() - rawBefore) / N;
        await Promise.all(
          sockets.map(
            (ws) =>
              new Promise((resolve) => {
                ws.once('close', resolve);
                ws.terminate();
              }),
          ),
        );
        await new Promise<void>((resolve) => raw.close(() => resolve()));
        const before = used();
        const clients = [];
        for (let i = 0; i < N; i++) {
          const c = await connectClient(server.wsUrl);
          await c.hello({ replica: testDevice().replica, token });
          clients.push(c);
        }
        const loam = (used() - before) / N;
        await Promise.all(
          clients.map((c) => {
            c.ws.terminate();
            return c.closed;
          }),
        );

        return {
          figure: loam / 1024,
          unit: 'KiB',
          higherIsBetter: false,
          baseline: { name: 'raw ws connection', figure: rawPer / 1024 },
          notes: `${N} signed-in idle connections; JS heap + external, client side included in both`,
        };
      }, 1000),
  },
];
