/**
 * The peer protocol: what two replicas say to each other over any {@link Transport}, with the same codec
 * discipline as the relay protocol (`protocol/codec.ts`): a version byte (`PEER_PROTOCOL_VERSION`), then a
 * MessagePack map tagged `t`; `decodePeerMessage` is total (a typed `PeerError` for anything malformed,
 * truncated, oversized or of another version) and bounded by the frame size.
 *
 * Session, the same on both sides:
 * ```
 *  hello {replica, cert, certSig, nonce, rules, revocations?} ─▶   ◀─ hello      (each side, once open)
 *  proof {sig}  signature of the other's nonce by this side's certificate key ─▶   ◀─ proof
 *  vector {v}   replica → own highest seq, each other's prefix held ─▶   ◀─ vector
 *  cert {cert, sig}  an author's certificate, before the first of its transactions
 *  txs {batch, items}  missing transactions, seq order per replica, bounded batches ─▶   ◀─ ack {batch}
 *               (version 2: an item held above a hole carries the sender's prefix `h`)
 *  live {}      the backlog was sent; new transactions follow as they are written
 *  revocations {list, sig}   a newer signed revocation list
 *  refused {code, reason}    why this side ends the session (then it closes)
 *  bye {code, reason}        this side ends the session, not for anything the other did (then it closes)
 * ```
 * A side sends at most `WINDOW` batches without their `ack` (the send window).
 */
import type { ReplicaId } from '@loam/core';
import type { PeerCloseCode } from './peer-info';

/** The peer protocol version this build speaks. */
export const PEER_PROTOCOL_VERSION = 2;
/** Most transactions in one `txs` frame. */
export const MAX_TXS_PER_BATCH = 256;
/** Most entries in a version vector. */
export const MAX_VECTOR_ENTRIES = 100_000;

/**
 * One transaction in a `txs` frame: its author's replica and first seq, encoded ops and signature; `h` when the
 * sender holds it above a hole (an earlier transaction of its author is not held there): the sender's prefix of
 * that author, the most the receiver may count as held through this sender.
 */
export interface PeerTx {
  readonly r: ReplicaId;
  readonly s: number;
  readonly ops: Uint8Array;
  readonly sig: Uint8Array;
  readonly h?: number;
}

/** A frame of the peer protocol, by its tag `t` (see the module documentation). */
export type PeerMessage =
  | {
      readonly t: 'hello';
      readonly protocol: number;
      readonly replica: ReplicaId;
      readonly cert: Uint8Array;
      readonly certSig: Uint8Array;
      /** 32 random bytes the other side signs to prove its key. */
      readonly nonce: Uint8Array;
      /** `rulesVersion` of the rules this side judges writes by. */
      readonly rules: number;
      readonly revocations?: { readonly list: Uint8Array; readonly sig: Uint8Array };
    }
  | { readonly t: 'proof'; readonly sig: Uint8Array }
  | { readonly t: 'vector'; readonly v: Readonly<Record<string, number>> }
  | { readonly t: 'cert'; readonly cert: Uint8Array; readonly sig: Uint8Array }
  | { readonly t: 'txs'; readonly batch: number; readonly items: readonly PeerTx[] }
  | { readonly t: 'ack'; readonly batch: number }
  | { readonly t: 'live' }
  | { readonly t: 'revocations'; readonly list: Uint8Array; readonly sig: Uint8Array }
  | { readonly t: 'refused'; readonly code: string; readonly reason: string }
  | { readonly t: 'bye'; readonly code: PeerCloseCode; readonly reason: string };
