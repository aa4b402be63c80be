/**
 * One tab's connection to its database: as leader it owns the worker and talks to it over Comlink; as follower it
 * talks to the leader's worker over the database channel. A follower is promoted when the leader's tab closes.
 *
 * Invariants:
 * 1. Requests are routed by the role at the time they are made; a follower's pending requests keep waiting on
 *    the channel and are resent to each new leader (the promoted tab's own worker included) until answered.
 * 2. Subscriptions survive promotion: each is moved to the new route and restarts with a reset event.
 * 3. After `close()` every call rejects with `database_closed`, and no event reaches a listener.
 */

import type { Schema } from '@loam/core';
import {
  channelName,
  createDbWorker,
  type DbRequest,
  type DbWorkerApi,
  type GetToken,
  leaderLockName,
  registerErrorTransfer,
  type StorageReport,
  type SyncConfig,
  tabLockName,
  type WatchEvent,
  type WatchSpec,
} from '@loam/db-worker';
import * as Comlink from 'comlink';
import { type ChannelClient, createChannelClient } from './channel-client';
import { DatabaseClosedError, UnsupportedBrowserError } from './errors';
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
}

/** A tab's connection. */
export interface Connection {
  readonly tabId: string;
  readonly role: Role;
  /** Where the data lives (as reported by the current leader's worker). */
  readonly storage: StorageReport;
  /** Runs one request on the leader's worker. */
  request(request: DbRequest): Promise<unknown>;
  /** Starts a live query or sync status subscription; events go to `onEvent` until the returned function is called. */
  subscribe(spec: WatchSpec, onEvent: (event: WatchEvent) => void): () => void;
  /** Called whenever this tab's role or its leader changes. Returns the unsubscribe function. */
  onLeaderChange(listener: () => void): () => void;
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
  const follower: ChannelClient = createChannelClient({ channel, tabId });
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
      },
      sync ? Comlink.proxy(() => sync.getToken()) : undefined,
    );
    if (closed) {
      await remote.close();
      worker.terminate();
      return;
    }
    leader = { worker, remote };
    storage = report;
    for (const sub of subscriptions) {
      sub.stop();
      attach(sub);
    }
    notify();
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
    else storage = await follower.firstLeader;
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
      return leader ? leader.remote.request(request) : follower.call(request);
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
