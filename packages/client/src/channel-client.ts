/**
 * A follower tab's side of the database channel (`channel-protocol.ts` of `@loam/db-worker`): requests and live
 * query subscriptions addressed to whichever leader's worker announced itself last.
 *
 * Invariants:
 * 1. A request stays pending until answered; every pending request is resent, unchanged (same request ids), to
 *    each newly announced leader. Requests are idempotent, so resending never applies a write twice.
 * 2. Every open subscription is resent to each newly announced leader; its next event is a reset.
 * 3. Events of a subscription that was unsubscribed are dropped.
 * 4. A request made while no leader is known rejects with `leader_unavailable` after `leaderTimeoutMs` unless a
 *    leader announced itself meanwhile (a call given its own `timeoutMs` is bounded by it in any case); the client
 *    keeps listening for a leader.
 */
import {
  type ChannelPort,
  type DbRequest,
  type FromLeader,
  isChannelMessage,
  rebuildError,
  type StorageReport,
  type ToLeader,
  type WatchEvent,
  type WatchSpec,
} from '@loam/db-worker';
import { DatabaseClosedError, LeaderUnavailableError } from './errors';

/** A follower's connection to the leader, over the database channel. */
export interface ChannelClient {
  /** The leader currently served by, if one announced itself. */
  readonly leaderId: string | undefined;
  /** Resolves with the storage report of the first leader to announce itself. */
  readonly firstLeader: Promise<StorageReport>;
  /** Called with every newly announced leader. Returns the unsubscribe function. */
  onLeader(listener: (leaderId: string, storage: StorageReport) => void): () => void;
  /**
   * Sends `request` to the leader (resending it to every new leader until answered). With `timeoutMs`, rejects
   * with `leader_unavailable` when no answer came within it, whether a leader is known or not.
   */
  call(request: DbRequest, timeoutMs?: number): Promise<unknown>;
  /** Starts a live query (or sync status subscription) on the leader. Returns the unsubscribe function. */
  subscribe(spec: WatchSpec, onEvent: (event: WatchEvent) => void): () => void;
  /** Says goodbye to the leader and rejects pending requests with `database_closed`. */
  close(): void;
}

interface Pending {
  readonly request: DbRequest;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  timer?: ReturnType<typeof setTimeout>;
  /** The timer bounds the whole call, not only the wait for a first leader. */
  bounded?: boolean;
}

/** Options of {@link createChannelClient}. */
export interface ChannelClientOptions {
  readonly channel: ChannelPort;
  /** This tab's id: answers and events addressed to it are taken. */
  readonly tabId: string;
  /** How long a request waits for a first leader before rejecting with `leader_unavailable` (default: forever). */
  readonly leaderTimeoutMs?: number;
}

/** Starts a follower connection on `channel` and asks the leader (if any) to announce itself. */
export function createChannelClient(options: ChannelClientOptions): ChannelClient {
  const { channel, tabId } = options;
  const pending = new Map<number, Pending>();
  const subscriptions = new Map<number, { spec: WatchSpec; onEvent: (event: WatchEvent) => void }>();
  const leaderListeners = new Set<(leaderId: string, storage: StorageReport) => void>();
  let leaderId: string | undefined;
  let nextId = 0;
  let closed = false;
  let resolveFirst: (storage: StorageReport) => void = () => undefined;
  const firstLeader = new Promise<StorageReport>((resolve) => {
    resolveFirst = resolve;
  });

  const send = (message: ToLeader) => channel.postMessage(message);

  const sendRequest = (id: number, request: DbRequest) => {
    if (leaderId !== undefined) send({ t: 'req', to: leaderId, from: tabId, id, request });
  };
  const sendSubscription = (sub: number, spec: WatchSpec) => {
    if (leaderId !== undefined) send({ t: 'sub', to: leaderId, from: tabId, sub, spec });
  };

  const onMessage = (event: MessageEvent) => {
    const data: unknown = event.data;
    if (closed || !isChannelMessage(data)) return;
    const m = data as FromLeader;
    switch (m.t) {
      case 'leader': {
        if (m.leaderId === leaderId) return;
        leaderId = m.leaderId;
        resolveFirst(m.storage);
        for (const [id, p] of pending) {
          if (!p.bounded) clearTimeout(p.timer);
          sendRequest(id, p.request);
        }
        for (const [sub, s] of subscriptions) sendSubscription(sub, s.spec);
        for (const listener of leaderListeners) listener(m.leaderId, m.storage);
        return;
      }
      case 'res': {
        if (m.to !== tabId) return;
        const p = pending.get(m.id);
        if (!p) return;
        pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.ok) p.resolve(m.value);
        else p.reject(rebuildError(m.error));
        return;
      }
      case 'event': {
        if (m.to !== tabId) return;
        subscriptions.get(m.sub)?.onEvent(m.event);
        return;
      }
      default:
        return;
    }
  };

  channel.addEventListener('message', onMessage);
  send({ t: 'hello', from: tabId });

  return {
    get leaderId() {
      return leaderId;
    },
    firstLeader,
    onLeader(listener) {
      leaderListeners.add(listener);
      return () => leaderListeners.delete(listener);
    },
    call(request, timeoutMs) {
      if (closed) return Promise.reject(new DatabaseClosedError());
      const id = ++nextId;
      return new Promise((resolve, reject) => {
        const p: Pending = { request, resolve, reject, bounded: timeoutMs !== undefined };
        pending.set(id, p);
        const wait = timeoutMs ?? (leaderId === undefined ? options.leaderTimeoutMs : undefined);
        if (wait !== undefined)
          p.timer = setTimeout(() => {
            if ((timeoutMs === undefined && leaderId !== undefined) || !pending.delete(id)) return;
            reject(new LeaderUnavailableError(wait));
          }, wait);
        sendRequest(id, request);
      });
    },
    subscribe(spec, onEvent) {
      const sub = ++nextId;
      subscriptions.set(sub, { spec, onEvent });
      sendSubscription(sub, spec);
      return () => {
        if (!subscriptions.delete(sub)) return;
        if (leaderId !== undefined && !closed) send({ t: 'unsub', to: leaderId, from: tabId, sub });
      };
    },
    close() {
      if (closed) return;
      send({ t: 'bye', from: tabId });
      closed = true;
      channel.removeEventListener('message', onMessage);
      subscriptions.clear();
      for (const p of pending.values()) {
        clearTimeout(p.timer);
        p.reject(new DatabaseClosedError());
      }
      pending.clear();
    },
  };
}
