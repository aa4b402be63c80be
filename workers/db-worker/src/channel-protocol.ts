/**
 * How follower tabs reach the leader's worker: messages on one BroadcastChannel per database.
 *
 * A BroadcastChannel carries structured clones to every other listener of the same name, and cannot transfer
 * MessagePorts; so every message is addressed (`to`: a leader id or a tab id) and requests carry ids.
 *
 * ```
 * follower tab                                   leader's worker (leaderId = L)
 *   hello{from}                      ──────────▶
 *                                    ◀──────────   leader{leaderId: L, storage}   (also sent unasked on start)
 *   req{to: L, from, id, request}    ──────────▶   handle(request)
 *                                    ◀──────────   res{to: from, id, ok, value | error}
 *   sub{to: L, from, sub, spec}      ──────────▶   engine.watch(spec), or the sync status for {kind: syncStatus}
 *                                    ◀──────────   event{to: from, sub, event}      (first one is a reset)
 *   unsub{to: L, from, sub}          ──────────▶
 * ```
 *
 * Invariants:
 * 1. A worker acts only on messages addressed to its own `leaderId`; a tab only on messages addressed to it.
 * 2. A follower resends every unanswered request, and every subscription, to each newly announced leader;
 *    requests are idempotent (see `protocol.ts`), so a request that reached a dying leader is never applied twice.
 * 3. A worker keeps a follower's subscriptions until the follower unsubscribes, says `bye`, or its tab is gone
 *    (the tab's Web Lock {@link tabLockName} is released).
 */
import type { SerializedError } from './errors';
import type { DbRequest, StorageReport, WatchEvent, WatchSpec } from './protocol';

/** Messages from tabs to the leader's worker. */
export type ToLeader =
  | { readonly t: 'hello'; readonly from: string }
  | {
      readonly t: 'req';
      readonly to: string;
      readonly from: string;
      readonly id: number;
      readonly request: DbRequest;
    }
  | {
      readonly t: 'sub';
      readonly to: string;
      readonly from: string;
      readonly sub: number;
      readonly spec: WatchSpec;
    }
  | { readonly t: 'unsub'; readonly to: string; readonly from: string; readonly sub: number }
  | { readonly t: 'bye'; readonly from: string };

/** Messages from the leader's worker to tabs. */
export type FromLeader =
  | { readonly t: 'leader'; readonly leaderId: string; readonly storage: StorageReport }
  | {
      readonly t: 'res';
      readonly to: string;
      readonly id: number;
      readonly ok: true;
      readonly value: unknown;
    }
  | {
      readonly t: 'res';
      readonly to: string;
      readonly id: number;
      readonly ok: false;
      readonly error: SerializedError;
    }
  | { readonly t: 'event'; readonly to: string; readonly sub: number; readonly event: WatchEvent };

/** Every message on a database's channel. */
export type ChannelMessage = ToLeader | FromLeader;

/** The BroadcastChannel name of database `name`. */
export function channelName(name: string): string {
  return `loam:${name}`;
}

/** The Web Lock the leader tab of database `name` holds for its lifetime. */
export function leaderLockName(name: string): string {
  return `loam:${name}:leader`;
}

/** The Web Lock tab `tabId` holds for its lifetime; granted to anyone else only once the tab is gone. */
export function tabLockName(name: string, tabId: string): string {
  return `loam:${name}:tab:${tabId}`;
}

/** Type guard for messages received on a database channel (anything else is ignored). */
export function isChannelMessage(data: unknown): data is ChannelMessage {
  return typeof data === 'object' && data !== null && typeof (data as { t?: unknown }).t === 'string';
}
