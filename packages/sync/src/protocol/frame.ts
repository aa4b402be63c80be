/**
 * The envelope both wire protocols share (the relay's, `codec.ts`, and the peers', `peers/peer-codec.ts`): one
 * version byte, then a MessagePack body decoded under `decodeBoundedMsgpack`'s depth and length bounds. Each codec
 * turns a fault into its own typed error through `fail`; the checks, and their order, live here once.
 */
import { decodeBoundedMsgpack, OpDecodeError } from '@loam/core';
import { Encoder } from '@msgpack/msgpack';

const encoder = new Encoder({ ignoreUndefined: true });

/** Why a frame was refused before its body was read as a message. */
export type FrameFault =
  | { readonly kind: 'invalid'; readonly detail: string; readonly cause?: unknown }
  | { readonly kind: 'too_large'; readonly bytes: number; readonly limit: number }
  | { readonly kind: 'version'; readonly version: number | undefined }
  | { readonly kind: 'too_deep'; readonly cause: OpDecodeError };

/** `message` as one frame of protocol `version`. */
export function encodeFrame(version: number, message: unknown): Uint8Array {
  const body = encoder.encode(message);
  const out = new Uint8Array(body.length + 1);
  out[0] = version;
  out.set(body, 1);
  return out;
}

/** The decoded body of `frame` (protocol `version`, at most `maxBytes`), or `fail`'s error. */
export function openFrame(
  frame: unknown,
  version: number,
  maxBytes: number,
  fail: (fault: FrameFault) => never,
): unknown {
  if (!(frame instanceof Uint8Array)) return fail({ kind: 'invalid', detail: 'frame is not binary' });
  if (frame.length > maxBytes) return fail({ kind: 'too_large', bytes: frame.length, limit: maxBytes });
  if (frame.length === 0) return fail({ kind: 'invalid', detail: 'empty frame' });
  if (frame[0] !== version) return fail({ kind: 'version', version: frame[0] });
  try {
    return decodeBoundedMsgpack(frame.subarray(1));
  } catch (cause) {
    if (cause instanceof OpDecodeError && cause.reason === 'too_deep')
      return fail({ kind: 'too_deep', cause });
    return fail({
      kind: 'invalid',
      detail: `Frame is not valid MessagePack: ${(cause as Error).message}`,
      cause,
    });
  }
}
