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
