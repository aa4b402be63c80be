/**
 * Peers as the UI sees them: `db.peers` (the list with each peer's state, last seen and ops exchanged, its
 * changes, and `connect` for a link made by the app) and the leader tab's dialer, which keeps a WebRTC link to
 * every peer of the relay's roster through the relay's signaling.
 *
 * ```
 *  leader tab, main thread                                  leader's worker
 *   dialer: one createPeerConnector per roster peer  ─signal─▶ sync client ─WS─▶ relay ─▶ the peer
 *     link open ─ MessagePort (transferred) ─────────────────▶ peer engine (createPeers) ─▶ engine
 *  every tab: db.peers.onChange ◀── watch {kind: 'peers'} ──── peer engine's list
 * ```
 *
 * Invariants:
 * 1. **The leader tab owns the links.** Only the tab whose worker runs the peer engine dials (`RTCPeerConnection`
 *    exists on the main thread only; each link's port goes to that worker). When this tab stops leading, or its
 *    worker is replaced, every link it holds is closed and, if it leads again, dialed afresh; a new leader tab dials
 *    its own, so a leader change re-establishes the links.
 * 2. **One side offers.** Of two peers, the smaller replica id initiates and redials with backoff; the other
 *    answers each new offer. Links established through the relay keep running when the relay goes away.
 * 3. **Lists follow the leader.** `onChange` receives the current list first, then each change, in every tab
 *    and across leader changes (like the sync status).
 */
import type { Rules } from '@loam/core';
import type { DeviceIdentity, PeerView, WatchEvent } from '@loam/db-worker';
import type { RosterPeer } from '@loam/sync';
import type { PeerConnector } from '@loam/sync/webrtc';
import type { Connection } from './connection';

export type { DeviceIdentity, PeerView } from '@loam/db-worker';
export type { PeerState, RosterPeer } from '@loam/sync';

/** The `peers` option of `openDatabase`. Needs `sync`: the relay certifies the device key peers check. */
export interface PeersOptions {
  /**
   * The relay's rules (its rules file, parsed): this device judges peers' transactions by them, offline, exactly as
   * the relay would. A peer whose certificate was issued under other rules is refused.
   */
  readonly rules: Rules;
  /** Dial every peer of the relay's roster through the relay's signaling (default true). */
  readonly dial?: boolean;
  /** ICE servers for the WebRTC links (default none: peers on one LAN need no STUN server). */
  readonly iceServers?: readonly RTCIceServer[];
  /** Interval of a link's keep-alives, ms (default 1 000); a link silent for 5× this is closed and redialed. */
  readonly keepAliveMs?: number;
}

/** `db.peers`: the devices this one syncs with directly. */
export interface PeersControls {
  /** The peers now (one entry per peer device, see `PeerView`); empty without `peers` options. */
  list(): Promise<PeerView[]>;
  /** `listener` receives the current list, then each new one (in every tab). Returns the unsubscribe function. */
  onChange(listener: (peers: PeerView[]) => void): () => void;
  /**
   * Runs the peer protocol over a link the app made: `port` is the worker's end of it (e.g. `link.port` of a
   * `createPeerLink` of `@loam/sync/webrtc`, signaled over the LAN). Only in the leader tab (`not_leader`
   * elsewhere); `peers_not_configured` without `peers` options.
   */
  connect(port: MessagePort): Promise<void>;
  /**
   * This device as peers check it: replica, public key, the certificate the relay signed, the relay's key and the
   * newest revocation list (all public), for a signaling layer the app runs, such as the desktop shell's LAN
   * signaling. Undefined until the relay certified the device (it signs in once). Leader tab only.
   */
  identity(): Promise<DeviceIdentity | undefined>;
  /**
   * Proves this device's key to a LAN signaling peer: signs `digest` (exactly 32 bytes, the hash of the
   * handshake's transcript) under a label no other signature of the key uses, so the caller cannot obtain a
   * transaction's signature this way (`lan_proof_invalid` for another size). Leader tab only.
   */
  signLanProof(digest: Uint8Array): Promise<Uint8Array>;
  /**
   * `listener` receives the relay's roster of this device's peers (their certificates and last announced LAN
   * addresses), the current one first, then each new one, in every tab: what a LAN signaling layer dials when
   * multicast finds nobody. Returns the unsubscribe function.
   */
  onRoster(listener: (peers: readonly RosterPeer[]) => void): () => void;
  /** Announces this device's LAN signaling addresses (`host:port`) to its peers' rosters, while the relay is reachable. */
  announce(addresses: readonly string[]): Promise<void>;
}

/** Builds `db.peers` over `connection`. */
export function createPeersApi(
  connection: Pick<Connection, 'subscribe' | 'request' | 'attachPeer' | 'peerIdentity' | 'signLanProof'>,
): PeersControls {
  const onChange = (listener: (peers: PeerView[]) => void) => {
    let last: string | undefined;
    return connection.subscribe({ kind: 'peers' }, (event: WatchEvent) => {
      if (event.kind !== 'peers') return;
      const text = JSON.stringify(event.peers);
      if (text === last) return;
      last = text;
      listener([...event.peers]);
    });
  };
  return {
    onChange,
    list: () =>
      new Promise((resolve) => {
        let stop: (() => void) | undefined;
        let done = false;
        stop = onChange((peers) => {
          done = true;
          stop?.();
          resolve(peers);
        });
        if (done) stop();
      }),
    connect: (port) => connection.attachPeer(port),
    identity: () => connection.peerIdentity(),
    signLanProof: (digest) => connection.signLanProof(digest),
    onRoster: (listener) =>
      connection.subscribe({ kind: 'peerSignaling' }, (event: WatchEvent) => {
        if (event.kind === 'roster') listener(event.peers);
      }),
    announce: async (addresses) => {
      await connection.request({ type: 'sync', op: { kind: 'announce', addresses: [...addresses] } });
    },
  };
}

/** The module `@loam/sync/webrtc`, loaded only by apps that peer. */
export type WebRtcModule = typeof import('@loam/sync/webrtc');

/** Starts the leader tab's dialer (invariants 1 and 2). Returns the function that stops it for good. */
export function startPeerDialer(
  connection: Pick<Connection, 'role' | 'subscribe' | 'request' | 'attachPeer' | 'onLeaderChange'>,
  webrtc: WebRtcModule,
  options: PeersOptions,
): () => void {
  let stopSession: (() => void) | undefined;
  const restart = () => {
    stopSession?.();
    stopSession = connection.role === 'leader' ? dialPeers(connection, webrtc, options) : undefined;
  };
  const stopWatching = connection.onLeaderChange(restart);
  restart();
  return () => {
    stopWatching();
    stopSession?.();
    stopSession = undefined;
  };
}

function dialPeers(
  connection: Pick<Connection, 'subscribe' | 'request' | 'attachPeer'>,
  webrtc: WebRtcModule,
  options: PeersOptions,
): () => void {
  const connectors = new Map<string, PeerConnector>();
  const keepAliveMs = options.keepAliveMs ?? 1_000;
  let self: string | undefined;
  let stopped = false;

  const ensure = (peer: string) => {
    if (stopped || self === undefined || peer === self || connectors.has(peer)) return;
    connectors.set(
      peer,
      webrtc.createPeerConnector({
        initiator: self < peer,
        sendSignal: (data) => {
          connection.request({ type: 'sync', op: { kind: 'signal', to: peer, data } }).catch(() => undefined);
        },
        onLink: (link) => {
          connection.attachPeer(link.port).catch((error: unknown) => {
            link.close(1011, `the database worker did not take the link: ${(error as Error).message}`);
          });
        },
        link: {
          SimplePeer: webrtc.SimplePeer,
          keepAliveMs,
          deadAfterMs: keepAliveMs * 5,
          ...(options.iceServers ? { iceServers: options.iceServers } : {}),
        },
      }),
    );
  };

  const unsubscribe = connection.subscribe({ kind: 'peerSignaling' }, (event: WatchEvent) => {
    if (event.kind === 'roster') {
      self = event.self;
      for (const peer of event.peers) if (peer.online) ensure(peer.replica);
    } else if (event.kind === 'signal') {
      ensure(event.from);
      connectors.get(event.from)?.signal(event.data);
    }
  });
  return () => {
    stopped = true;
    unsubscribe();
    for (const connector of connectors.values()) connector.close();
    connectors.clear();
  };
}
