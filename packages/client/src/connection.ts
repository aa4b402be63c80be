/**
 * One tab's connection to its database: as leader it owns the worker and talks to it over Comlink; as follower it
 * talks to the leader's worker over the database channel. A follower is promoted when the leader's tab closes.
 *
 * Invariants:
 * 1. Requests are routed by the role at the time they are made; a follower's pending requests keep waiting on
 *    the channel and are resent to each new leader (the promoted tab's own worker included) until answered.
 * 2. Subscriptions survive promotion: each is moved to the new route and restarts with a reset event.
 * 3. After `close()` every call rejects with `database_closed`, and no event reaches a listener.
 * 4. **A dead worker is replaced.** The leader tab pings its worker every `heartbeatMs`; a worker that has not
 *    answered for `workerTimeoutMs` (terminated, crashed, or its event loop blocked) is terminated and a new one
 *    started. Its in-flight requests (and those made until the new one is up) go to the database channel under
 *    their request ids, each bounded by `leaderTimeoutMs` (`leader_unavailable`), so the new worker answers them (a write the dead one had committed is not applied twice: the leader's writes are recorded
 *    under their ids too); subscriptions move with them. `onWorkerRestart` listeners are told.
 * 5. **No call waits forever for a first leader:** one made while no leader is known rejects with
 *    `leader_unavailable` after `leaderTimeoutMs`; the tab keeps listening for a leader.
 */

import type { Schema } from '@loam/core';
import {
  channelName,
  createDbWorker,
  type DbRequest,
  type DbWorkerApi,
  type DeviceIdentity,
  type GetToken,
  leaderLockName,
  type PeersConfig,
  registerErrorTransfer,
  type StorageReport,
  type SyncConfig,
  tabLockName,
  type WatchEvent,
  type WatchSpec,
} from '@loam/db-worker';
import * as Comlink from 'comlink';
import { type ChannelClient, createChannelClient } from './channel-client';
import {
  DatabaseClosedError,
  LeaderUnavailableError,
  NotLeaderError,
  UnsupportedBrowserError,
} from './errors';
import { electLeader, holdLock, type LockManagerLike } from './leader-election';

/** Which part a tab plays for its database. */
export type Role = 'leader' | 'follower';

/** Options of {@link openConnection}. */
export interface ConnectionOptions {
  readonly name: string;
  readonly schema: Schema;
  /** Starts the database worker (default: `createDbWorker()`). Only called in the leader tab. */
  readonly worker?: () => Worker;
  /** Web Locks (default: `navigator.locks`). */
  readonly locks?: LockManagerLike;
  /** How long a new leader keeps retrying to open files the previous leader's worker still holds. */
  readonly openTimeoutMs?: number;
  /** SQLite page cache of the worker, in MiB (default `DEFAULT_CACHE_MIB` of `@loam/db-worker`). */
  readonly cacheMiB?: number;
  /** Sync options this tab gives its worker when it leads; `getToken` is then called on this tab's UI thread. */
  readonly sync?: SyncConfig & { readonly getToken: GetToken };
  /** Peer options this tab gives its worker when it leads (used only with `sync`). */
  readonly peers?: PeersConfig;
  /** Interval of the leader tab's pings to its worker (default 1000 ms). */
  readonly heartbeatMs?: number;
  /** A worker that has not answered a ping for this long is replaced (default 10 000 ms). */
  readonly workerTimeoutMs?: number;
  /** How long opening, and a call, wait for a first leader before `leader_unavailable` (default 30 000 ms). */
  readonly leaderTimeoutMs?: number;
}

/** A tab's connection. */
export interface Connection {
  readonly tabId: string;
  readonly role: Role;
  /** Where the data lives (as reported by the current leader's worker). */
  readonly storage: StorageReport;
  /** Runs one request on the leader's worker. */
  request(request: DbRequest): Promise<unknown>;
  /**
   * Hands `port` (the worker's end of a peer link) to this tab's worker, which runs the peer protocol over it.
   * Rejects with `not_leader` in a follower tab.
   */
  attachPeer(port: MessagePort): Promise<void>;
  /** This device's identity for peers, from this tab's worker; `not_leader` in a follower tab. */
  peerIdentity(): Promise<DeviceIdentity | undefined>;
  /** Signs a LAN signaling digest with the device key in this tab's worker; `not_leader` in a follower tab. */
  signLanProof(digest: Uint8Array): Promise<Uint8Array>;
  /** Starts a live query or sync status subscription; events go to `onEvent` until the returned function is called. */
  subscribe(spec: WatchSpec, onEvent: (event: WatchEvent) => void): () => void;
  /** Called whenever this tab's role or its leader changes. Returns the unsubscribe function. */
  onLeaderChange(listener: () => void): () => void;
  /** Called with the reason each time this tab replaced its dead worker (invariant 4). Returns unsubscribe. */
  onWorkerRestart(listener: (reason: string) => void): () => void;
  close(): Promise<void>;
}

interface Subscription {
  readonly spec: WatchSpec;
  readonly onEvent: (event: WatchEvent) => void;
  stop: () => void;
}

interface LeaderState {
  readonly worker: Worker;
  readonly remote: Comlink.Remote<DbWorkerApi>;
}

interface InFlight {
  readonly request: DbRequest;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  moved: boolean;
}

const DEFAULT_HEARTBEAT_MS = 1000;
const DEFAULT_WORKER_TIMEOUT_MS = 10_000;
const DEFAULT_LEADER_TIMEOUT_MS = 30_000;

function randomId(): string {
  return globalThis.crypto.randomUUID();
}

/** Joins the election for database `name` and resolves once requests can be served (by this tab or a leader). */
export async function openConnection(options: ConnectionOptions): Promise<Connection> {
  const locks = options.locks ?? (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  if (!locks) throw new UnsupportedBrowserError('Web Locks (navigator.locks)');
  if (typeof BroadcastChannel !== 'function') throw new UnsupportedBrowserError('BroadcastChannel');
  registerErrorTransfer();

  const tabId = randomId();
  const tabLock = holdLock(locks, tabLockName(options.name, tabId));
  const channel = new BroadcastChannel(channelName(options.name));
  const leaderTimeoutMs = options.leaderTimeoutMs ?? DEFAULT_LEADER_TIMEOUT_MS;
  const follower: ChannelClient = createChannelClient({ channel, tabId, leaderTimeoutMs });
  const inFlight = new Set<InFlight>();
  const restartListeners = new Set<(reason: string) => void>();
  /** This tab leads but is replacing its worker: calls wait on the channel, each bounded by `leaderTimeoutMs`. */
  let restarting = false;
  const subscriptions = new Set<Subscription>();
  const leaderListeners = new Set<() => void>();
  let leader: LeaderState | undefined;
  let storage: StorageReport | undefined;
  let closed = false;

  const notify = () => {
    for (const listener of leaderListeners) listener();
  };

  function attach(sub: Subscription): void {
    let active = true;
    const onEvent = (event: WatchEvent) => {
      if (active && !closed) sub.onEvent(event);
    };
    if (leader) {
      const { remote } = leader;
      const listener = Comlink.proxy(onEvent);
      const id = remote.watch(sub.spec, listener);
      id.catch(() => undefined);
      sub.stop = () => {
        active = false;
        id.then((watchId) => remote.unwatch(watchId)).catch(() => undefined);
      };
    } else {
      const unsubscribe = follower.subscribe(sub.spec, onEvent);
      sub.stop = () => {
        active = false;
        unsubscribe();
      };
    }
  }

  async function becomeLeader(): Promise<void> {
    const worker = (options.worker ?? (() => createDbWorker(`loam:${options.name}`)))();
    const remote = Comlink.wrap<DbWorkerApi>(worker);
    const { sync } = options;
    const report = await remote.open(
      {
        name: options.name,
        schema: options.schema,
        channel: channelName(options.name),
        leaderId: randomId(),
        ...(options.openTimeoutMs === undefined ? {} : { openTimeoutMs: options.openTimeoutMs }),
        ...(options.cacheMiB === undefined ? {} : { cacheMiB: options.cacheMiB }),
        ...(sync
          ? {
              sync: { url: sync.url, ...(sync.autoStart === undefined ? {} : { autoStart: sync.autoStart }) },
            }
          : {}),
        ...(sync && options.peers ? { peers: options.peers } : {}),
      },
      sync ? Comlink.proxy(() => sync.getToken()) : undefined,
    );
    if (closed) {
      await remote.close();
      worker.terminate();
      return;
    }
    const state: LeaderState = { worker, remote };
    leader = state;
    restarting = false;
    storage = report;
    for (const sub of subscriptions) {
      sub.stop();
      attach(sub);
    }
    heartbeat(state);
    notify();
  }

  function heartbeat(state: LeaderState): void {
    const every = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    const timeout = options.workerTimeoutMs ?? DEFAULT_WORKER_TIMEOUT_MS;
    let answered = performance.now();
    const timer = setInterval(() => {
      if (leader !== state || closed) return clearInterval(timer);
      if (performance.now() - answered > timeout) {
        clearInterval(timer);
        return workerDied(state, `the database worker did not answer for ${timeout} ms`);
      }
      state.remote.ping().then(
        () => {
          answered = performance.now();
        },
        () => undefined,
      );
    }, every);
  }

  /** Invariant 4: replaces a worker that stopped answering. */
  function workerDied(state: LeaderState, reason: string): void {
    if (leader !== state || closed) return;
    leader = undefined;
    restarting = true;
    state.worker.terminate();
    state.remote[Comlink.releaseProxy]();
    for (const f of inFlight) {
      f.moved = true;
      follower.call(f.request, leaderTimeoutMs).then(f.resolve, f.reject);
    }
    inFlight.clear();
    for (const sub of subscriptions) {
      sub.stop();
      attach(sub);
    }
    for (const listener of restartListeners) listener(reason);
    notify();
    const restart = () => {
      if (closed || leader) return;
      becomeLeader().catch((error: unknown) => {
        console.error(`Loam: this tab could not restart the worker of database "${options.name}"`, error);
        setTimeout(restart, 1000);
      });
    };
    restart();
  }

  function leaderCall(state: LeaderState, request: DbRequest): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const f: InFlight = { request, resolve, reject, moved: false };
      inFlight.add(f);
      state.remote.requestRecorded(request).then(
        (value) => {
          if (f.moved) return;
          inFlight.delete(f);
          resolve(value);
        },
        (error: unknown) => {
          if (f.moved) return;
          inFlight.delete(f);
          reject(error);
        },
      );
    });
  }

  follower.onLeader((_id, report) => {
    if (!leader) {
      storage = report;
      notify();
    }
  });

  const election = await electLeader({
    locks,
    lockName: leaderLockName(options.name),
    onPromoted: () => {
      becomeLeader().catch((error: unknown) => {
        console.error(`Loam: this tab could not take over database "${options.name}"`, error);
      });
    },
  });

  try {
    if (election.leader) await becomeLeader();
    else {
      let timer: ReturnType<typeof setTimeout> | undefined;
      storage = await Promise.race([
        follower.firstLeader,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new LeaderUnavailableError(leaderTimeoutMs)), leaderTimeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
    }
  } catch (error) {
    election.release();
    tabLock.release();
    follower.close();
    channel.close();
    throw error;
  }

  return {
    tabId,
    get role(): Role {
      return leader ? 'leader' : 'follower';
    },
    get storage(): StorageReport {
      return storage as StorageReport;
    },
    request(request) {
      if (closed) return Promise.reject(new DatabaseClosedError());
      if (leader) return leaderCall(leader, request);
      return follower.call(request, restarting ? leaderTimeoutMs : undefined);
    },
    async attachPeer(port) {
      if (closed) throw new DatabaseClosedError();
      if (!leader) throw new NotLeaderError('Connecting a peer');
      await leader.remote.attachPeer(Comlink.transfer(port, [port]));
    },
    async peerIdentity() {
      if (closed) throw new DatabaseClosedError();
      if (!leader) throw new NotLeaderError('Reading the device identity');
      return await leader.remote.peerIdentity();
    },
    async signLanProof(digest) {
      if (closed) throw new DatabaseClosedError();
      if (!leader) throw new NotLeaderError('Signing a LAN proof');
      return await leader.remote.signLanProof(digest);
    },
    subscribe(watchSpec, onEvent) {
      if (closed) throw new DatabaseClosedError();
      const sub: Subscription = { spec: watchSpec, onEvent, stop: () => undefined };
      subscriptions.add(sub);
      attach(sub);
      return () => {
        if (!subscriptions.delete(sub)) return;
        sub.stop();
      };
    },
    onLeaderChange(listener) {
      leaderListeners.add(listener);
      return () => leaderListeners.delete(listener);
    },
    onWorkerRestart(listener) {
      restartListeners.add(listener);
      return () => restartListeners.delete(listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const sub of subscriptions) sub.stop();
      subscriptions.clear();
      follower.close();
      channel.close();
      const current = leader;
      leader = undefined;
      if (current) {
        await current.remote.close().catch(() => undefined);
        current.remote[Comlink.releaseProxy]();
        current.worker.terminate();
      }
      election.release();
      tabLock.release();
    },
  };
}
