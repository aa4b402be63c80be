/**
 * Virtual time and an in-memory network for the real-stack fuzzer.
 *
 * Time only moves when the run says so (`advance`): timers (the sync clients' backoff and keep-alive) and frame
 * deliveries are events in one seeded queue, run in time order, each followed by `settle()` so the async work it
 * started (SQLite calls, the relay's commits, the session's answers) finishes before the next event. Real I/O the
 * run cannot see through promises (PostgreSQL queries) is awaited through `io`. Nothing waits on a real timer.
 *
 * Each connection is a pair of {@link Transport}s that keeps the transport contract (ordered whole frames, one
 * close, nothing after close): a frame is delayed by a random time but never overtakes an earlier one of the same
 * direction. Faults are what a real network does to a WebSocket: the link is cut (frames in flight on both sides
 * are lost, both ends see `close`), or goes dead silently (frames vanish until the client's keep-alive gives up),
 * and a device's pushes are sent twice (a client retrying a batch), which the relay must take as duplicates.
 * A cut may be partial (`partialCut`): each direction still delivers a random prefix of its frames in flight (what
 * was already in the peer's socket buffer), then the close; e.g. the relay's `ack` arrives and the `docs` frame sent
 * right after it does not.
 */
import { decodeClientMessage, listenOn, type Transport, type TransportCloseEvent } from '@loam/sync';
import type { Rng } from '../random';

interface Event {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
  cancelled: boolean;
}

/** The virtual clock and event queue. */
export interface Scheduler {
  now(): number;
  /** Schedules `run` at `at` (not before now); returns a handle for `cancel`. */
  at(at: number, run: () => void): Event;
  cancel(event: Event): void;
  /**
   * Lets the async work started so far run to completion (promise chains over synchronous SQLite, and the real
   * I/O `io` reports until it is done).
   */
  settle(): Promise<void>;
  /** Runs every event due up to `time` (in order, settling after each), then sets the clock to `time`. */
  advance(time: number): Promise<void>;
  /** When the next pending event is due, if any. */
  nextAt(): number | undefined;
  /** Runs events, in order, until `work` settles (a store may wait on a virtual timer); resolves as it does. */
  until<T>(work: Promise<T>): Promise<T>;
  /** Timer functions for `createSyncClient`. */
  readonly timers: {
    setTimeout(callback: () => void, ms: number): unknown;
    clearTimeout(handle: unknown): void;
  };
}

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Real I/O a settled run must wait for. */
export interface RealIo {
  busy(): boolean;
  settled(): Promise<void>;
}

/** A scheduler starting at `start` (Unix ms); `io()` names the real I/O to wait for, if any. */
export function createScheduler(start: number, io?: () => RealIo | undefined): Scheduler {
  let time = start;
  let seq = 0;
  const queue: Event[] = [];
  const pop = (): Event | undefined => {
    let best = -1;
    for (let i = 0; i < queue.length; i++) {
      const e = queue[i] as Event;
      const b = queue[best] as Event | undefined;
      if (!b || e.at < b.at || (e.at === b.at && e.seq < b.seq)) best = i;
    }
    return best < 0 ? undefined : queue.splice(best, 1)[0];
  };
  const scheduler: Scheduler = {
    now: () => time,
    at(at, run) {
      const event: Event = { at: Math.max(at, time), seq: seq++, run, cancelled: false };
      queue.push(event);
      return event;
    },
    cancel(event) {
      event.cancelled = true;
      const i = queue.indexOf(event);
      if (i >= 0) queue.splice(i, 1);
    },
    async settle() {
      for (;;) {
        for (let i = 0; i < 4; i++) await immediate();
        const real = io?.();
        if (!real?.busy()) return;
        await real.settled();
      }
    },
    async advance(to) {
      for (;;) {
        const next = scheduler.nextAt();
        if (next === undefined || next > to) break;
        const event = pop() as Event;
        time = Math.max(time, event.at);
        if (!event.cancelled) {
          event.run();
          await scheduler.settle();
        }
      }
      time = Math.max(time, to);
    },
    async until(work) {
      let done = false;
      const watched = work.finally(() => {
        done = true;
      });
      await scheduler.settle();
      for (let next = scheduler.nextAt(); !done && next !== undefined; next = scheduler.nextAt())
        await scheduler.advance(next);
      return watched;
    },
    nextAt() {
      let min: number | undefined;
      for (const e of queue) if (min === undefined || e.at < min) min = e.at;
      return min;
    },
    timers: {
      setTimeout: (callback, ms) => scheduler.at(time + Math.max(0, ms), callback),
      clearTimeout: (handle) => scheduler.cancel(handle as Event),
    },
  };
  return scheduler;
}

/** How hostile the network is (probabilities per frame). */
export interface NetworkFaults {
  /** The connection is cut while this frame is in flight. */
  readonly cut: number;
  /** The connection goes silent (frames lost both ways) until the client's keep-alive closes it. */
  readonly silence: number;
  /** A pushed batch is sent twice. */
  readonly duplicate: number;
  /** Largest delay of one frame, ms. */
  readonly maxDelayMs: number;
  /** Share of cuts that still deliver a random prefix of each direction's frames in flight (default 0). */
  readonly partialCut?: number;
}

/** Counters of what the network did. */
export interface NetworkStats {
  frames: number;
  cuts: number;
  /** Cuts that delivered some of the frames in flight. */
  partialCuts: number;
  silences: number;
  duplicates: number;
  refusedConnections: number;
}

/** One end of a connection (also the peer links' ends, `peer-mesh.ts`). */
export interface End {
  readonly transport: Transport;
  open(): void;
  deliver(frame: Uint8Array): void;
  closed(event: TransportCloseEvent): void;
  isClosed(): boolean;
}

/** One end whose `send` and `close` go to the connection's handlers. */
export function createEnd(
  onSend: (frame: Uint8Array) => void,
  onCloseCall: (event: TransportCloseEvent) => void,
): End {
  const opens = new Set<() => void>();
  const frames = new Set<(frame: Uint8Array) => void>();
  const closes = new Set<(event: TransportCloseEvent) => void>();
  let state: 'created' | 'open' | 'closed' = 'created';
  return {
    transport: {
      send(frame) {
        if (state === 'open') onSend(frame);
      },
      close(code = 1000, reason = '') {
        if (state !== 'closed') onCloseCall({ code, reason });
      },
      onOpen: listenOn(opens),
      onFrame: listenOn(frames),
      onClose: listenOn(closes),
      onError: () => () => undefined,
    },
    open() {
      if (state !== 'created') return;
      state = 'open';
      for (const l of [...opens]) l();
    },
    deliver(frame) {
      if (state !== 'open') return;
      for (const l of [...frames]) l(frame);
    },
    closed(event) {
      if (state === 'closed') return;
      state = 'closed';
      for (const l of [...closes]) l(event);
    },
    isClosed: () => state === 'closed',
  };
}

/**
 * A frame seen on the wire, for the run's bookkeeping: every frame when it is sent (`delivered` false, whether or
 * not it arrives), then again when it arrives (`delivered` true).
 */
export type WireTap = (direction: 'up' | 'down', frame: Uint8Array, delivered: boolean) => void;

/** The network between devices and the relay. */
export interface Network {
  readonly stats: NetworkStats;
  /**
   * A transport factory for device `device`: each call opens a connection that `accept` answers with the relay's
   * end, or fails (1006) when the device is cut off or `accept` returns false (relay down).
   */
  factory(device: number, tap: WireTap): () => Transport;
  /** Cuts every live connection of `device` (all devices when undefined). */
  cut(device?: number): void;
  /** Whether `device` can reach the relay at all. */
  setReachable(device: number, reachable: boolean): void;
  /** Frames or connection events still travelling. */
  inFlight(): number;
  /** Live connections of `device`. */
  live(device: number): number;
}

/**
 * Creates the network. `accept` attaches a relay session to the server end (false: the relay is down). Partial cuts
 * draw from `cutRng` (default `rng`), so that adding them left the other draws of a seed as they were.
 */
export function createNetwork(
  scheduler: Scheduler,
  rng: Rng,
  faults: NetworkFaults,
  accept: (server: Transport) => boolean,
  cutRng: Rng = rng,
): Network {
  const stats: NetworkStats = {
    frames: 0,
    cuts: 0,
    partialCuts: 0,
    silences: 0,
    duplicates: 0,
    refusedConnections: 0,
  };
  const unreachable = new Set<number>();
  const connections = new Map<number, Set<{ kill(reason: string): void }>>();
  let pending = 0;
  const later = (delay: number, run: () => void) => {
    pending++;
    scheduler.at(scheduler.now() + delay, () => {
      pending--;
      run();
    });
  };
  const delay = () => rng.int(0, faults.maxDelayMs);

  const network: Network = {
    stats,
    factory(device, tap) {
      return () => {
        let silent = false;
        let dead = false;
        const lastAt = { up: 0, down: 0 };
        // Frames of each direction travelling (in order): when each arrives; a cut keeps the first `kept` of them.
        const travelling = { up: [] as number[], down: [] as number[] };
        const kept = { up: 0, down: 0 };
        const conns = connections.get(device) ?? new Set();
        connections.set(device, conns);
        // Each side's frames travel in order; a cut discards what is still travelling (all, or all but a prefix).
        const ship = (direction: 'up' | 'down', frame: Uint8Array, to: () => End) => {
          if (dead || silent) return;
          stats.frames++;
          tap(direction, frame, false);
          if (rng.chance(faults.cut)) {
            stats.cuts++;
            kill('cut', faults.partialCut !== undefined && cutRng.chance(faults.partialCut));
            return;
          }
          if (rng.chance(faults.silence)) {
            stats.silences++;
            silent = true;
            return;
          }
          const copies = direction === 'up' && rng.chance(faults.duplicate) && isPush(frame) ? 2 : 1;
          if (copies === 2) stats.duplicates++;
          for (let i = 0; i < copies; i++) {
            const at = Math.max(lastAt[direction], scheduler.now() + delay());
            lastAt[direction] = at;
            const queue = travelling[direction];
            queue.push(at);
            later(at - scheduler.now(), () => {
              queue.shift();
              if (silent) return;
              if (dead) {
                if (kept[direction] === 0) return;
                kept[direction]--;
              }
              tap(direction, frame, true);
              to().deliver(frame);
            });
          }
        };
        const client: End = createEnd(
          (frame) => ship('up', frame, () => server),
          () => kill('client closed'),
        );
        const server: End = createEnd(
          (frame) => ship('down', frame, () => client),
          () => kill('server closed'),
        );
        const handle = { kill: (reason: string) => kill(reason) };
        function kill(reason: string, partial = false) {
          if (dead) return;
          dead = true;
          conns.delete(handle);
          // Each end hears of the close after the frames it still receives.
          let clientAt = scheduler.now();
          let serverAt = scheduler.now() + delay();
          if (partial && !silent && travelling.up.length + travelling.down.length > 0) {
            stats.partialCuts++;
            kept.up = cutRng.int(0, travelling.up.length);
            kept.down = cutRng.int(0, travelling.down.length);
            if (kept.down > 0) clientAt = Math.max(clientAt, travelling.down[kept.down - 1] as number);
            if (kept.up > 0) serverAt = Math.max(serverAt, travelling.up[kept.up - 1] as number);
          }
          later(clientAt - scheduler.now(), () => client.closed({ code: 1006, reason }));
          later(serverAt - scheduler.now(), () => server.closed({ code: 1006, reason }));
        }
        if (unreachable.has(device)) {
          stats.refusedConnections++;
          dead = true;
          later(delay(), () => client.closed({ code: 1006, reason: 'unreachable' }));
          return client.transport;
        }
        conns.add(handle);
        later(delay(), () => {
          if (dead) return;
          if (!accept(server.transport)) {
            stats.refusedConnections++;
            kill('relay down');
            return;
          }
          server.open();
          later(delay(), () => {
            if (!dead) client.open();
          });
        });
        return client.transport;
      };
    },
    cut(device) {
      for (const [d, conns] of connections) {
        if (device !== undefined && d !== device) continue;
        for (const c of [...conns]) c.kill('cut');
      }
    },
    setReachable(device, reachable) {
      if (reachable) unreachable.delete(device);
      else {
        unreachable.add(device);
        network.cut(device);
      }
    },
    inFlight: () => pending,
    live: (device) => connections.get(device)?.size ?? 0,
  };
  return network;
}

function isPush(frame: Uint8Array): boolean {
  try {
    return decodeClientMessage(frame).t === 'push';
  } catch {
    return false;
  }
}
