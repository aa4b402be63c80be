/**
 * The SIGKILL variant of the real-stack fuzzer (`npm run fuzz -- --stack --sigkill`): the relay is `loam-server` in
 * a child process (SQLite store file, real WebSocket), killed with SIGKILL at random points and started again on the
 * same file; the devices (`device.ts`: engines on better-sqlite3 files, sync clients) reach it over real sockets, in
 * real time. Random transactions (concurrent, throwing, nested paths, refusals, unsubscribes) run meanwhile; at the
 * end the relay runs to quiescence and `checkQuiescence` checks the same end state as the in-process runs (every
 * acknowledged op stored exactly once, counters, identical documents, no outbox left).
 *
 * It is slow (real time, process starts), so it stays out of `npm test`.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeIntent } from '@loam/core';
import { createSqliteServerStore, type ServerStore } from '@loam/server';
import { type RelayNode, startRelayNode, writeClusterConfig } from '@loam/server/testing/cluster';
import { createWebSocketTransport, type Transport, type WebSocketConstructor } from '@loam/sync';
import { WebSocket } from 'ws';
import { createRng } from '../random';
import { checkQuiescence } from './check';
import { createDevice, type StackDevice } from './device';
import type { Network, Scheduler, WireTap } from './network';
import { createRelayHost, type RelayHost, readSqliteOpLedger } from './relay-host';
import type { StackRunResult } from './run-stack';
import { runRandomTransactions, stackRules, stackSchema, TALLY } from './workload';

const SHM = '/dev/shm';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Real time, for `createDevice` (it only reads the clock and sets timers). */
function realTime(): Scheduler {
  return {
    now: () => Date.now(),
    at: () => {
      throw new Error('real time has no event queue');
    },
    cancel: () => undefined,
    settle: () => sleep(0),
    advance: async (to) => sleep(Math.max(0, to - Date.now())),
    nextAt: () => undefined,
    until: (work) => work,
    timers: {
      setTimeout: (callback, ms) => setTimeout(callback, ms),
      clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    },
  };
}

/** Real WebSockets to `url`, each frame shown to the device's tap when sent and when it arrives. */
function realNetwork(url: string): Network {
  const live = new Map<number, Set<Transport>>();
  return {
    stats: { frames: 0, cuts: 0, partialCuts: 0, silences: 0, duplicates: 0, refusedConnections: 0 },
    factory(device: number, tap: WireTap) {
      return () => {
        const inner = createWebSocketTransport({
          url,
          WebSocket: WebSocket as unknown as WebSocketConstructor,
        });
        const set = live.get(device) ?? new Set();
        live.set(device, set);
        set.add(inner);
        inner.onClose(() => set.delete(inner));
        return {
          ...inner,
          send(frame) {
            tap('up', frame, false);
            tap('up', frame, true);
            inner.send(frame);
          },
          onFrame: (listener) =>
            inner.onFrame((frame) => {
              tap('down', frame, false);
              tap('down', frame, true);
              listener(frame);
            }),
        };
      };
    },
    cut(device) {
      for (const [d, set] of live) if (device === undefined || d === device) for (const t of set) t.close();
    },
    setReachable: () => undefined,
    inFlight: () => 0,
    live: (device) => live.get(device)?.size ?? 0,
  };
}

/** Runs one seeded SIGKILL case: `transactions` random transactions while the relay process is killed and restarted. */
export async function runSigkill(options: {
  readonly seed: number;
  readonly devices: number;
  readonly transactions: number;
}): Promise<StackRunResult> {
  const rng = createRng(options.seed);
  const dir = mkdtempSync(join(existsSync(SHM) ? SHM : tmpdir(), 'loam-sigkill-fuzz-'));
  // The tally exists before the relay process first starts (a backend write on the same file).
  const seedHost = createRelayHost(dir, stackSchema, stackRules, Date.now, () => undefined);
  await seedHost.start();
  await seedHost.current().relay.backendWrite([writeIntent.insert('tallies', { id: TALLY })]);
  await seedHost.stop();
  const config = writeClusterConfig(dir, stackSchema, stackRules);
  const relayFile = join(dir, 'relay.db');
  const port = await freePort();
  const network = realNetwork(`ws://127.0.0.1:${port}/sync`);
  const scheduler = realTime();
  const devices: StackDevice[] = [];
  const counts = { committed: 0, rolledBack: 0, restarts: 0 };
  // The same port after every restart: the devices' WebSocket URL does not change.
  const start = () => startRelayNode(config, relayFile, { LOAM_PORT: String(port) });
  let child: RelayNode | undefined = await start();
  let store: ServerStore | undefined;
  try {
    for (let i = 0; i < options.devices; i++) {
      const role = i === options.devices - 1 ? 'clerk' : 'full';
      const device = await createDevice({ index: i, dir, role, scheduler, network, rng });
      await device.open();
      device.subscribe(rng.chance(0.3));
      devices.push(device);
    }
    const kinds = { nested: true, refusals: true };
    for (let t = 0; t < options.transactions; t++) {
      await sleep(rng.int(0, 20));
      const device = rng.pick(devices);
      const fault = rng();
      if (fault < 0.02 && child) {
        counts.restarts++;
        await child.stop('SIGKILL');
        child = undefined;
        await sleep(rng.int(0, 500));
        child = await start();
      } else if (fault < 0.03) network.cut(device.index);
      else if (fault < 0.05) {
        const subs = await device.client().subscriptions();
        const items = subs.find((s) => s.query.collection === 'items');
        if (items && rng.chance(0.6)) await device.client().unsubscribe(items.id);
        else device.subscribe(rng.chance(0.5));
      }
      await runRandomTransactions(device.engine(), rng, kinds, { concurrent: true, throwing: true }, counts);
    }

    for (const device of devices) device.subscribe(false);
    const deadline = Date.now() + 120_000;
    for (;;) {
      let quiet = true;
      for (const d of devices) {
        const s = d.client().status();
        quiet &&= s.connected && s.downloading === null && (await d.engine().pendingCount()) === 0;
      }
      if (quiet || Date.now() > deadline) break;
      await sleep(200);
    }
    // Let the last fan-out frames land, then stop the relay and read its file.
    await sleep(2_000);
    for (const device of devices) await device.close();
    await child?.stop('SIGKILL');
    child = undefined;
    store = await createSqliteServerStore({ filename: relayFile, schema: stackSchema });
    const relay = {
      current: () => ({ store }),
      opLedger: async () => readSqliteOpLedger(relayFile),
    } as unknown as RelayHost;
    for (const device of devices) await device.open();
    const failures = await checkQuiescence({ relay, devices });
    let refused = 0;
    for (const d of devices) refused += (await d.engine().refusedWrites()).length;
    return { failures, ...counts, resets: 0, restores: 0, refused, network: network.stats };
  } finally {
    for (const device of devices) await device.close().catch(() => undefined);
    await child?.stop('SIGKILL');
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
