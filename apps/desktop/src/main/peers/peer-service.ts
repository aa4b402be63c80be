/**
 * What the peers IPC channels do in main: one {@link LanPeers} for the replica and store the app names, its
 * sessions reported to the renderer as {@link LanPeerEvent}s, and signals carried both ways. The renderer owns the
 * WebRTC links (`@loam/sync/webrtc`); main only finds peers and carries their SDP/ICE.
 *
 * Invariants:
 * 1. **One peering at a time.** `start` with the same replica and store returns the running one; with others it
 *    stops it first (its sessions close and are reported `disconnected`).
 * 2. **Events follow sessions**: `connected` once per session, `disconnected` when it closes, `signal` for each
 *    message it carries.
 */
import { DesktopErrorCode, LanPeerError } from '../../errors';
import type {
  LanPeerEvent,
  LanPeerInfo,
  LanPeersInfo,
  PeersStartOptions,
  RosterAddressesInput,
} from '../../shared/contract';
import { createEd25519DeviceProof, createKeyPeerVerifier, type PeerVerifier } from './device-proof';
import { type LanPeers, type LanPeersOptions, startLanPeers } from './lan-peers';
import type { LanSession } from './lan-signaling';

/** Options of {@link createPeerService}. */
export interface PeerServiceOptions {
  /** Sends an event to the renderer. */
  readonly emit: (event: LanPeerEvent) => void;
  /** The verifier of peers' proofs (default: any Ed25519 key; certificates will narrow it). */
  readonly verifier?: PeerVerifier;
  /** Options of the LAN peering besides identity (mDNS on/off, port, roster interval). */
  readonly lan?: Omit<LanPeersOptions, 'proof' | 'verifier' | 'storeHash'>;
}

/** The handlers of the peers channels. */
export interface PeerService {
  start(options: PeersStartOptions): Promise<LanPeersInfo>;
  setRoster(peers: readonly RosterAddressesInput[]): void;
  pair(address: string): Promise<LanPeerInfo>;
  signal(to: string, data: string): boolean;
  list(): LanPeerInfo[];
  stop(): Promise<void>;
}

const infoOf = (s: LanSession): LanPeerInfo => ({ replica: s.peer.replica, fingerprint: s.peer.fingerprint });

/** Creates the service; nothing runs until `start`. */
export function createPeerService(options: PeerServiceOptions): PeerService {
  let running: { key: string; peers: LanPeers; info: LanPeersInfo } | undefined;
  let starting: Promise<LanPeersInfo> | undefined;
  let roster: readonly RosterAddressesInput[] = [];

  const start = async (o: PeersStartOptions): Promise<LanPeersInfo> => {
    const key = JSON.stringify([o.replica, o.storeHash]);
    if (running?.key === key) return running.info;
    await running?.peers.stop();
    running = undefined;
    const proof = await createEd25519DeviceProof(o.replica);
    const peers = await startLanPeers({
      ...options.lan,
      proof,
      verifier: options.verifier ?? createKeyPeerVerifier(),
      storeHash: o.storeHash,
    });
    peers.setRoster(roster);
    peers.onSession((session, via) => {
      options.emit({ t: 'connected', ...infoOf(session), via });
      session.onSignal((data) => options.emit({ t: 'signal', from: session.peer.replica, data }));
      session.onClose(() => options.emit({ t: 'disconnected', replica: session.peer.replica }));
    });
    running = { key, peers, info: { port: peers.port, fingerprint: proof.fingerprint } };
    return running.info;
  };

  return {
    start(o) {
      const next = (starting ?? Promise.resolve()).catch(() => undefined).then(() => start(o));
      starting = next;
      return next;
    },
    setRoster(peers) {
      roster = peers;
      running?.peers.setRoster(peers);
    },
    async pair(address) {
      if (!running)
        throw new LanPeerError(
          DesktopErrorCode.lanPeersNotStarted,
          'LAN peering is not started: call peers.start first',
        );
      return infoOf(await running.peers.pair(address));
    },
    signal(to, data) {
      const session = running?.peers.sessions().find((s) => s.peer.replica === to);
      session?.send(data);
      return session !== undefined;
    },
    list: () => running?.peers.sessions().map(infoOf) ?? [],
    async stop() {
      await running?.peers.stop();
      running = undefined;
    },
  };
}
