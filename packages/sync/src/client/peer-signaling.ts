/**
 * The client's side of signaling through the relay: sends this device's `signal` and `announce` frames on the live
 * session, and hands the app the relay's `roster` and the `signal`s of peers. The relay decides who may reach
 * whom (its `peers` rules); this module only carries the messages.
 *
 * Invariants:
 * 1. **Nothing is queued for later.** A signal is sent on a welcomed session or not at all (`signal` returns
 *    false): SDP and ICE go stale, and the link layer retries with fresh ones.
 * 2. **Announced addresses survive reconnects**: they are sent again after every `welcome`.
 * 3. **The roster is the relay's latest**, replaced whole by each `roster` frame; empty before the first.
 */
import type { ReplicaId } from '@loam/core';
import type { RosterPeer } from '../protocol/messages';
import type { Link } from './link';

/** Signaling through the relay, as the app sees it (`SyncClient.peers`). */
export interface RelaySignaling {
  /** Sends one signaling message to peer `to`; false when not connected to the relay (nothing is sent). */
  signal(to: ReplicaId, data: string): boolean;
  /** Announces this device's LAN signaling addresses (`host:port`) to its peers' rosters. */
  announce(addresses: readonly string[]): void;
  /** The relay's latest roster of this device's peers. */
  roster(): readonly RosterPeer[];
  /** Called with each new roster. Returns the unsubscribe function. */
  onRoster(listener: (peers: readonly RosterPeer[]) => void): () => void;
  /** Called with each signaling message from a peer. Returns the unsubscribe function. */
  onSignal(listener: (from: ReplicaId, data: string) => void): () => void;
  /** Called when the relay could not forward a signal (`peer_unreachable`). Returns the unsubscribe function. */
  onUnreachable(listener: (message: string) => void): () => void;
}

/** What the session handlers feed in. */
export interface PeerSignalingFeed {
  /** The relay welcomed `link`: announce again. */
  welcomed(link: Link): void;
  /** A `roster` frame arrived. */
  rosterReceived(peers: readonly RosterPeer[]): void;
  /** A `signal` frame arrived. */
  signalReceived(from: ReplicaId, data: string): void;
  /** A `peer_unreachable` error arrived. */
  unreachableReceived(message: string): void;
}

/** Creates the signaling side of a client whose live, welcomed link `connected()` returns. */
export function createPeerSignaling(connected: () => Link | null): RelaySignaling & PeerSignalingFeed {
  let addresses: readonly string[] | undefined;
  let roster: readonly RosterPeer[] = [];
  const rosterListeners = new Set<(peers: readonly RosterPeer[]) => void>();
  const signalListeners = new Set<(from: ReplicaId, data: string) => void>();
  const unreachableListeners = new Set<(message: string) => void>();
  const listen =
    <L>(set: Set<L>) =>
    (listener: L) => {
      set.add(listener);
      return () => {
        set.delete(listener);
      };
    };

  return {
    signal(to, data) {
      const link = connected();
      if (!link) return false;
      link.send({ t: 'signal', to, data });
      return true;
    },
    announce(list) {
      addresses = [...list];
      connected()?.send({ t: 'announce', addresses });
    },
    roster: () => roster,
    onRoster: listen(rosterListeners),
    onSignal: listen(signalListeners),
    onUnreachable: listen(unreachableListeners),
    welcomed(link) {
      if (addresses) link.send({ t: 'announce', addresses });
    },
    rosterReceived(peers) {
      roster = peers;
      for (const l of [...rosterListeners]) l(peers);
    },
    signalReceived(from, data) {
      for (const l of [...signalListeners]) l(from, data);
    },
    unreachableReceived(message) {
      for (const l of [...unreachableListeners]) l(message);
    },
  };
}
