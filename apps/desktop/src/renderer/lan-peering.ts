/**
 * The renderer's side of LAN peering in the desktop shell: the app's database (`@loam/client`) on one side, the
 * shell's `window.loamDesktop.peers` on the other. Main finds peers and carries their SDP/ICE; this module keeps
 * a WebRTC link to each and hands every open link to the database (`db.peers.connect(port)`), whose peer engine
 * syncs over it exactly as over a relay-signaled link.
 *
 * ```
 *  renderer (leader tab)                                    main
 *   db.peers.identity() ── certificate, relay key ─────────▶ peers.start  (checks it; presents it on the LAN)
 *   db.peers.signLanProof ◀── prove {digest} ── preload ◀── each LAN handshake
 *   connector per peer ◀── connected / signal events ─────── LAN signaling sessions (mDNS, roster, pairing)
 *     link open ── port ──▶ db.peers.connect(port) ──▶ the worker's peer engine
 *   db.peers.onRoster (relay) ── peers, certificates ──────▶ peers.setRoster  (dialed when multicast is blocked)
 *   db.peers.announce ◀── main's LAN addresses                 (so the peers' rosters hold them)
 * ```
 *
 * Invariants:
 * 1. **Certified or nothing.** Peering starts only once the relay certified this device (`db.peers.identity()`);
 *    before that `start` rejects with `lan_not_certified` (sign in to the relay once).
 * 2. **One link per peer, one side offers** (the smaller replica id), as with relay signaling.
 * 3. **Main outlives the renderer.** After a reload the LAN sessions are still there: the new page asks main for
 *    them (`list`), tells each peer it holds no link to it (a `relink` message over the session, before any SDP of
 *    its own), and links to each; a peer told so drops whatever link it still believes open and starts afresh, as
 *    does a connector without an open link when its peer's session (re)appears. So a reloaded till re-links at
 *    once, without waiting for a dead link to be noticed, a backoff, or a relay.
 * 4. **The identity follows the database**: it is read again every `refreshMs` and handed to main when it changed
 *    (a renewed certificate, a newer revocation list).
 * 5. **The roster only grows stale, never empty.** The relay's roster (with each peer's certificate) goes to main
 *    whenever it arrives; an empty one (a page reloaded with no relay knows none yet) is not passed on, so main
 *    keeps dialing the last one it had.
 */
import type { DeviceIdentity, PeersControls } from '@loam/client';
import type { PeerConnector } from '@loam/sync/webrtc';
import { LanNotCertifiedError } from '../errors';
import type { LoamDesktopPeers, PeersIdentity } from '../shared/contract';

export { LanNotCertifiedError } from '../errors';
export type { LoamDesktopPeers } from '../shared/contract';

/** The part of `@loam/sync/webrtc` this module uses. */
export interface WebRtc {
  readonly createPeerConnector: typeof import('@loam/sync/webrtc').createPeerConnector;
  readonly SimplePeer: typeof import('@loam/sync/webrtc').SimplePeer;
}

/** Options of {@link startLanPeering}. */
export interface LanPeeringOptions {
  /** `window.loamDesktop.peers`. */
  readonly desktop: LoamDesktopPeers;
  /** The app's database's `peers` (`db.peers`), opened with `peers` options. */
  readonly db: Pick<PeersControls, 'identity' | 'signLanProof' | 'connect' | 'onRoster' | 'announce'>;
  readonly webrtc: WebRtc;
  /** A hash of the store the terminal serves (terminals of other stores are not dialed). */
  readonly storeHash: string;
  /** The relay's `peers.sameClaims`: main then admits only peers with the same values of these claims. */
  readonly sameClaims?: readonly string[];
  /** Interval of a link's keep-alives, ms (default 1 000); a link silent for 5× this is closed and redialed. */
  readonly keepAliveMs?: number;
  /** Interval of re-reading the identity, ms (default 60 000). */
  readonly refreshMs?: number;
}

/** A running LAN peering. */
export interface LanPeering {
  /** The LAN signaling port main listens on (to announce to the relay for its roster). */
  readonly port: number;
  /** Stops linking (main's LAN sessions stay until the app starts another peering). */
  stop(): void;
}

/** What a page that (re)started sends over a surviving LAN session: it holds no link to the peer (invariant 3). */
const RELINK = '{"loam":"relink"}';

const b64 = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

/** The identity as main takes it (base64url). */
export function toPeersIdentity(identity: DeviceIdentity): PeersIdentity {
  return {
    publicKey: b64(identity.publicKey),
    certificate: b64(identity.certificate.bytes),
    certificateSignature: b64(identity.certificate.signature),
    relayKey: b64(identity.relayKey),
    ...(identity.revocations
      ? {
          revocations: {
            list: b64(identity.revocations.list),
            signature: b64(identity.revocations.signature),
          },
        }
      : {}),
  };
}

/** Starts LAN peering (see the module documentation). */
export async function startLanPeering(options: LanPeeringOptions): Promise<LanPeering> {
  const { desktop, db, webrtc } = options;
  const keepAliveMs = options.keepAliveMs ?? 1_000;
  const first = await db.identity();
  if (!first) throw new LanNotCertifiedError();
  const self = first.replica;
  const prove = (digest: Uint8Array) => db.signLanProof(digest);
  let current = toPeersIdentity(first);
  const startOptions = (identity: PeersIdentity) => ({
    replica: self,
    storeHash: options.storeHash,
    identity,
    ...(options.sameClaims ? { sameClaims: [...options.sameClaims] } : {}),
  });
  const connectors = new Map<string, PeerConnector>();
  let stopped = false;

  /** `keep`: only if there is none; `fresh`: also replace one without an open link; `force`: replace any. */
  const link = (peer: string, mode: 'keep' | 'fresh' | 'force') => {
    if (stopped || peer === self) return;
    const existing = connectors.get(peer);
    if (existing && mode === 'keep') return;
    if (existing && mode === 'fresh' && existing.current()?.state() === 'open') return;
    existing?.close();
    connectors.set(
      peer,
      webrtc.createPeerConnector({
        initiator: self < peer,
        sendSignal: (data) => void desktop.signal(peer, data).catch(() => undefined),
        onLink: (open) => {
          db.connect(open.port).catch((error: unknown) => {
            open.close(1011, `the database did not take the link: ${(error as Error).message}`);
          });
        },
        link: { SimplePeer: webrtc.SimplePeer, keepAliveMs, deadAfterMs: keepAliveMs * 5 },
      }),
    );
  };

  const unsubscribe = desktop.onEvent((event) => {
    if (event.t === 'connected') link(event.replica, 'fresh');
    else if (event.t === 'signal' && event.data === RELINK) link(event.from, 'force');
    else if (event.t === 'signal') {
      link(event.from, 'keep');
      connectors.get(event.from)?.signal(event.data);
    }
  });
  let info: { port: number; addresses: readonly string[] };
  try {
    info = await desktop.start(startOptions(current), prove);
    for (const peer of await desktop.list()) {
      if (connectors.has(peer.replica)) continue;
      await desktop.signal(peer.replica, RELINK);
      link(peer.replica, 'keep');
    }
  } catch (error) {
    unsubscribe();
    throw error;
  }

  void db.announce(info.addresses).catch(() => undefined);
  const stopRoster = db.onRoster((peers) => {
    if (stopped || peers.length === 0) return;
    const roster = peers.slice(0, 256).map((p) => ({
      replica: p.replica,
      addresses: p.addresses.slice(0, 16),
      ...(p.certificate && p.certificateSig
        ? { certificate: b64(p.certificate), certificateSignature: b64(p.certificateSig) }
        : {}),
    }));
    void desktop.setRoster(roster).catch(() => undefined);
  });

  const refresh = setInterval(() => {
    void db
      .identity()
      .then(async (identity) => {
        if (!identity || stopped) return;
        const next = toPeersIdentity(identity);
        if (JSON.stringify(next) === JSON.stringify(current)) return;
        current = next;
        await desktop.start(startOptions(next), prove);
      })
      .catch(() => undefined);
  }, options.refreshMs ?? 60_000);

  return {
    port: info.port,
    stop() {
      stopped = true;
      clearInterval(refresh);
      unsubscribe();
      stopRoster();
      for (const connector of connectors.values()) connector.close();
      connectors.clear();
    },
  };
}

/**
 * The `storeHash` terminals of one store share (advertised by mDNS, so the store id itself is not): base64url of the
 * first 16 bytes of SHA-256 of `loam-store:<storeId>`.
 */
export async function storeHashOf(storeId: string | number): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`loam-store:${storeId}`)),
  );
  return b64(digest.subarray(0, 16));
}

/**
 * {@link startLanPeering} as an app runs it at boot: when the device is not certified yet (a till that never
 * reached its relay), tries again every `retryMs` (default 5 000) until it is; other failures are reported to
 * `onError` and retried the same way. Returns the function that stops it for good.
 */
export function keepLanPeering(
  options: LanPeeringOptions & {
    readonly retryMs?: number;
    readonly onError?: (error: unknown) => void;
  },
): () => void {
  let peering: LanPeering | undefined;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const attempt = () => {
    timer = undefined;
    startLanPeering(options).then(
      (started) => {
        if (stopped) started.stop();
        else peering = started;
      },
      (error: unknown) => {
        if (stopped) return;
        if (!(error instanceof LanNotCertifiedError)) options.onError?.(error);
        timer = setTimeout(attempt, options.retryMs ?? 5_000);
      },
    );
  };
  attempt();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    peering?.stop();
  };
}
