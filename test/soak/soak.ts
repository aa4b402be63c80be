/**
 * A soak run: a real `loam-server` child process and many terminals (the Node engine on a better-sqlite3 file
 * with the sync client) spread over `workers` child processes (`soak-worker.ts`, whole shops of `shopSize` each:
 * one process cannot host 1,000 terminals at 500 writes/s), each subscribed to its shop's orders; the workers write
 * orders at `rate` per second in all, random terminals disconnect and come back, and the relay is killed with
 * SIGKILL and restarted on the same database and port every `killEveryMs`.
 *
 * At the end, writes stop and the run waits for quiescence: every terminal connected with nothing left to upload,
 * and every terminal's orders equal the relay's for its shop, twice in a row a second apart. Then every terminal's
 * sync stops, and it checks that every order written is stored on the relay exactly once with the value written,
 * and reports acknowledged ops/s, ack and fan-out latency (p50/p99, measured on the terminals: write → outbox
 * acknowledged, write → visible on another terminal of the shop), the relay's RSS at start, peak and end, and the
 * sync issues seen by code.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { testRules, testSchema } from '@loam/server/testing';
import { type RelayNode, startRelayNode, writeClusterConfig } from '@loam/server/testing/cluster';
import type { Check, TerminalsOptions, TerminalsResult } from './soak-terminals';
import type { ToWorker } from './soak-worker';

/** Options of {@link runSoak}. */
export interface SoakOptions {
  readonly dir: string;
  readonly seconds: number;
  readonly clients: number;
  /** Writes per second over all terminals. */
  readonly rate: number;
  readonly shopSize?: number;
  /** Worker processes holding the terminals; default 4 (fewer when there are fewer shops). */
  readonly workers?: number;
  /** SIGKILL + restart of the relay every this many ms (0: never). */
  readonly killEveryMs?: number;
  /** One random terminal (per worker) disconnects (and reconnects 0.5-3 s later) every this many ms. */
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
  /** Why the final comparison with the relay could not be made (then `missing`, `wrong`, `diverged` are NaN). */
  readonly checkFailed?: string;
  readonly drainMs: number;
  readonly workers: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const sorted = Float64Array.from(xs).sort();
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

/** A free TCP port on loopback (the relay restarts on the same one, so terminals reconnect to it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A worker process and the replies it sends. */
interface Worker {
  readonly process: ChildProcess;
  request<T>(message: ToWorker, reply: string, id?: number): Promise<T>;
}

function startWorker(options: TerminalsOptions): Promise<Worker & { readonly count: number }> {
  const proc = fork(join(import.meta.dirname, 'soak-worker.ts'), [JSON.stringify(options)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<string, (m: Record<string, unknown>) => void>();
  let failed: Error | undefined;
  const fail = (error: Error) => {
    failed = error;
    for (const w of waiting.values()) w({ t: 'failed', message: error.message });
    waiting.clear();
  };
  proc.on('message', (m: Record<string, unknown>) => {
    if (m.t === 'failed' && typeof m.replyTo === 'string') {
      waiting.get(m.replyTo)?.(m);
      waiting.delete(m.replyTo);
      return;
    }
    if (m.t === 'failed') return fail(new Error(`soak worker failed: ${m.message}`));
    const key = m.id === undefined ? String(m.t) : `${m.t}:${m.id}`;
    waiting.get(key)?.(m);
    waiting.delete(key);
  });
  proc.on('exit', (code) => {
    if (code !== 0) fail(new Error(`soak worker exited with ${code}`));
  });
  const request = <T>(message: ToWorker | undefined, reply: string, id?: number) =>
    new Promise<T>((resolve, reject) => {
      if (failed) return reject(failed);
      waiting.set(id === undefined ? reply : `${reply}:${id}`, (m) =>
        m.t === 'failed' ? reject(new Error(String(m.message))) : resolve(m as T),
      );
      if (message) proc.send(message);
    });
  return request<{ count: number }>(undefined, 'ready').then(({ count }) => ({
    process: proc,
    count,
    request: (message, reply, id) => request(message, reply, id),
  }));
}

/** Runs a soak (see the module documentation). */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const shopSize = options.shopSize ?? 10;
  const shops = Math.ceil(options.clients / shopSize);
  const port = await freePort();
  const config = writeClusterConfig(options.dir, testSchema, testRules, {
    port,
    limits: {
      connectionsPerUser: 100_000,
      connectionsPerAddress: 1_000_000,
      handshakesPerSecond: 1_000_000,
      opsPerBatch: 1000,
    },
  });
  const storePath = join(options.dir, 'relay.db');
  let relay: RelayNode = await startRelayNode(config, storePath);
  const rss = { start: 0, peak: 0, end: 0 };
  const workerCount = Math.max(1, Math.min(options.workers ?? 4, shops));
  const workers: Worker[] = [];
  let relayKills = 0;

  const started = performance.now();
  try {
    const shopsPer = Math.ceil(shops / workerCount);
    const opened = await Promise.all(
      Array.from({ length: workerCount }, (_, w) => {
        const from = Math.min(options.clients, w * shopsPer * shopSize);
        const to = Math.min(options.clients, (w + 1) * shopsPer * shopSize);
        const dir = join(options.dir, `w${w}`);
        mkdirSync(dir, { recursive: true });
        return startWorker({
          dir,
          url: relay.wsUrl,
          from,
          to,
          shopSize,
          rate: (options.rate * (to - from)) / options.clients,
          disconnectEveryMs: (options.disconnectEveryMs ?? 2000) * workerCount,
        });
      }),
    );
    workers.push(...opened);
    log(
      `${opened.reduce((n, w) => n + w.count, 0)} terminals open in ${workerCount} workers in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    rss.start = rssMb(relay.process.pid);
    rss.peak = rss.start;

    const writeStart = performance.now();
    const until = writeStart + options.seconds * 1000;
    for (const w of workers) w.process.send({ t: 'start' } satisfies ToWorker);
    let restarting: Promise<void> | undefined;
    let nextKill = options.killEveryMs ? writeStart + options.killEveryMs : Number.POSITIVE_INFINITY;
    let lastReport = performance.now();
    while (performance.now() < until) {
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
        log(`relay RSS ${rssMb(relay.process.pid).toFixed(0)} MB`);
      }
      await sleep(200);
    }
    await Promise.all(workers.map((w) => w.request({ t: 'stop' }, 'stopped')));
    const writeSeconds = (performance.now() - writeStart) / 1000;
    await restarting;

    let checks = 0;
    const checkAll = async (full: boolean) => {
      const id = ++checks;
      const results = await Promise.all(
        workers.map((w) =>
          w.request<{ check: Check }>({ t: 'check', id, relayUrl: relay.url, full }, 'checked', id),
        ),
      );
      const sum = (k: keyof Check) => results.reduce((n, r) => n + r.check[k], 0);
      return { busy: sum('busy'), diverged: sum('diverged'), missing: sum('missing'), wrong: sum('wrong') };
    };
    const drainStart = performance.now();
    const drainUntil = drainStart + (options.drainTimeoutMs ?? 180_000);
    let quietRounds = 0;
    while (performance.now() < drainUntil && quietRounds < 2) {
      await sleep(1000);
      rss.peak = Math.max(rss.peak, rssMb(relay.process.pid));
      const c = await checkAll(false).catch((error: Error) => error);
      if (c instanceof Error) {
        quietRounds = 0;
        log(`draining: the check failed (${c.message.split('\n')[0]}), trying again`);
        continue;
      }
      quietRounds = c.busy === 0 && c.diverged === 0 ? quietRounds + 1 : 0;
      if (quietRounds === 0)
        log(`draining: ${c.busy} terminals busy, ${c.busy > 0 ? '?' : c.diverged} not converged`);
    }
    const drainMs = performance.now() - drainStart;
    if (quietRounds < 2) log('drain timed out: comparing every terminal with the relay as they are');
    // Every terminal's sync stopped first: after a drain that timed out, 1,000 terminals reconnecting and
    // uploading kept the relay from answering the check's queries within minutes.
    await Promise.all(
      workers.map((w) =>
        w.request({ t: 'halt' }, 'halted').catch((error: Error) => log(`halt: ${error.message}`)),
      ),
    );
    let final: Awaited<ReturnType<typeof checkAll>> | undefined;
    let checkFailed: string | undefined;
    for (let attempt = 1; !final && attempt <= 5; attempt++) {
      try {
        final = await checkAll(true);
        checkFailed = undefined;
      } catch (error) {
        checkFailed = (error as Error).message.split('\n')[0];
        log(`final check failed (${checkFailed}); attempt ${attempt} of 5`);
        if (attempt < 5) await sleep(15_000);
      }
    }

    const results = await Promise.all(
      workers.map((w) => w.request<{ result: TerminalsResult }>({ t: 'result' }, 'result')),
    );
    const ackMs = results.flatMap((r) => r.result.ackMs);
    const fanOutMs = results.flatMap((r) => r.result.fanOutMs);
    const issues: Record<string, number> = {};
    for (const r of results)
      for (const [code, n] of Object.entries(r.result.issues)) issues[code] = (issues[code] ?? 0) + n;
    rss.end = rssMb(relay.process.pid);
    rss.peak = Math.max(rss.peak, rss.end);
    return {
      written: results.reduce((n, r) => n + r.result.written, 0),
      ackedPerSecond: results.reduce((n, r) => n + r.result.acked, 0) / writeSeconds,
      ackMs: { p50: percentile(ackMs, 50), p99: percentile(ackMs, 99) },
      fanOutMs: { p50: percentile(fanOutMs, 50), p99: percentile(fanOutMs, 99) },
      relayRssMb: rss,
      relayKills,
      disconnects: results.reduce((n, r) => n + r.result.disconnects, 0),
      issues,
      missing: final?.missing ?? Number.NaN,
      wrong: final?.wrong ?? Number.NaN,
      diverged: final?.diverged ?? Number.NaN,
      ...(checkFailed ? { checkFailed } : {}),
      drainMs,
      workers: workerCount,
    };
  } finally {
    await Promise.all(
      workers.map((w) =>
        Promise.race([w.request({ t: 'close' }, 'closed').catch(() => undefined), sleep(60_000)]).then(() =>
          w.process.kill(),
        ),
      ),
    );
    await relay.stop();
  }
}
