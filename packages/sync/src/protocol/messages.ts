/**
 * The wire protocol between a replica and the relay server (and, later, between peers): message types.
 *
 * Every frame is one message: a version byte (`PROTOCOL_VERSION`) then a MessagePack map with a `t` (type) field.
 * `decodeMessage` is total (typed `ProtocolError` for anything malformed, truncated, oversized, of an unknown type
 * or version) and bounded by the frame size.
 *
 * Session, in order:
 * ```
 * client                                    server
 *  hello {replica, token, cursor, subs, device?, snapshots?} ─▶
 *                                       ◀─  welcome {server, cursor, reset, replicaSeq}  or  error {code, fatal: true}
 *                                       ◀─  permissions {rules, claims}          the rules of this token (again when
 *                                                                                a new token changes the claims)
 *                                       ◀─  certificate {cert, sig, relayKey}    when hello carried a device key
 *                                       ◀─  revocations {list, sig}              signed revocation list (peers)
 *  push {batch, ops} ─▶                                     (bounded batches; any number in flight)
 *                                       ◀─  ack {batch, accepted, refused, corrections?}   only once durable
 *  forward {batch, txs} ─▶                                  (signed transactions learned from peers)
 *                                       ◀─  forwarded {batch, txs, corrections?} only once durable
 *                                       ◀─  docs {cursor, docs, removed, sub?, progress?}   (downloads)
 *                                       ◀─  synced {sub, cursor}                 a subscription's first full set sent
 *  subscribe {sub, query} / unsubscribe {sub} / auth {token} / ping ─▶
 *                                       ◀─  pong / error {code, message, fatal}
 *  announce {addresses} ─▶                                  (peers: this device's LAN signaling addresses)
 *                                       ◀─  roster {peers}                       who this device may peer with
 *  signal {to, data} ─▶                 ◀─  signal {from, data}                  SDP/ICE between two peers
 * ```
 *
 * Signaling: the relay forwards `signal` between two welcomed sessions that its `peers` rules let peer (same
 * group, see `peerGroup` in `@loam/core`); otherwise it answers a non-fatal `peer_unreachable` and forwards
 * nothing. `roster` lists the peers of the device's group the relay knows, online or not, with their last
 * announced addresses; it is sent after `welcome` and again whenever one of them comes, goes or announces.
 *
 * Downloads carry document *snapshots* (the merge state of a document, with the fields the user may not read
 * removed by the server; in the newest format the client announced in `hello.snapshots`, format 1 when none), never
 * raw ops: a snapshot merges into local state by the same rules as ops
 * (`mergeDocState`), and it cannot leak a field the user may not read. `mode: 'replace'` means: replace the local
 * state of that document with this one, then re-apply the local ops not yet acknowledged (used for compensating
 * writes, in `ack.corrections` and `forwarded.corrections`, permission changes and client resets). `removed` lists documents that left every subscription's view:
 * the client drops them from the device (removal, not deletion).
 *
 * Cursors: the server's documents carry a change counter; `cursor` is the largest the client has received a
 * complete `docs` message for. A client stores it after applying the message and sends it in `hello` to resume.
 * When its cursor is older than the server's history horizon, `welcome.reset` is true and the server resends every
 * subscription in `replace` mode; the client's unacknowledged writes are re-applied on top, never thrown away.
 *
 * Op ids: the relay keeps, with each op id, a hash of the op's content, and the highest sequence number it holds
 * of each replica (`welcome.replicaSeq`). A replica whose next sequence number is not above it was restored from
 * an older copy of its database: it moves past it, and an op pushed with an id the relay holds with other content
 * is answered `op_id_reused` (never acknowledged); the client gives it a new id and pushes it again.
 *
 * Every code (`error.code`, `ack.refused[].code`) is listed in `codes.ts`.
 */
import type { Permissions, ReplicaId } from '@loam/core';

/** The protocol version this build speaks. */
export const PROTOCOL_VERSION = 1;

/** A subscription: a collection and a filter (the core query AST, without placeholders). */
export interface SubscriptionQuery {
  readonly collection: string;
  readonly filter?: import('@loam/core').Filter;
}

/** A subscription as the client names it. `id` is chosen by the client and unique on that client. */
export interface Subscription {
  readonly id: string;
  readonly query: SubscriptionQuery;
}

/** One document's merge state as sent down (see `encodeDocSnapshot` in @loam/core). */
export interface DocSnapshotFrame {
  readonly collection: string;
  readonly id: string;
  /** `encodeDocSnapshot(redacted state)`. */
  readonly state: Uint8Array;
  readonly mode: 'merge' | 'replace';
}

/** Why a pushed op was refused; the document's authoritative state comes in the same `ack` (`corrections`). */
export interface Refusal {
  readonly op: string;
  readonly collection: string;
  readonly doc: string;
  /** Stable code, one of `RefusalCode` (`codes.ts`): `field_denied`, `row_denied`..., or `op_id_reused`. */
  readonly code: string;
  readonly reason: string;
}

/** Largest `data` of a `signal` frame, in characters (an SDP with its candidates fits many times over). */
export const MAX_SIGNAL_CHARS = 16_384;
/** Largest number of addresses in `announce` (and in a roster entry). */
export const MAX_PEER_ADDRESSES = 16;

/** A peer of the device's group, as the relay knows it. */
export interface RosterPeer {
  readonly replica: ReplicaId;
  readonly user: string;
  /** Whether it has a session on this relay now (signaling can reach it). */
  readonly online: boolean;
  /** Its last announced LAN signaling addresses, `host:port`. */
  readonly addresses: readonly string[];
  /** When the relay last heard of it (Unix ms). */
  readonly lastSeen: number;
  /**
   * Its device certificate's signed bytes (as in the `certificate` frame), once the relay issued it one; peers check
   * it against the relay key before they dial (the desktop shell pins the key it names).
   */
  readonly certificate?: Uint8Array;
  /** The relay's signature of `certificate` (64 bytes); present exactly when `certificate` is. */
  readonly certificateSig?: Uint8Array;
}

/**
 * The relay's authoritative state of documents a device holds writes of that the relay refused (`replace` mode;
 * `removed` when the device may not hold them), in `ack` and `forwarded`.
 */
export interface Corrections {
  readonly docs: readonly DocSnapshotFrame[];
  readonly removed: readonly { readonly collection: string; readonly id: string }[];
}

/** A signed transaction forwarded to the relay: encoded ops, the author's signature, the author's certificate. */
export interface ForwardedTx {
  readonly ops: Uint8Array;
  readonly sig: Uint8Array;
  readonly cert: Uint8Array;
  readonly certSig: Uint8Array;
}

/**
 * A forwarded transaction by its key, and why the relay refused it (absent: stored or already held). The relay
 * screens op by op, as for a push: `ops` lists the ids of the refused ops when it refused only some of them (the
 * others are stored); absent with a `code`, all were refused.
 */
export interface ForwardOutcome {
  readonly replica: ReplicaId;
  readonly seq: number;
  readonly code?: string;
  readonly reason?: string;
  readonly ops?: readonly string[];
}

/** A frame a client sends the relay, by its tag `t` (see the module documentation for each). */
export type ClientMessage =
  | {
      readonly t: 'hello';
      readonly protocol: number;
      readonly replica: ReplicaId;
      /** A JWT, or null to sign in anonymously (when the server allows it). */
      readonly token: string | null;
      readonly schemaVersion: number;
      /** 0 when the client has never synced. */
      readonly cursor: number;
      /** The subscriptions the client had (they survive restarts). */
      readonly subs: readonly Subscription[];
      /** The device's Ed25519 public key (32 bytes): the relay answers with a `certificate` for peer sync. */
      readonly device?: Uint8Array;
      /**
       * The newest document snapshot format this client reads (`SNAPSHOT_VERSIONS` in @loam/core); absent: 1. The
       * relay sends no snapshot in a newer format than the client announced.
       */
      readonly snapshots?: number;
    }
  /** `ops` is `encodeOps(batch)`; `batch` numbers the push so the ack can name it. */
  | { readonly t: 'push'; readonly batch: number; readonly ops: Uint8Array }
  /**
   * Signed transactions of other replicas this client learned from peers, for the relay to verify, screen with
   * their authors' claims and store (duplicates dropped by op id); answered by `forwarded`.
   */
  | { readonly t: 'forward'; readonly batch: number; readonly txs: readonly ForwardedTx[] }
  | { readonly t: 'subscribe'; readonly sub: Subscription }
  | { readonly t: 'unsubscribe'; readonly id: string }
  /** A refreshed token; new claims recompute the user's views. */
  | { readonly t: 'auth'; readonly token: string }
  | { readonly t: 'ping' }
  /** This device's LAN signaling addresses (`host:port`), for its peers' rosters. */
  | { readonly t: 'announce'; readonly addresses: readonly string[] }
  /** A signaling message (SDP or ICE, opaque to the relay) for peer `to`. */
  | { readonly t: 'signal'; readonly to: ReplicaId; readonly data: string };

/** A frame the relay sends a client, by its tag `t` (see the module documentation for each). */
export type ServerMessage =
  | {
      readonly t: 'welcome';
      readonly protocol: number;
      /** The server's own replica id (backend writes are stamped with it). */
      readonly server: ReplicaId;
      /** The server's current cursor. */
      readonly cursor: number;
      /** True when the client's cursor is older than the server's history: a client reset follows. */
      readonly reset: boolean;
      /** The user id the token (or anonymous sign-in) resolved to. */
      readonly user: string;
      /** The highest sequence number of this replica's ops the relay holds (0: none). */
      readonly replicaSeq?: number;
    }
  | {
      readonly t: 'ack';
      readonly batch: number;
      /** Ops durably applied (or already known): drop them from the outbox. */
      readonly accepted: readonly string[];
      readonly refused: readonly Refusal[];
      /**
       * With refusals: the authoritative state of their documents (`replace` mode; `removed` when the device may not
       * hold them), applied once the refused ops left the outbox. In the `ack` itself, so that a link dropping after
       * it cannot leave the refused writes standing on the device.
       */
      readonly corrections?: Corrections;
    }
  | {
      readonly t: 'docs';
      /** Store this cursor once the message is applied (0: do not move the cursor). */
      readonly cursor: number;
      readonly docs: readonly DocSnapshotFrame[];
      readonly removed: readonly { readonly collection: string; readonly id: string }[];
      /** Set while a subscription's first full set streams in. */
      readonly sub?: string;
      /** Download progress of that first set. */
      readonly progress?: { readonly sent: number; readonly total: number };
    }
  | { readonly t: 'synced'; readonly sub: string; readonly cursor: number }
  /**
   * The outcome of a `forward` batch, once durable: every transaction of it, in order. With refusals, the
   * authoritative state of the documents the refused ops touched rides along (`corrections`, as in `ack`), so that
   * no dropped link can leave the forwarder holding the refused writes.
   */
  | {
      readonly t: 'forwarded';
      readonly batch: number;
      readonly txs: readonly ForwardOutcome[];
      readonly corrections?: Corrections;
    }
  /**
   * What the session's token may do: per collection the role that applies (`permissionsFor` of `@loam/core`) and
   * the claims its placeholders read. Devices evaluate it locally to hide actions the relay would refuse.
   */
  | ({ readonly t: 'permissions' } & Permissions)
  /**
   * The device certificate of this session's replica (after `welcome` when `hello` carried a `device` key, and
   * again before it expires or when the claims change), with the relay's public key that signed it.
   */
  | {
      readonly t: 'certificate';
      readonly cert: Uint8Array;
      readonly sig: Uint8Array;
      readonly relayKey: Uint8Array;
    }
  /** The relay's signed revocation list (after `welcome`, and whenever it changes). */
  | { readonly t: 'revocations'; readonly list: Uint8Array; readonly sig: Uint8Array }
  | { readonly t: 'pong' }
  /** The peers this device may signal to (see the module documentation). */
  | { readonly t: 'roster'; readonly peers: readonly RosterPeer[] }
  /** A signaling message from peer `from`. */
  | { readonly t: 'signal'; readonly from: ReplicaId; readonly data: string }
  | {
      readonly t: 'error';
      /** Stable code, one of `WireErrorCode` (`codes.ts`), e.g. `auth_invalid`, `subscription_denied`. */
      readonly code: string;
      readonly message: string;
      /** The server closes the connection after a fatal error. */
      readonly fatal: boolean;
      /** The subscription an error is about, if any. */
      readonly sub?: string;
    };

/** Any frame of the relay protocol. */
export type Message = ClientMessage | ServerMessage;
