/**
 * What the main process and the preload agree on: the IPC channels, what they answer, and the API the
 * renderer (the POS app) sees as `window.loamDesktop`. Imports nothing, so both bundles can include it.
 */

/** The IPC channels the main process serves; any other channel is refused. */
export const IpcChannel = {
  info: 'loam-desktop:info',
  terminalConfig: 'loam-desktop:terminal-config',
  peersStart: 'loam-desktop:peers-start',
  peersRoster: 'loam-desktop:peers-roster',
  peersPair: 'loam-desktop:peers-pair',
  peersSignal: 'loam-desktop:peers-signal',
  peersList: 'loam-desktop:peers-list',
  peersProof: 'loam-desktop:peers-proof',
} as const;
export type IpcChannel = (typeof IpcChannel)[keyof typeof IpcChannel];

/** What `loamDesktop.info()` answers. */
export interface DesktopInfo {
  /** The shell's version (the packaged app's version). */
  readonly version: string;
  /** `process.platform` of the terminal, e.g. `linux`, `win32`. */
  readonly platform: string;
  /** Whether the window runs in kiosk (locked fullscreen) mode. */
  readonly kiosk: boolean;
}

/** What `loamDesktop.getTerminalConfig()` answers: the terminal's settings, read by main from user data. */
export interface TerminalConfig {
  /** The relay's WebSocket URL, e.g. `ws://127.0.0.1:8787`; the only remote address the app may connect to. */
  readonly relayUrl: string;
  /** This terminal's name, e.g. `till-1`; shown by the app and used to tell terminals apart. */
  readonly terminalId: string;
  /**
   * The shop's sign-in endpoint (http or https) that issues this terminal's token: the app calls
   * `GET <sessionUrl>?terminal=<terminalId>` and expects the POS session JSON (token, expiry, sync URL, store,
   * cashier). Absent: the app uses the `/dev/session` endpoint of the server it was loaded from (development).
   */
  readonly sessionUrl?: string;
  /**
   * The relay's certificate key (32 bytes, base64url, as the relay's `GET /v1/devices/relay-key` answers). When set,
   * main peers on the LAN only with an app identity certified by this key: a renderer that names another relay is
   * refused (`lan_identity_invalid`). Absent: main trusts the relay key the app brings with its certificate.
   */
  readonly relayKey?: string;
}

/**
 * How an IPC answer travels: Electron keeps only the message of a thrown error, so main sends refusals as
 * values and the preload rebuilds an error carrying the same `code`.
 */
export type IpcResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** The channel on which main sends the renderer {@link LanPeerEvent}s. */
export const PEERS_EVENT_CHANNEL = 'loam-desktop:peers-event';

/**
 * This terminal's device identity as the app's database holds it (`db.peers.identity()` of `@loam/client`), every
 * byte string in base64url. All of it is public: main presents the certificate to peers and checks theirs against
 * the relay key and revocation list given here; the private key never leaves the renderer's worker.
 */
export interface PeersIdentity {
  /** The device's Ed25519 public key (32 bytes). */
  readonly publicKey: string;
  /** The device certificate's signed bytes. */
  readonly certificate: string;
  /** The relay's signature of them (64 bytes). */
  readonly certificateSignature: string;
  /** The relay's Ed25519 public key (32 bytes). */
  readonly relayKey: string;
  /** The newest signed revocation list the device holds. */
  readonly revocations?: { readonly list: string; readonly signature: string };
}

/** What the app tells main when it starts LAN peering. */
export interface PeersStartOptions {
  /** The replica id of the app's database. */
  readonly replica: string;
  /** A hash of the store the terminal serves: only terminals with the same hash peer. */
  readonly storeHash: string;
  /** The device's certificate and what it trusts (a renewed certificate or list: call `start` again). */
  readonly identity: PeersIdentity;
  /**
   * The relay's `peers.sameClaims` (e.g. `['storeId']`): main admits only peers whose certificate's claims are equal
   * to this device's on each (`mayPeer` of `@loam/core`), as the relay does for its signaling. Absent: any terminal
   * certified by the same relay.
   */
  readonly sameClaims?: readonly string[];
}

/**
 * Signs a LAN signaling digest with the device key (`db.peers.signLanProof` of `@loam/client`): the preload hands
 * it exactly 32 bytes and expects a 64-byte Ed25519 signature.
 */
export type LanProver = (digest: Uint8Array) => Promise<Uint8Array>;

/** LAN peering as started: its signaling port and addresses (to announce to the relay), and its key fingerprint. */
export interface LanPeersInfo {
  readonly port: number;
  /** `host:port` of the LAN signaling server on each of this machine's non-loopback interfaces. */
  readonly addresses: readonly string[];
  readonly fingerprint: string;
}

/** A peer terminal with an authenticated LAN signaling session. */
export interface LanPeerInfo {
  readonly replica: string;
  readonly fingerprint: string;
  /** The user its certificate names. */
  readonly user: string;
}

/**
 * A peer's last known LAN signaling addresses (`host:port`), from the relay's roster, with its device certificate
 * (base64url bytes and signature) when the roster carries it: main then dials it only if the certificate checks out
 * against the relay key, and refuses whoever answers at those addresses with another key.
 */
export interface RosterAddressesInput {
  readonly replica: string;
  readonly addresses: readonly string[];
  readonly certificate?: string;
  readonly certificateSignature?: string;
}

/** What main tells the renderer about LAN peers. */
export type LanPeerEvent =
  | {
      readonly t: 'connected';
      readonly replica: string;
      readonly fingerprint: string;
      readonly user: string;
      readonly via: 'mdns' | 'roster' | 'manual' | 'inbound';
    }
  | { readonly t: 'disconnected'; readonly replica: string }
  /**
   * A LAN handshake refused, either way, before any SDP: `address` dialed (or an inbound peer's), the replica it
   * was dialed as or claimed, and why (e.g. a certificate of another relay, expired, or a key other than the one the
   * roster's certificate names).
   */
  | {
      readonly t: 'refused';
      readonly address: string;
      readonly replica: string;
      readonly via: 'mdns' | 'roster' | 'manual' | 'inbound';
      readonly reason: string;
    }
  /** A signaling message (SDP or ICE) from a peer, for the page's WebRTC link to it. */
  | { readonly t: 'signal'; readonly from: string; readonly data: string }
  /**
   * Main asks for a proof of the device key over `digest` (32 bytes, base64url) for a LAN handshake; the preload
   * answers it with the app's {@link LanProver} and never hands the event to the app.
   */
  | { readonly t: 'prove'; readonly id: number; readonly digest: string };

/** LAN discovery and signaling, run by main; the renderer holds the WebRTC links. */
export interface LoamDesktopPeers {
  /**
   * Starts (or restarts, for another replica or store) advertising, browsing and the LAN signaling server; for the
   * same replica and store, takes the new identity (a renewed certificate, a newer revocation list) in place.
   * `prove` signs the handshakes' digests with the device key. Rejects with `lan_identity_invalid` when the
   * certificate is not this replica's, for this key, signed by the relay key.
   */
  start(options: PeersStartOptions, prove: LanProver): Promise<LanPeersInfo>;
  /** Replaces the roster main dials when mDNS finds nobody. */
  setRoster(peers: readonly RosterAddressesInput[]): Promise<void>;
  /** Pairs with the terminal at `host:port`; rejects with `lan_address_invalid`, `lan_peer_unreachable`, `lan_peer_refused`. */
  pair(address: string): Promise<LanPeerInfo>;
  /** Sends a signaling message to a connected peer; false when there is no session with it. */
  signal(to: string, data: string): Promise<boolean>;
  /** The peers with a session now. */
  list(): Promise<LanPeerInfo[]>;
  /** Called with each event from main. Returns the unsubscribe function. */
  onEvent(listener: (event: LanPeerEvent) => void): () => void;
}

/** The API exposed to the renderer as `window.loamDesktop`. Present only inside the desktop shell. */
export interface LoamDesktopApi {
  /** The shell's version, platform and kiosk mode. */
  info(): Promise<DesktopInfo>;
  /** The terminal's relay URL and id. */
  getTerminalConfig(): Promise<TerminalConfig>;
  /** LAN discovery and signaling for WebRTC links between terminals. */
  readonly peers: LoamDesktopPeers;
}

/** The global name the preload exposes the API under. */
export const DESKTOP_API_NAME = 'loamDesktop';
