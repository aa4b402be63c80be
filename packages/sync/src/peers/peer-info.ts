/**
 * What the app sees of one peer connection: its state (see `peer-session.ts` for the transitions), the other
 * device, and what was exchanged; and the transactions a peer sent that were refused.
 */
import type { ReplicaId } from '@loam/core';

/**
 * Why a side ended a peer session that nothing was wrong with (a `bye`): the app closed the connection, or the
 * replica's database was closed under it. Neither is a refusal: the other side may simply connect again later.
 */
export const PeerCloseCode = {
  /** The app closed the connection (`PeerConnection.close`, `Peers.close`). */
  closed: 'peer_closed',
  /** The replica's database was closed while the session ran. */
  databaseClosed: 'database_closed',
} as const;
export type PeerCloseCode = (typeof PeerCloseCode)[keyof typeof PeerCloseCode];

/** A peer connection's state. */
export type PeerState = 'authenticating' | 'syncing' | 'live' | 'refused' | 'closed';

/** What one peer connection looks like from the app. */
export interface PeerInfo {
  /** The other replica, once its hello arrived. */
  readonly replica: ReplicaId | undefined;
  /** The other device's user, once its certificate checked out. */
  readonly user: string | undefined;
  readonly state: PeerState;
  /** Why the connection was refused (by either side). */
  readonly refusal?: { readonly code: string; readonly reason: string; readonly by: 'us' | 'peer' };
  /**
   * Why a closed connection ended, when a side ended it on purpose (a {@link PeerCloseCode}); absent when the link
   * itself went away.
   */
  readonly closeReason?: {
    readonly code: PeerCloseCode;
    readonly reason: string;
    readonly by: 'us' | 'peer';
  };
  /** When the last frame arrived (ms since epoch; 0: none yet). */
  readonly lastSeen: number;
  readonly opsSent: number;
  readonly opsReceived: number;
  /** Transactions received and refused (each also in the refused-writes log when it carried ops). */
  readonly txsRefused: number;
}

/** A transaction a peer sent that was refused (not one dropped because it is already held). */
export interface PeerTxRefusal {
  readonly from: ReplicaId | undefined;
  readonly replica: string;
  readonly seq: number;
  readonly code: string;
  readonly reason: string;
}
