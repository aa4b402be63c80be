/**
 * The terminal's LAN peering in the main process: serves LAN signaling, advertises and browses by mDNS, falls
 * back to the roster's last known addresses, pairs by a typed address, and keeps one authenticated signaling
 * session per peer.
 *
 * Invariants:
 * 1. **One dialer per pair.** For peers found by mDNS or the roster, only the terminal with the smaller replica id
 *    dials, so two terminals never open two sessions to each other at once; a manual pairing dials regardless.
 *    A new session with a replica replaces the older one.
 * 2. **The roster is the fallback.** When a roster arrives and every `rosterIntervalMs` after, each roster peer
 *    without a session is dialed at its addresses, whether mDNS works or not (multicast may be blocked on a shop's
 *    network).
 * 3. **Failures back off per peer and per way it was found** (doubling from 1 s to 30 s; a roster entry with stale
 *    addresses does not hold back a peer mDNS just found); a success resets it. A peer found by mDNS is dialed
 *    again with the roster, every `rosterIntervalMs`, until it has a session.
 * 4. **Every session is authenticated** (`lan-signaling.ts`): no unverified peer ever reaches `onSession`.
 */
import { DesktopErrorCode, LanPeerError } from '../../errors';
import type { DeviceProof, PeerVerifier } from './device-proof';
import { type Discovery, type FoundPeer, startDiscovery } from './discovery';
import { dialLanPeer, type LanSession, startLanSignalingServer } from './lan-signaling';

/**
 * A roster entry as the LAN side needs it: the peer's replica, its last known signaling addresses and, when the
 * roster carried its certificate, the fingerprint of the key that certificate names (a peer answering there with
 * another key is refused).
 */
export interface RosterAddresses {
  readonly replica: string;
  readonly addresses: readonly string[];
  readonly fingerprint?: string;
}

/** Options of {@link startLanPeers}. */
export interface LanPeersOptions {
  readonly proof: DeviceProof;
  readonly verifier: PeerVerifier;
  /** Hash of the store this terminal serves (peers of other stores are ignored). */
  readonly storeHash: string;
  /** Advertise and browse by mDNS (default true). */
  readonly mdns?: boolean;
  /** The interface address mDNS multicasts on (default every interface). */
  readonly mdnsInterface?: string;
  /** Address and port of the LAN signaling server (default all interfaces, any free port). */
  readonly host?: string;
  readonly port?: number;
  /** Interval of roster dialing, ms (default 1 000). */
  readonly rosterIntervalMs?: number;
}

/** A peer this terminal refused, or that refused this terminal, in a LAN handshake (no SDP crossed). */
export interface LanRefusal {
  /** Where: the address dialed, or the one an inbound peer came from. */
  readonly address: string;
  /** The replica it was dialed as, or claimed to be. */
  readonly replica: string;
  readonly via: FoundPeer['via'] | 'inbound';
  readonly reason: string;
}

/** A running LAN peering. */
export interface LanPeers {
  /** The LAN signaling port (advertised by mDNS, announced to the relay for the roster). */
  readonly port: number;
  /** Replaces the roster (from the relay while online; kept by the app for when it is not). */
  setRoster(peers: readonly RosterAddresses[]): void;
  /**
   * Pairs with the terminal at `address` (`host:port`). Rejects with `lan_address_invalid`,
   * `lan_peer_unreachable` or `lan_peer_refused`.
   */
  pair(address: string): Promise<LanSession>;
  /** The authenticated sessions, one per peer. */
  sessions(): LanSession[];
  /** Called with each new session and how its peer was found. Returns the unsubscribe function. */
  onSession(listener: (session: LanSession, via: FoundPeer['via'] | 'inbound') => void): () => void;
  /** Called with each refused handshake, either way (a dial refused again after a backoff is reported again). */
  onRefused(listener: (refusal: LanRefusal) => void): () => void;
  stop(): Promise<void>;
}

const ADDRESS_RE = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]{1,253})):(\d{1,5})$/;

/** Checks a `host:port` address; throws `lan_address_invalid`. */
export function parseLanAddress(address: unknown): string {
  const m = typeof address === 'string' ? ADDRESS_RE.exec(address.trim()) : null;
  const port = m ? Number(m[3]) : 0;
  if (!m || port < 1 || port > 65535)
    throw new LanPeerError(
      DesktopErrorCode.lanAddressInvalid,
      `${JSON.stringify(address)} is not an address: write host:port, e.g. 192.168.1.20:47800`,
    );
  return m[1] ? `[${m[1]}]:${port}` : `${m[2]}:${port}`;
}

/** Starts the signaling server, then mDNS (unless off) and the roster loop. */
export async function startLanPeers(options: LanPeersOptions): Promise<LanPeers> {
  const self = options.proof.claim.replica;
  const sessions = new Map<string, LanSession>();
  const listeners = new Set<(session: LanSession, via: FoundPeer['via'] | 'inbound') => void>();
  const dialing = new Set<string>();
  const refusalListeners = new Set<(refusal: LanRefusal) => void>();
  const refused = (refusal: LanRefusal) => {
    for (const l of [...refusalListeners]) l(refusal);
  };
  const retryAt = new Map<string, { at: number; delay: number }>();
  let roster: readonly RosterAddresses[] = [];
  /** Peers mDNS reported (their last advertisement), dialed again with the roster until a session exists. */
  const found = new Map<string, FoundPeer>();
  let stopped = false;

  const adopt = (session: LanSession, via: FoundPeer['via'] | 'inbound') => {
    if (stopped) return session.close();
    const replica = session.peer.replica;
    const previous = sessions.get(replica);
    sessions.set(replica, session);
    previous?.close();
    session.onClose(() => {
      if (sessions.get(replica) === session) sessions.delete(replica);
    });
    for (const l of [...listeners]) l(session, via);
  };

  const server = await startLanSignalingServer({
    proof: options.proof,
    verifier: options.verifier,
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
    onSession: (session) => adopt(session, 'inbound'),
    onRefused: (r) => refused({ ...r, via: 'inbound' }),
  });

  const dial = async (peer: FoundPeer) => {
    if (stopped || peer.replica === self || sessions.has(peer.replica) || dialing.has(peer.replica)) return;
    if (peer.via !== 'manual' && !(self < peer.replica)) return;
    if (peer.addresses.length === 0) return;
    const key = `${peer.via} ${peer.replica}`;
    const backoff = retryAt.get(key);
    if (backoff && backoff.at > Date.now()) return;
    dialing.add(peer.replica);
    try {
      for (const address of peer.addresses) {
        try {
          const session = await dialLanPeer({
            address,
            proof: options.proof,
            verifier: options.verifier,
            ...(peer.fingerprint !== undefined ? { expectFingerprint: peer.fingerprint } : {}),
          });
          retryAt.delete(key);
          adopt(session, peer.via);
          return;
        } catch (error) {
          if ((error as LanPeerError).code === DesktopErrorCode.lanPeerRefused)
            refused({ address, replica: peer.replica, via: peer.via, reason: (error as Error).message });
        }
      }
      const delay = Math.min(30_000, (backoff?.delay ?? 500) * 2);
      retryAt.set(key, { at: Date.now() + delay, delay });
    } finally {
      dialing.delete(peer.replica);
    }
  };

  let discovery: Discovery | undefined;
  if (options.mdns !== false) {
    discovery = startDiscovery({
      replica: self,
      storeHash: options.storeHash,
      fingerprint: options.proof.fingerprint,
      port: server.port,
      ...(options.mdnsInterface !== undefined ? { interface: options.mdnsInterface } : {}),
    });
    discovery.onFound((peer) => {
      found.set(peer.replica, peer);
      void dial(peer);
    });
  }
  const dialRoster = () => {
    for (const p of found.values()) void dial(p);
    for (const p of roster)
      void dial({
        replica: p.replica,
        addresses: p.addresses,
        via: 'roster',
        ...(p.fingerprint !== undefined ? { fingerprint: p.fingerprint } : {}),
      });
  };
  const rosterTimer = setInterval(dialRoster, options.rosterIntervalMs ?? 1_000);

  return {
    port: server.port,
    setRoster(peers) {
      roster = peers.map((p) => ({ ...p, addresses: p.addresses.flatMap(validAddress) }));
      dialRoster();
    },
    async pair(address) {
      const checked = parseLanAddress(address);
      const session = await dialLanPeer({
        address: checked,
        proof: options.proof,
        verifier: options.verifier,
      });
      adopt(session, 'manual');
      return session;
    },
    sessions: () => [...sessions.values()],
    onSession(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onRefused(listener) {
      refusalListeners.add(listener);
      return () => refusalListeners.delete(listener);
    },
    async stop() {
      stopped = true;
      clearInterval(rosterTimer);
      for (const s of sessions.values()) s.close();
      await discovery?.stop();
      await server.close();
    },
  };
}

function validAddress(address: string): string[] {
  try {
    return [parseLanAddress(address)];
  } catch {
    return [];
  }
}
