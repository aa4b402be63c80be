/**
 * Every error raised by `@loam/sync`. Each carries a stable `code`; the same codes travel in `error` frames.
 */
import { LoamError } from '@loam/core';

/** Stable codes of protocol and sync errors. */
export const SyncErrorCode = {
  /** A frame that is not a valid message (malformed, truncated, wrong field types, unknown type). */
  frameInvalid: 'frame_invalid',
  /** A frame larger than the configured limit. */
  frameTooLarge: 'frame_too_large',
  /** A frame of a protocol version this build does not speak. */
  protocolVersion: 'protocol_version',
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
  /** A subscription names a collection the schema does not have. */
  subscriptionInvalid: 'subscription_invalid',
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
} as const;
export type SyncClientErrorCode = (typeof SyncClientErrorCode)[keyof typeof SyncClientErrorCode];

/** Misuse of the sync client's API (bad configuration, a subscription to an unknown collection). */
export class SyncClientError extends LoamError {
  constructor(code: SyncClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
