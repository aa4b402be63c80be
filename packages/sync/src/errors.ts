/**
 * Every error raised by `@loam/sync`. Each carries a stable `code`; the same codes travel in `error` frames.
 */
import { LoamError } from '@loam/core';
import { WireErrorCode } from './protocol/codes';

/** Stable codes of protocol errors (the same codes travel in `error` frames, see `protocol/codes.ts`). */
export const SyncErrorCode = {
  frameInvalid: WireErrorCode.frameInvalid,
  frameTooLarge: WireErrorCode.frameTooLarge,
  frameTooDeep: WireErrorCode.frameTooDeep,
  protocolVersion: WireErrorCode.protocolVersion,
} as const;
export type SyncErrorCode = (typeof SyncErrorCode)[keyof typeof SyncErrorCode];

/** A frame that could not be decoded; nothing was applied. */
export class ProtocolError extends LoamError {
  constructor(code: SyncErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * Stable codes of the sync client's own failures. They appear in `SyncStatus.lastError` (as values: going offline
 * or losing the server is an expected outcome) and, for misuse of the API, as thrown {@link SyncClientError}s.
 */
export const SyncClientErrorCode = {
  /** `createSyncClient` was given neither a usable `url` (with a WebSocket implementation) nor a `transportFactory`. */
  configInvalid: 'sync_config_invalid',
  /** A subscription names a collection the schema does not have (the relay uses the same code on the wire). */
  subscriptionInvalid: WireErrorCode.subscriptionInvalid,
  /** The connection could not be opened or was lost; the client retries with backoff. */
  connectionLost: 'connection_lost',
  /** The server did not answer a keep-alive ping in time; the connection was dropped and is retried. */
  pingTimeout: 'ping_timeout',
  /** The app's `getToken` callback threw or rejected; the client retries with backoff. */
  tokenUnavailable: 'token_unavailable',
  /** A frame from the server could not be applied to the local database; the connection is retried. */
  applyFailed: 'apply_failed',
  /** The transport reported a failure (text frame, socket error). */
  transportFailed: 'transport_failed',
  /**
   * This device's database was restored from an older copy (the relay holds op ids it had already used): the
   * client moved its op sequence past them and renumbered the unsynced writes that collided, which upload as usual.
   */
  replicaRestored: 'replica_restored',
} as const;
export type SyncClientErrorCode = (typeof SyncClientErrorCode)[keyof typeof SyncClientErrorCode];

/** Misuse of the sync client's API (bad configuration, a subscription to an unknown collection). */
export class SyncClientError extends LoamError {
  constructor(code: SyncClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Stable codes of peer sync: why a certificate, a transaction or a peer was refused. */
export const PeerErrorCode = {
  /** A certificate or revocation list that is malformed or not signed by the trusted relay key. */
  certInvalid: 'cert_invalid',
  certExpired: 'cert_expired',
  certNotYetValid: 'cert_not_yet_valid',
  /** The relay revoked the device. */
  certRevoked: 'cert_revoked',
  /** A transaction's signature does not verify with its author's certificate key. */
  signatureInvalid: 'signature_invalid',
  /** A transaction's ops carry another replica's id or timestamp than its certificate's. */
  replicaMismatch: WireErrorCode.replicaMismatch,
  /** An op's timestamp is beyond the clock skew bound. */
  clockSkew: 'clock_skew',
  /**
   * A transaction this replica already holds (same replica and sequence number) was sent again. No longer reported:
   * since peer protocol 2 a re-sent transaction is dropped quietly (a peer re-sends from a vector's hole by design);
   * kept so that code matching on it still compiles.
   */
  txReplayed: 'tx_replayed',
  /** The other side did not prove it holds its certificate's key (wrong challenge signature). */
  authFailed: 'peer_auth_failed',
  /** A message valid in itself but not at this point of the peer protocol. */
  protocolOrder: WireErrorCode.protocolOrder,
  frameInvalid: WireErrorCode.frameInvalid,
  frameTooLarge: WireErrorCode.frameTooLarge,
  protocolVersion: WireErrorCode.protocolVersion,
  /** This replica has no device certificate yet: it must sign in to the relay once before it can peer. */
  noCertificate: 'no_certificate',
  /** A LAN signaling proof was asked for something other than a digest of the expected size (nothing signed). */
  lanProofInvalid: 'lan_proof_invalid',
} as const;
export type PeerErrorCode = (typeof PeerErrorCode)[keyof typeof PeerErrorCode];

/** A peer format or frame that could not be read or checked; nothing of it was applied. */
export class PeerError extends LoamError {
  constructor(code: PeerErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
