/**
 * `peers`: the peer connections of one replica (`db.peers` on the Node engine's client). Give it any
 * {@link Transport} to another replica (an in-memory pair, a WebRTC data channel, a LAN WebSocket); it runs the
 * peer protocol (`peer-session.ts`) on it and reports each connection's state, last frame and ops exchanged.
 *
 * Invariants:
 * 1. **Needs a certificate.** A replica peers only once the relay certified its device key (`hello` with a
 *    `device` key); until then each connection is refused (`no_certificate`).
 * 2. **Events follow state.** `onChange` is called with every connection's info after each change; refused
 *    transactions are announced once each (`onRefusedTx`); one already held is not a refusal and is not announced.
 * 3. **Ended connections fold per peer, bounded.** A connection that ended (closed or refused) leaves the open
 *    set; the list keeps, per peer replica, one entry for its ended connections: the last one's state, reason and
 *    id, the newest `lastSeen` and the ops and refusals summed over them (so that a fold with the open connections
 *    counts each once). A connection that ended before the peer said who it was keeps its own entry. At most
 *    {@link MAX_ENDED} such entries are kept, the oldest dropped first: a device that reconnects all day does not
 *    grow the list.
 */
import type { Rules } from '@loam/core';
import type { SyncStore } from '../port/sync-store';
import { DEFAULT_MAX_FRAME_BYTES } from '../protocol/codec';
import type { Transport } from '../transport/transport';
import { loadCredentials } from './credentials';
import type { SigningKeys } from './keys';
import type { PeerInfo, PeerTxRefusal } from './peer-info';
import { createPeerSession, type PeerSession } from './peer-session';

/** Most entries of ended connections kept in the list (invariant 3). */
export const MAX_ENDED = 64;

/** Options of {@link createPeers}. */
export interface PeersOptions {
  readonly store: SyncStore;
  /** This device's key pair (the one the engine signs with). */
  readonly keys: SigningKeys;
  /** The relay's rules (the same file): peers judge each other's writes by them. */
  readonly rules: Rules;
  readonly now?: () => number;
  /** Largest accepted lead of an op's timestamp over this device's clock (default 60 000 ms). */
  readonly maxSkewMs?: number;
  /** Largest frame accepted from a peer (default 4 MiB). */
  readonly maxFrameBytes?: number;
  /** Most transactions per `txs` frame (default 256). */
  readonly batchTxs?: number;
  /**
   * Approximate largest `txs` frame, bytes (default 64 KiB, under a WebRTC data channel's message limit); a single
   * larger transaction goes alone.
   */
  readonly batchBytes?: number;
  /** Most `txs` frames sent without their ack (default 4). */
  readonly window?: number;
}

/** One connection, as handed back by `connect`. */
export interface PeerConnection {
  readonly id: number;
  info(): PeerInfo;
  close(): void;
}

/** A replica's peer connections; see the module documentation. */
export interface Peers {
  /** Runs the peer protocol on `transport` (open, or opening). */
  connect(transport: Transport): PeerConnection;
  /**
   * The open connections, and one entry per peer whose connections ended (invariant 3), in the order they were
   * made (by `id`).
   */
  list(): (PeerInfo & { readonly id: number })[];
  /** How many connections are live or syncing. */
  connectedCount(): number;
  /** Called after any connection changed. Returns the unsubscribe function. */
  onChange(listener: (peers: (PeerInfo & { readonly id: number })[]) => void): () => void;
  /**
   * Called for each transaction a peer sent that was refused (one already held here, re-sent from a hole in the
   * vector, is dropped unannounced). Returns the unsubscribe function.
   */
  onRefusedTx(listener: (refusal: PeerTxRefusal) => void): () => void;
  /** Closes every connection. */
  close(): void;
}

/** Creates the peer connections manager of one replica. */
export function createPeers(options: PeersOptions): Peers {
  const sessions = new Map<number, PeerSession>();
  /** Peer replica (or `#id` while unknown) → its ended connections, folded (invariant 3); oldest first. */
  const ended = new Map<string, PeerInfo & { readonly id: number }>();
  const changeListeners = new Set<(peers: (PeerInfo & { readonly id: number })[]) => void>();
  const refusalListeners = new Set<(refusal: PeerTxRefusal) => void>();
  let next = 0;
  const list = () =>
    [...ended.values(), ...[...sessions].map(([id, s]) => ({ ...s.info(), id }))].sort((a, b) => a.id - b.id);
  const retire = (id: number, info: PeerInfo) => {
    if (!sessions.delete(id)) return;
    const key = info.replica ?? `#${id}`;
    const before = ended.get(key);
    ended.delete(key);
    ended.set(
      key,
      before
        ? {
            ...info,
            id,
            user: info.user ?? before.user,
            lastSeen: Math.max(info.lastSeen, before.lastSeen),
            opsSent: info.opsSent + before.opsSent,
            opsReceived: info.opsReceived + before.opsReceived,
            txsRefused: info.txsRefused + before.txsRefused,
          }
        : { ...info, id },
    );
    for (const oldest of ended.keys()) {
      if (ended.size <= MAX_ENDED) break;
      ended.delete(oldest);
    }
  };
  const changed = () => {
    const peers = list();
    for (const l of changeListeners) l(peers);
  };
  const on = <L>(set: Set<L>, listener: L) => {
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  };

  return {
    connect(transport) {
      const id = ++next;
      const session = createPeerSession(transport, {
        store: options.store,
        keys: options.keys,
        credentials: () => loadCredentials(options.store),
        rules: options.rules,
        now: options.now ?? Date.now,
        maxSkewMs: options.maxSkewMs ?? 60_000,
        maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
        batchTxs: options.batchTxs ?? 256,
        batchBytes: options.batchBytes ?? 64 * 1024,
        window: options.window ?? 4,
        onChange: (info) => {
          if (info.state === 'closed' || info.state === 'refused') retire(id, info);
          changed();
        },
        onRefusedTx: (refusal) => {
          for (const l of refusalListeners) l(refusal);
        },
      });
      sessions.set(id, session);
      return { id, info: () => session.info(), close: () => session.close() };
    },
    list,
    connectedCount: () => list().filter((p) => p.state === 'live' || p.state === 'syncing').length,
    onChange: (listener) => on(changeListeners, listener),
    onRefusedTx: (listener) => on(refusalListeners, listener),
    close() {
      for (const s of sessions.values()) s.close();
    },
  };
}
