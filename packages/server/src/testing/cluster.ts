/**
 * Several relay nodes for tests and benchmarks: `loam-server` child processes on one PostgreSQL schema, a TCP
 * load balancer in front of them (round robin over the nodes that accept connections), and real devices (the
 * engine on better-sqlite3 with the sync client) connected through it or to one node.
 *
 * This is the setup the README's "Running several nodes" describes, with a few lines of `net` as the load
 * balancer; any TCP balancer does the same job, because a device may reconnect to any node and resume.
 * Debugging: `LOAM_NODE_LOG=1` copies the nodes' stderr here; `LOAM_NODE_PROF=<dir>` writes a CPU profile of
 * each node into `<dir>` when it exits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { Rules, Schema } from '@loam/core';
import type { Engine } from '@loam/store';
import { createBetterSqlite3Storage, openEngine } from '@loam/store/node';
import {
  createSyncClient,
  createWebSocketTransport,
  type SyncClient,
  type WebSocketConstructor,
} from '@loam/sync';
import { WebSocket } from 'ws';
import { AUDIENCE, HS256_SECRET, ISSUER, mintToken, SERVICE_TOKEN } from './fixtures';

/** `loam-server`'s entry, found through the package (so it also resolves from a bundled benchmark). */
const cli = join(dirname(createRequire(import.meta.url).resolve('@loam/server')), 'cli.ts');

/** A relay node running as a child process. */
export interface RelayNode {
  readonly process: ChildProcess;
  readonly port: number;
  /** `http://127.0.0.1:port` */
  readonly url: string;
  /** `ws://127.0.0.1:port/sync` */
  readonly wsUrl: string;
  /** Sends `signal` and resolves once the process exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Writes the schema, rules and a configuration file (HS256 tokens, the test service token) into `dir`. */
export function writeClusterConfig(
  dir: string,
  schema: Schema,
  rules: Rules,
  extra: Record<string, unknown> = {},
): string {
  writeFileSync(join(dir, 'schema.json'), JSON.stringify(schema));
  writeFileSync(join(dir, 'rules.json'), JSON.stringify(rules));
  const file = join(dir, 'loam-server.json');
  writeFileSync(
    file,
    JSON.stringify({
      port: 0,
      schemaFile: './schema.json',
      rulesFile: './rules.json',
      auth: { hs256Secret: HS256_SECRET, issuer: ISSUER, audience: AUDIENCE },
      serviceToken: SERVICE_TOKEN,
      allowedOrigins: ['*'],
      ...extra,
    }),
  );
  return file;
}

/** Starts `loam-server --config <configFile> --store <store>` and resolves once it listens. */
export function startRelayNode(
  configFile: string,
  store: string,
  env: Record<string, string> = {},
): Promise<RelayNode> {
  const proc = spawn(
    process.execPath,
    [
      ...(process.env.LOAM_NODE_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.LOAM_NODE_PROF}`] : []),
      '--import',
      'tsx',
      cli,
      '--config',
      configFile,
      '--store',
      store,
    ],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const exited = (code: number | null) => reject(new Error(`loam-server exited with ${code}: ${out}`));
    proc.once('exit', exited);
    proc.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
      if (process.env.LOAM_NODE_LOG) process.stderr.write(d);
    });
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (!m) return;
      proc.off('exit', exited);
      const port = Number(m[1]);
      resolve({
        process: proc,
        port,
        url: `http://127.0.0.1:${port}`,
        wsUrl: `ws://127.0.0.1:${port}/sync`,
        stop: (signal = 'SIGTERM') =>
          new Promise<void>((done) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return done();
            proc.once('exit', () => done());
            proc.kill(signal);
          }),
      });
    });
  });
}

/** A TCP load balancer: each connection goes to the next target, skipping targets that refuse it. */
export interface TcpBalancer {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts a round-robin TCP balancer over the ports `targets()` returns at each connection. */
export async function startTcpBalancer(targets: () => readonly number[]): Promise<TcpBalancer> {
  let next = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.pause();
    const ports = targets();
    const tryTarget = (left: number) => {
      if (left === 0 || ports.length === 0) return client.destroy();
      const port = ports[next++ % ports.length] as number;
      const upstream = connect(port, '127.0.0.1');
      let linked = false;
      upstream.once('connect', () => {
        linked = true;
        sockets.add(upstream);
        client.pipe(upstream).pipe(client);
        client.resume();
      });
      upstream.on('error', () => (linked ? client.destroy() : tryTarget(left - 1)));
      upstream.on('close', () => {
        sockets.delete(upstream);
        if (linked) client.destroy();
      });
      client.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
    };
    tryTarget(ports.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A device: its local engine and its sync client. */
export interface TestDevice {
  readonly engine: Engine;
  readonly client: SyncClient;
  close(): Promise<void>;
}

/** Opens a device on a new SQLite file in `dir`, syncing as `user` with `claims` through `url`. */
export async function openTestDevice(options: {
  readonly dir: string;
  readonly name: string;
  readonly schema: Schema;
  readonly url: string;
  readonly user: string;
  readonly claims?: Record<string, unknown>;
}): Promise<TestDevice> {
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(options.dir, `${options.name}.db`) }),
    schema: options.schema,
  });
  const client = createSyncClient({
    store: engine.syncStore,
    transportFactory: () =>
      createWebSocketTransport({ url: options.url, WebSocket: WebSocket as unknown as WebSocketConstructor }),
    getToken: () => mintToken({ ...options.claims, sub: options.user }, { alg: 'HS256' }),
    backoff: { baseMs: 20, maxMs: 300 },
    pingIntervalMs: 1000,
    pingTimeoutMs: 2000,
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

/** A process's resident memory in MB (Linux, `/proc`). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]) / 1024;
}

/** What the abuse GC hook (`limits/abuse-gc-hook.cjs`) reports after a full collection, MB. */
export interface CollectedHeap {
  /** V8 heap in use: objects the relay holds. */
  readonly heapUsed: number;
  /** The young generation's committed size: space V8 keeps for new objects, sized by the recent allocation rate. */
  readonly young: number;
}

/**
 * Asks a relay node started with the abuse GC hook (`limits/abuse-gc-hook.cjs`) for a full garbage collection
 * (SIGUSR2) and resolves with what it printed after `gc done`.
 */
export async function collectGarbage(node: RelayNode): Promise<CollectedHeap> {
  const done = new Promise<CollectedHeap>((resolve) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /gc done (.*)\n/.exec(out);
      if (!m) return;
      node.process.stdout?.off('data', onData);
      resolve(JSON.parse(m[1]!) as CollectedHeap);
    };
    node.process.stdout?.on('data', onData);
  });
  node.process.kill('SIGUSR2');
  return done;
}

/** A relay node's memory once it is quiet: its RSS and the V8 heap after the last collection, MB. */
export interface SettledMemory extends CollectedHeap {
  readonly rss: number;
  /** Time from the first collection until the young generation was back to its smallest, ms. */
  readonly waitedMs: number;
}

/**
 * Reads a relay node's memory once it is quiet: it waits `QUIET_MS`, runs full collections (`collectGarbage`) 2 s
 * apart until V8's young generation is back to its smallest (`SMALL_YOUNG_MB`; at least two collections, at most
 * 30 s of them), then reads the RSS. V8 sizes the young generation (up to 32 MB) by the recent allocation rate and
 * shrinks it at a full collection once the process is quiet, by itself too (32 MB fell to 1 MB within 35 s of the
 * end of an attack, no collection forced); read before that, the RSS after any burst of work counts that empty
 * space as memory the relay holds. Both readings a comparison makes go through this, so neither counts it.
 */
export async function settledMemory(node: RelayNode): Promise<SettledMemory> {
  await sleep(QUIET_MS);
  const started = performance.now();
  let heap = await collectGarbage(node);
  for (let i = 1; i < 2 || (heap.young > SMALL_YOUNG_MB && performance.now() - started < 30_000); i++) {
    await sleep(2000);
    heap = await collectGarbage(node);
  }
  const waitedMs = performance.now() - started;
  await sleep(1000);
  return { ...heap, rss: rssMb(node.process.pid!), waitedMs };
}

/** How long `settledMemory` lets a relay be quiet before it collects: past V8's 5 s window of allocation rate. */
const QUIET_MS = 6000;

/** V8's young generation at its smallest: 1 MB semi-spaces, 0.3-1.3 MB committed after a collection. */
const SMALL_YOUNG_MB = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
