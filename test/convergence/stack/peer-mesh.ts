/**
 * The `peers` fault class of the real-stack fuzzer: devices also sync with each other, over in-memory duplex
 * links that run `@loam/sync`'s peer protocol (each device's `createPeers`), in random topologies.
 *
 * Each device gets a mode: `relay` (no peers), `peers` (the relay is out of its reach: it syncs only through its
 * peers) or `both`; edges join random pairs of devices that are not `relay`-only. The mesh keeps one link up per
 * edge (a dropped or refused link is dialled again after a random pause), and during the run it redraws the
 * topology and partitions the devices in two for a while (every edge across is cut and stays down).
 *
 * A link keeps the transport contract (ordered whole frames, one close, nothing after close) and fails the way a
 * data channel does: a frame is delayed (never overtaking an earlier one the same way), the link is cut (frames in
 * flight are lost, both ends see `close`), or goes silent until a consent timeout closes it.
 *
 * Before the first transaction, every device connects to the relay until it holds a device certificate (without
 * one, peers refuse it with `no_certificate`). `heal()` lifts every fault and puts every device in reach of the
 * relay, keeping the edges; at the end every link must be live on both sides, and no link may have been refused
 * for any reason but a missing certificate (`failures()`).
 */
import type { PeerConnection, PeerTxRefusal } from '@loam/sync';
import type { Rng } from '../random';
import type { Failure } from './check';
import type { StackDevice } from './device';
import { createEnd, type End, type Network, type Scheduler } from './network';

/** How a device reaches the others. */
export type PeerMode = 'relay' | 'peers' | 'both';

/** What the mesh did. */
export interface PeerMeshStats {
  links: number;
  frames: number;
  cuts: number;
  silences: number;
  partitions: number;
  topologies: number;
  /** Session refusals by code (`no_certificate` before the relay certified a device). */
  readonly refusedLinks: Record<string, number>;
  /** Transactions a peer did not apply, by code. */
  readonly refusedTxs: Record<string, number>;
}

/** The devices' peer links; see the module documentation. */
export interface PeerMesh {
  readonly stats: PeerMeshStats;
  /** Runs until every device holds a certificate, then draws the first topology. */
  start(): Promise<void>;
  /** One step of the run: may redraw the topology or partition the devices; keeps `peers` devices off the relay. */
  step(): void;
  /** Lifts the faults and partitions; every device may reach the relay; the edges stay. */
  heal(): void;
  /** Frames or link events still travelling. */
  inFlight(): number;
  /** Whether every edge between two open devices has a link that is live on both sides. */
  settled(): boolean;
  /** Broken expectations on the links (refusals other than a missing certificate). */
  failures(): Failure[];
  describe(): string;
  /** Stops dialling and closes every link. */
  stop(): void;
}

interface Faults {
  cut: number;
  silence: number;
  maxDelayMs: number;
}

const HOSTILE: Faults = { cut: 0.004, silence: 0.002, maxDelayMs: 15 };
const CALM: Faults = { cut: 0, silence: 0, maxDelayMs: 15 };
/** How long a silent link lasts before its ends give up (a data channel's consent checks). */
const CONSENT_TIMEOUT_MS = 8_000;
/** The only reason a link may be refused in a run: a device the relay has not certified yet. */
const EXPECTED_LINK_REFUSALS = new Set(['no_certificate']);

interface Link {
  readonly ends: [End, End];
  readonly conns: (PeerConnection | undefined)[];
  kill(reason: string): void;
  dead(): boolean;
}

const edgeKey = (i: number, j: number) => (i < j ? `${i}-${j}` : `${j}-${i}`);

/** Creates the mesh over `devices` (opened by the run; a closed device's edges wait for it). */
export function createPeerMesh(options: {
  scheduler: Scheduler;
  rng: Rng;
  network: Network;
  devices: readonly StackDevice[];
}): PeerMesh {
  const { scheduler, rng, network, devices } = options;
  const faults: Faults = { ...HOSTILE };
  const stats: PeerMeshStats = {
    links: 0,
    frames: 0,
    cuts: 0,
    silences: 0,
    partitions: 0,
    topologies: 0,
    refusedLinks: {},
    refusedTxs: {},
  };
  const modes = devices.map((): PeerMode => 'both');
  const edges = new Map<string, [number, number]>();
  const links = new Map<string, Link>();
  const blockedUntil = new Map<string, number>();
  const dialling = new Set<string>();
  const failures: Failure[] = [];
  const roleOf = new Map<string, StackDevice['role']>();
  let pending = 0;
  let stopped = false;

  const later = (delay: number, run: () => void) => {
    pending++;
    scheduler.at(scheduler.now() + delay, () => {
      pending--;
      run();
    });
  };
  const delay = () => rng.int(0, faults.maxDelayMs);
  const count = (into: Record<string, number>, code: string) => {
    into[code] = (into[code] ?? 0) + 1;
  };

  const blocked = (key: string) => (blockedUntil.get(key) ?? 0) > scheduler.now();
  const wanted = (key: string) => {
    const edge = edges.get(key);
    return (
      !stopped && edge !== undefined && !blocked(key) && edge.every((d) => devices[d]?.isOpen() === true)
    );
  };

  const noteRefusal = (from: number, refusal: PeerTxRefusal) => {
    count(stats.refusedTxs, refusal.code);
    const role = roleOf.get(refusal.replica);
    // A transaction already held (re-sent from a hole in the vector) is dropped unannounced: never reported.
    if (role === 'clerk') return;
    failures.push({
      check: 'peer-tx-refused',
      detail: `device ${from} refused transaction ${refusal.replica}:${refusal.seq} of a ${role ?? 'unknown'} device from ${refusal.from}: ${refusal.code} (${refusal.reason})`,
    });
  };

  /** Opens a link for edge `key`; it dials again after it drops while the edge is wanted. */
  const dial = (key: string) => {
    if (!wanted(key) || links.has(key)) return;
    const [i, j] = edges.get(key) as [number, number];
    stats.links++;
    let dead = false;
    let silent = false;
    const lastAt = [0, 0];
    const ship = (from: 0 | 1, frame: Uint8Array) => {
      if (dead || silent) return;
      stats.frames++;
      if (rng.chance(faults.cut)) {
        stats.cuts++;
        kill('cut');
        return;
      }
      if (rng.chance(faults.silence)) {
        stats.silences++;
        silent = true;
        scheduler.at(scheduler.now() + CONSENT_TIMEOUT_MS, () => kill('consent timeout'));
        return;
      }
      const at = Math.max(lastAt[from] as number, scheduler.now() + delay());
      lastAt[from] = at;
      later(at - scheduler.now(), () => {
        if (!dead && !silent) ends[from === 0 ? 1 : 0].deliver(frame);
      });
    };
    const ends: [End, End] = [
      createEnd(
        (frame) => ship(0, frame),
        () => kill('closed by device'),
      ),
      createEnd(
        (frame) => ship(1, frame),
        () => kill('closed by device'),
      ),
    ];
    const link: Link = { ends, conns: [undefined, undefined], kill, dead: () => dead };
    function kill(reason: string) {
      if (dead) return;
      dead = true;
      if (links.get(key) === link) links.delete(key);
      later(delay(), () => ends[0].closed({ code: 1006, reason }));
      later(delay(), () => ends[1].closed({ code: 1006, reason }));
      redial(key);
    }
    links.set(key, link);
    [i, j].forEach((d, side) => {
      const peers = (devices[d] as StackDevice).peers();
      if (!peers) return;
      const conn = peers.connect((ends[side] as End).transport);
      link.conns[side] = conn;
    });
    later(delay(), () => {
      if (dead) return;
      ends[0].open();
      ends[1].open();
    });
  };

  const redial = (key: string) => {
    if (stopped || dialling.has(key)) return;
    dialling.add(key);
    scheduler.at(scheduler.now() + rng.int(200, 2_000), () => {
      dialling.delete(key);
      if (!edges.has(key)) return;
      if (wanted(key)) dial(key);
      else redial(key);
    });
  };

  /** Notes how a link's sessions ended (called on every session change through the devices' listeners). */
  const watch = () => {
    for (const [index, device] of devices.entries()) {
      const peers = device.peers();
      if (!peers || watched.has(peers)) continue;
      watched.add(peers);
      const reported = new Set<number>();
      peers.onChange((list) => {
        for (const p of list) {
          if (p.state !== 'refused' || reported.has(p.id) || !p.refusal) continue;
          reported.add(p.id);
          count(stats.refusedLinks, p.refusal.code);
          if (p.refusal.by === 'us' && !EXPECTED_LINK_REFUSALS.has(p.refusal.code))
            failures.push({
              check: 'peer-refused',
              detail: `device ${index} refused peer ${p.replica ?? '?'}: ${p.refusal.code} (${p.refusal.reason})`,
            });
        }
      });
      peers.onRefusedTx((refusal) => noteRefusal(index, refusal));
    }
  };
  const watched = new WeakSet<object>();

  const applyModes = () => {
    for (const [i, mode] of modes.entries()) if (mode === 'peers') network.setReachable(i, false);
  };

  const draw = () => {
    stats.topologies++;
    for (const [i, previous] of modes.entries()) {
      const r = rng();
      modes[i] = r < 0.2 ? 'relay' : r < 0.5 ? 'peers' : 'both';
      if (previous === 'peers' && modes[i] !== 'peers') network.setReachable(i, true);
    }
    const next = new Map<string, [number, number]>();
    for (let i = 0; i < devices.length; i++)
      for (let j = i + 1; j < devices.length; j++)
        if (modes[i] !== 'relay' && modes[j] !== 'relay' && rng.chance(0.7)) next.set(edgeKey(i, j), [i, j]);
    for (const [key, link] of [...links]) if (!next.has(key)) link.kill('topology changed');
    edges.clear();
    for (const [key, edge] of next) edges.set(key, edge);
    applyModes();
    for (const key of edges.keys()) dial(key);
  };

  const partition = () => {
    stats.partitions++;
    const side = devices.map(() => rng.chance(0.5));
    const until = scheduler.now() + rng.int(500, 20_000);
    for (const [key, [i, j]] of edges) {
      if (side[i] === side[j]) continue;
      blockedUntil.set(key, until);
      links.get(key)?.kill('partition');
    }
  };

  return {
    stats,
    async start() {
      for (const d of devices) roleOf.set(d.engine().replica, d.role);
      for (let t = 0; t < 600; t++) {
        let all = true;
        for (const d of devices) if (!(await d.certified())) all = false;
        if (all) break;
        await scheduler.advance(scheduler.now() + 100);
      }
      watch();
      draw();
    },
    step() {
      watch();
      for (const d of devices) if (d.isOpen()) roleOf.set(d.engine().replica, d.role);
      const r = rng();
      if (r < 0.01) draw();
      else if (r < 0.02) partition();
      applyModes();
      for (const key of edges.keys()) if (!links.has(key)) redial(key);
    },
    heal() {
      Object.assign(faults, CALM);
      blockedUntil.clear();
      for (const [i, mode] of modes.entries()) if (mode === 'peers') network.setReachable(i, true);
      modes.fill('both');
      watch();
      for (const key of edges.keys()) if (!links.has(key)) redial(key);
    },
    inFlight: () => pending,
    settled() {
      watch();
      for (const [key, [i, j]] of edges) {
        if (!devices[i]?.isOpen() || !devices[j]?.isOpen()) continue;
        const link = links.get(key);
        if (!link || link.dead() || !link.conns.every((c) => c?.info().state === 'live')) return false;
      }
      return true;
    },
    failures: () => [...failures],
    describe() {
      const parts = [`modes ${modes.join(',')}`, `${pending} peer frames in flight`];
      for (const [key] of edges) {
        const link = links.get(key);
        const states = link ? link.conns.map((c) => c?.info().state ?? 'none').join('/') : 'down';
        parts.push(`edge ${key} ${states}`);
      }
      return parts.join('; ');
    },
    stop() {
      stopped = true;
      for (const link of [...links.values()]) link.kill('stopped');
    },
  };
}
