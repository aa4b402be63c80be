/**
 * The client's side of one session: the `hello` it opens with, and what each relay frame does. Every handler runs
 * in the client's serial queue, in arrival order.
 *
 * ```
 *  hello {cursor, synced subscriptions}  ─▶
 *  ◀─ welcome   connected; restored database? skip past replicaSeq; subscribe the others; downloads; uploads
 *  ◀─ permissions  persisted and announced (permissions keeper)
 *  ◀─ certificate, revocations   checked and kept for peer sync (`peers/credentials.ts`)
 *  ◀─ ack       uploader (acknowledge / refusals / renumber), sweep leaving documents, next uploads
 *  ◀─ forwarded forwarder (learned transactions leave the peer log; refusals logged), next uploads
 *  ◀─ docs      downloader          ◀─ synced   downloader (cursor, reset), subscription ready
 *  ◀─ error     on a subscription: remembered as refused; auth_expired: fresh token; fatal codes: failed;
 *               peer_unreachable: to the peer signaling
 *  ◀─ roster / signal   peer signaling (`peer-signaling.ts`)
 * ```
 */
import { SNAPSHOT_VERSIONS } from '@loam/core';
import { SyncClientErrorCode } from '../errors';
import { loadCredentials, saveCertificate, saveRevocations } from '../peers/credentials';
import type { RefusedWrite, SyncStore } from '../port/sync-store';
import { FATAL_WIRE_CODES, WireErrorCode } from '../protocol/codes';
import { PROTOCOL_VERSION, type ServerMessage } from '../protocol/messages';
import type { Downloader } from './downloader';
import type { Forwarder } from './forwarder';
import type { Link } from './link';
import type { PeerSignalingFeed } from './peer-signaling';
import type { PermissionsKeeper } from './permissions';
import type { StatusStore, SyncIssue } from './status';
import type { SubscriptionRegistry } from './subscription-registry';
import type { Uploader } from './uploader';

/** What the handlers need from the client's life cycle. */
export interface SessionLifecycle {
  /** Whether `link` is the client's live link (frames of a replaced link are ignored). */
  isCurrent(link: Link): boolean;
  /** The relay welcomed `link`: the client is connected. */
  welcomed(link: Link): void;
  /** A fatal error on `link`: the client stops retrying until started again. */
  failed(link: Link, issue: SyncIssue): void;
  /** The next reconnect should not wait (a fresh token will do). */
  reconnectAtOnce(): void;
  /** Fetches a token and sends it on the live link. */
  refreshToken(): Promise<void>;
  /** Sends the outbox's next batches and refreshes the pending count. */
  pump(): Promise<void>;
  /** Announces refused writes to the app. */
  refused(writes: readonly RefusedWrite[]): void;
}

/** The session handlers of one client. */
export interface SessionHandlers {
  /** Sends `hello` on a link that just opened. */
  hello(link: Link, token: string | null): Promise<void>;
  /** Handles one frame of `link`. */
  handle(link: Link, message: ServerMessage): Promise<void>;
  /** Handles consecutive `docs` frames of `link` together (see the downloader's `docsMany`). */
  handleDocs(link: Link, messages: readonly Extract<ServerMessage, { t: 'docs' }>[]): Promise<void>;
}

/** Creates the handlers. */
export function createSessionHandlers(deps: {
  readonly store: SyncStore;
  readonly registry: SubscriptionRegistry;
  readonly uploader: Uploader;
  readonly forwarder: Forwarder;
  readonly downloader: Downloader;
  readonly permissions: PermissionsKeeper;
  readonly peers: PeerSignalingFeed;
  readonly status: StatusStore;
  readonly lifecycle: SessionLifecycle;
  readonly now: () => number;
}): SessionHandlers {
  const { store, registry, uploader, forwarder, downloader, permissions, peers, status, lifecycle, now } =
    deps;
  const helloSubs = new WeakMap<Link, ReadonlySet<string>>();

  const restored = (message: string) => status.issue(SyncClientErrorCode.replicaRestored, message);

  const welcome = async (link: Link, message: Extract<ServerMessage, { t: 'welcome' }>) => {
    if (!lifecycle.isCurrent(link)) return;
    link.welcomed = true;
    lifecycle.welcomed(link);
    peers.welcomed(link);
    const next = await store.nextSeq();
    if (message.replicaSeq !== undefined && message.replicaSeq >= next) {
      await store.skipSequence(message.replicaSeq + 1);
      restored(
        `This device's database is older than what the server holds of it (op ${message.replicaSeq} ≥ ${next}): it was restored from a copy. New writes continue after op ${message.replicaSeq}; unsynced writes are kept and upload.`,
      );
    }
    const active = await registry.active();
    const inHello = helloSubs.get(link) ?? new Set<string>();
    for (const id of inHello) if (!active.some((s) => s.id === id)) link.send({ t: 'unsubscribe', id });
    await downloader.welcome(
      message.reset,
      active.map((s) => s.id),
      message.cursor,
    );
    for (const s of active) {
      if (inHello.has(s.id)) continue;
      link.send({ t: 'subscribe', sub: s });
      downloader.expect(s.id);
    }
    uploader.begin(link);
    forwarder.begin(link);
    await lifecycle.pump();
  };

  const ack = async (link: Link, message: Extract<ServerMessage, { t: 'ack' }>) => {
    const outcome = await uploader.ack(link, message);
    lifecycle.refused(outcome.refused);
    if (outcome.renumbered.size > 0)
      restored(
        `The server already holds ${outcome.renumbered.size} op id(s) of this device with other content (its database was restored from an older copy): those writes got new ids and upload again.`,
      );
    await registry.sweep();
    status.set({ lastSyncedAt: now() });
    await lifecycle.pump();
  };

  const error = async (link: Link, message: Extract<ServerMessage, { t: 'error' }>) => {
    if (message.sub !== undefined) {
      await registry.markDenied(message.sub, { code: message.code, message: message.message });
      await downloader.forget(message.sub);
      status.issue(message.code, message.message);
      if (message.fatal && lifecycle.isCurrent(link)) link.close(true);
      return;
    }
    if (!lifecycle.isCurrent(link)) return;
    if (message.code === WireErrorCode.peerUnreachable && !message.fatal)
      return peers.unreachableReceived(message.message);
    if (message.code === WireErrorCode.authExpired && !message.fatal) {
      await lifecycle.refreshToken();
      return;
    }
    if (FATAL_WIRE_CODES.has(message.code)) {
      lifecycle.failed(link, status.issue(message.code, message.message, true));
      return;
    }
    if (message.code === WireErrorCode.authExpired) lifecycle.reconnectAtOnce();
    status.issue(message.code, message.message);
    if (message.fatal) link.close(true);
  };

  return {
    async hello(link, token) {
      if (!lifecycle.isCurrent(link)) return;
      const cursor = await store.cursor();
      const synced = (await registry.all()).values();
      const subs = [...synced].filter((s) => s.stored.synced && !s.stored.denied);
      if (!lifecycle.isCurrent(link)) return;
      helloSubs.set(link, new Set(subs.map((s) => s.stored.id)));
      link.send({
        t: 'hello',
        protocol: PROTOCOL_VERSION,
        replica: store.replica,
        token,
        schemaVersion: store.schema.version,
        cursor,
        subs: subs.map((s) => ({ id: s.stored.id, query: s.stored.query })),
        ...(store.devicePublicKey ? { device: store.devicePublicKey } : {}),
        snapshots: Math.max(...SNAPSHOT_VERSIONS),
      });
    },

    handleDocs: (_link, messages) => downloader.docsMany(messages),

    async handle(link, message) {
      switch (message.t) {
        case 'welcome':
          return welcome(link, message);
        case 'ack':
          return ack(link, message);
        case 'forwarded':
          lifecycle.refused(await forwarder.forwarded(link, message));
          return lifecycle.pump();
        case 'docs':
          return downloader.docs(message);
        case 'synced':
          return downloader.synced(message);
        case 'permissions':
          return permissions.set({ rules: message.rules, claims: message.claims });
        case 'certificate':
          if (store.devicePublicKey)
            await saveCertificate(
              store,
              { replica: store.replica, publicKey: store.devicePublicKey, now },
              message,
            );
          return;
        case 'revocations': {
          const credentials = await loadCredentials(store);
          if (credentials) await saveRevocations(store, credentials.relayKey, message);
          return;
        }
        case 'pong':
          return;
        case 'roster':
          return peers.rosterReceived(message.peers);
        case 'signal':
          return peers.signalReceived(message.from, message.data);
        case 'error':
          return error(link, message);
      }
    },
  };
}
