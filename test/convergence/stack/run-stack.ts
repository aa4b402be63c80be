/**
 * One seeded run of the real-stack fuzzer: N devices (real engines on better-sqlite3 files, real sync clients)
 * against the real relay (SQLite store, or PostgreSQL with `store: 'postgres'`), over the fuzzer's network, in
 * virtual time.
 *
 * The run makes `transactions` random transactions on random devices while the enabled fault classes strike, then
 * heals everything (network calm, relay up, every device open and subscribed to everything) and runs until the
 * system is quiet: no frame travelling, every device connected with an empty outbox. Then `checkQuiescence` compares
 * every device with the relay (see `check.ts`).
 *
 * Fault classes:
 * - `network`: frames delayed and reordered across connections, connections cut (some delivering a prefix of the
 *   frames in flight) or silenced, pushes duplicated, devices cut off for a while;
 * - `concurrent`: several transactions of one device started at once;
 * - `throwing`: transactions that throw midway (they roll back);
 * - `unsubscribe`: `items` unsubscribed, resubscribed, or subscribed through a filter;
 * - `restart`: the relay closes its store (every connection drops) and opens it again;
 * - `reset`: the relay folds away all history, so devices that were away get a client reset;
 * - `restore`: a device's database files are copied while it is closed and put back later;
 * - `nested`: dotted-path writes into the object field;
 * - `refusals`: one device's role may neither write `secret` nor delete, so the relay refuses some writes;
 * - `peers`: devices sign their transactions and also sync with each other over peer links, in random topologies
 *   with partitions; some reach only their peers for a while (`peer-mesh.ts`, checked by `check-peers.ts`).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeIntent } from '@loam/core';
import { discardIdRandomPool } from '@loam/core/testing';
import { createRng } from '../random';
import { checkQuiescence, type Failure } from './check';
import { checkPeers } from './check-peers';
import { installCryptoGate } from './crypto-gate';
import { createDevice, type StackDevice } from './device';
import { createNetwork, createScheduler, type NetworkFaults, type NetworkStats } from './network';
import { createPeerMesh, type PeerMesh, type PeerMeshStats } from './peer-mesh';
import { createRelayHost, type StoreKind } from './relay-host';
import { runRandomTransactions, stackRules, stackSchema, TALLY } from './workload';

/**
 * Where every run's virtual clock starts. A fixed instant, so a seed replays the same run at any hour (starting
 * from the wall clock made a seed's run change with the time of day: a failing seed could pass an hour later).
 * It lies in the past, so the devices' tokens (minted on the wall clock, valid for days) are valid throughout.
 */
const VIRTUAL_START = Date.UTC(2026, 0, 1);

/** Every fault class (see the module documentation). */
export const FAULT_CLASSES = [
  'network',
  'concurrent',
  'throwing',
  'unsubscribe',
  'restart',
  'reset',
  'restore',
  'nested',
  'refusals',
  'peers',
] as const;
export type FaultClass = (typeof FAULT_CLASSES)[number];
/** The classes a run uses unless asked for others: every class, `peers` included (200 seeds of all pass). */
export const DEFAULT_FAULTS: readonly FaultClass[] = FAULT_CLASSES;

/** Parameters of one run. */
export interface StackRunOptions {
  readonly seed: number;
  readonly devices: number;
  readonly transactions: number;
  readonly faults: readonly FaultClass[];
  /** A document id whose pushed ops and answers the result lists (`trace`), to debug a failing seed. */
  readonly trace?: string;
  /** The relay's store; default `sqlite`. */
  readonly store?: StoreKind;
}

/** What a run ended with. */
export interface StackRunResult {
  readonly failures: readonly Failure[];
  readonly committed: number;
  readonly rolledBack: number;
  readonly network: NetworkStats;
  readonly restarts: number;
  readonly resets: number;
  readonly restores: number;
  readonly refused: number;
  /** With `peers`: what the peer links did. */
  readonly peers?: PeerMeshStats;
  /** With `options.trace`: each device's pushed ops on that document and the relay's answers. */
  readonly trace?: readonly string[];
}

const NETWORK: NetworkFaults = {
  cut: 0.01,
  silence: 0.003,
  duplicate: 0.05,
  maxDelayMs: 40,
  partialCut: 0.5,
};
const CALM: NetworkFaults = { cut: 0, silence: 0, duplicate: 0, maxDelayMs: 40 };
const QUIET_STEPS = 4_000;
/** Real files, in memory when the system offers a RAM-backed folder (the run writes thousands of small commits). */
const SHM = '/dev/shm';

/**
 * Runs one seeded real-stack case. Deterministic: the ids the engine and relay draw themselves (replica ids from
 * `Math.random`, Yjs client ids from `crypto.getRandomValues`) come from the seed for the run's duration.
 */
export async function runStack(options: StackRunOptions): Promise<StackRunResult> {
  const draw = createRng(options.seed ^ 0x5eed);
  const { random } = Math;
  const getRandomValues = globalThis.crypto.getRandomValues;
  Math.random = () => draw();
  const ungate = options.faults.includes('peers') ? installCryptoGate() : undefined;
  globalThis.crypto.getRandomValues = <T extends ArrayBufferView | null>(array: T): T => {
    if (array) {
      const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
      for (let i = 0; i < bytes.length; i++) bytes[i] = draw.int(0, 255);
    }
    return array;
  };
  // Document ids draw their random bits from a pool: start it afresh from the seeded source, and leave none of the
  // seeded bytes to later runs.
  discardIdRandomPool();
  try {
    return await run(options);
  } finally {
    discardIdRandomPool();
    Math.random = random;
    globalThis.crypto.getRandomValues = getRandomValues;
    ungate?.();
  }
}

async function run(options: StackRunOptions): Promise<StackRunResult> {
  const { seed, transactions } = options;
  const on = new Set(options.faults);
  const rng = createRng(seed);
  const dir = mkdtempSync(join(existsSync(SHM) ? SHM : tmpdir(), 'loam-stack-fuzz-'));
  const scheduler = createScheduler(VIRTUAL_START, () => relay);
  const faults = { ...(on.has('network') ? NETWORK : CALM) };
  const backend = { store: options.store ?? 'sqlite', timers: scheduler.timers };
  const relay = createRelayHost(dir, stackSchema, stackRules, scheduler.now, () => network.cut(), backend);
  const network = createNetwork(
    scheduler,
    rng,
    faults,
    (transport) => relay.accept(transport),
    createRng(seed ^ 0xc07),
  );
  const devices: StackDevice[] = [];
  let mesh: PeerMesh | undefined;
  const counts = { committed: 0, rolledBack: 0, restarts: 0, resets: 0, restores: 0 };
  const offUntil = new Map<number, number>();
  try {
    await relay.start();
    await scheduler.until(relay.current().relay.backendWrite([writeIntent.insert('tallies', { id: TALLY })]));
    for (let i = 0; i < options.devices; i++) {
      const role = on.has('refusals') && i === options.devices - 1 ? 'clerk' : 'full';
      const peers = on.has('peers') ? { peers: { rules: stackRules } } : {};
      const device = await createDevice({ index: i, dir, role, scheduler, network, rng, ...peers });
      await device.open();
      await relay.verifyAhead(device.token, device.engine().replica);
      device.subscribe(on.has('unsubscribe') && rng.chance(0.3));
      devices.push(device);
    }
    const kinds = { nested: on.has('nested'), refusals: on.has('refusals') };
    if (on.has('peers')) {
      mesh = createPeerMesh({ scheduler, rng: createRng(seed ^ 0x9ee75), network, devices });
      await mesh.start();
    }

    for (let t = 0; t < transactions; t++) {
      await scheduler.advance(scheduler.now() + rng.int(0, 60));
      for (const [i, until] of offUntil) {
        if (scheduler.now() < until) continue;
        network.setReachable(i, true);
        offUntil.delete(i);
      }
      mesh?.step();
      const device = rng.pick(devices);
      const fault = rng();
      if (on.has('network') && fault < 0.01) {
        network.setReachable(device.index, false);
        offUntil.set(device.index, scheduler.now() + rng.int(500, 20_000));
      } else if (on.has('restart') && fault < 0.02 && relay.isUp()) {
        counts.restarts++;
        await relay.stop();
        await scheduler.advance(scheduler.now() + rng.int(0, 3_000));
        await relay.start();
      } else if (on.has('reset') && fault < 0.03 && relay.isUp()) {
        counts.resets++;
        await relay.compact(scheduler.now());
      } else if (on.has('restore') && fault < 0.045) {
        await device.close();
        if (device.hasBackup()) {
          counts.restores++;
          device.restore();
        } else device.backup();
        await device.open();
      } else if (on.has('unsubscribe') && fault < 0.06) {
        const subs = await device.client().subscriptions();
        const items = subs.find((s) => s.query.collection === 'items');
        if (items && rng.chance(0.6)) await device.client().unsubscribe(items.id);
        else device.subscribe(rng.chance(0.5));
      }
      const workload = { concurrent: on.has('concurrent'), throwing: on.has('throwing') };
      await runRandomTransactions(device.engine(), rng, kinds, workload, counts);
    }

    Object.assign(faults, CALM);
    for (const i of offUntil.keys()) network.setReachable(i, true);
    if (!relay.isUp()) await relay.start();
    for (const device of devices) {
      await device.open();
      device.subscribe(false);
    }
    mesh?.heal();
    const quiet = await runUntilQuiet(scheduler, network, devices, mesh);
    const failures = quiet
      ? [
          ...(await checkQuiescence({ relay, devices })),
          ...(mesh ? await checkPeers({ relay, devices, mesh }) : []),
        ]
      : [
          {
            check: 'quiescence',
            detail: `never quiet: ${await describeState(network, devices)}${mesh ? `; ${mesh.describe()}` : ''}`,
          },
        ];
    let refused = 0;
    for (const d of devices) refused += (await d.engine().refusedWrites()).length;
    const trace = options.trace === undefined ? {} : { trace: traceDoc(devices, options.trace) };
    const peerStats = mesh ? { peers: mesh.stats } : {};
    return { failures, ...counts, network: network.stats, refused, ...peerStats, ...trace };
  } finally {
    mesh?.stop();
    for (const device of devices) await device.close().catch(() => undefined);
    await relay.dispose().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runUntilQuiet(
  scheduler: ReturnType<typeof createScheduler>,
  network: ReturnType<typeof createNetwork>,
  devices: readonly StackDevice[],
  mesh?: PeerMesh,
): Promise<boolean> {
  let quietSince: number | undefined;
  for (let step = 0; step < QUIET_STEPS; step++) {
    const next = scheduler.nextAt() ?? scheduler.now() + 1_000;
    await scheduler.advance(next);
    // Keep-alive pings are always about to travel: judge only the moments when nothing does.
    if (network.inFlight() > 0 || (mesh?.inFlight() ?? 0) > 0) continue;
    let quiet = mesh?.settled() ?? true;
    for (const d of devices) {
      if (!quiet) break;
      const status = d.client().status();
      quiet = status.connected && status.downloading === null && (await d.engine().pendingCount()) === 0;
      if (quiet && mesh) quiet = (await d.engine().syncStore.peerTransactions({}, 1)).length === 0;
    }
    if (!quiet) quietSince = undefined;
    else if (quietSince === undefined) quietSince = scheduler.now();
    else if (scheduler.now() - quietSince > 30_000) return true;
  }
  return false;
}

async function describeState(
  network: ReturnType<typeof createNetwork>,
  devices: readonly StackDevice[],
): Promise<string> {
  const parts = [`${network.inFlight()} in flight`];
  for (const d of devices) {
    const s = d.client().status();
    const error = s.lastError ? ` (${s.lastError.code}: ${s.lastError.message})` : '';
    parts.push(`device ${d.index} ${s.state}, ${await d.engine().pendingCount()} pending${error}`);
  }
  return parts.join('; ');
}

function traceDoc(devices: readonly StackDevice[], doc: string): string[] {
  const lines: { ts: string; line: string }[] = [];
  for (const d of devices)
    for (const [id, { op, epoch }] of d.log.pushed) {
      if (op.doc !== doc) continue;
      const answers = (d.log.answers.get(id) ?? []).map((a) => a.code).join(',');
      const detail =
        op.kind === 'set'
          ? ` ${op.path}`
          : op.kind === 'yjs' || op.kind === 'increment'
            ? ` ${op.field}`
            : '';
      lines.push({
        ts: op.ts,
        line: `${op.ts} device ${d.index}/${epoch} ${id} ${op.kind}${detail} epoch ${op.epoch}: ${answers}`,
      });
    }
  return lines.sort((a, b) => (a.ts < b.ts ? -1 : 1)).map((l) => l.line);
}
