/**
 * A connection the relay accepted with `ws`, as a `@loam/sync` {@link Transport}: the session speaks the protocol
 * over the interface, not over `ws`.
 *
 * The socket is open when this is created, so no `open` event fires. A text frame is not part of the protocol: it
 * is reported through `onError` as a `frame_invalid` {@link ProtocolError} and not delivered (the session answers
 * with a fatal error and closes); a frame over `ws`'s payload limit is reported as `frame_too_large` and the socket is
 * dropped at once (`ws` refused it from its header, with 1009, before buffering it; reading the rest would only cost). `flushed()` resolves once `ws` has handed every frame sent so far to the socket.
 */
import { listenOn, ProtocolError, SyncErrorCode, type Transport, type TransportCloseEvent } from '@loam/sync';
import type WebSocket from 'ws';

function toBytes(data: WebSocket.RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

/**
 * Sets the largest payload `ws` buffers for this socket: frames over it are refused from their header, before their
 * bytes are read. `ws` has no public setter; its receiver reads `_maxPayload` at every frame, and when a version of
 * `ws` lacks it the session's own check of each frame's size still applies.
 */
export function setMaxPayload(ws: WebSocket, bytes: number): void {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  if (receiver && typeof receiver._maxPayload === 'number') receiver._maxPayload = bytes;
}

/** Wraps an accepted `ws` socket. */
export function createWsTransport(ws: WebSocket): Transport {
  const frames = new Set<(frame: Uint8Array) => void>();
  const closes = new Set<(event: TransportCloseEvent) => void>();
  const errors = new Set<(error: Error) => void>();
  let closed = false;
  let unsent = 0;
  const waiters: (() => void)[] = [];
  const sent = () => {
    unsent--;
    if (unsent === 0) for (const w of waiters.splice(0)) w();
  };

  const finish = (event: TransportCloseEvent) => {
    if (closed) return;
    closed = true;
    for (const l of [...closes]) l(event);
  };
  ws.on('message', (data, isBinary) => {
    if (closed) return;
    if (!isBinary) {
      const error = new ProtocolError(
        SyncErrorCode.frameInvalid,
        'Text frames are not part of the protocol: send binary frames',
      );
      for (const l of [...errors]) l(error);
      return;
    }
    const frame = toBytes(data);
    for (const l of [...frames]) l(frame);
  });
  ws.on('close', (code, reason) => {
    finish({ code, reason: reason.toString() });
    for (const w of waiters.splice(0)) w();
  });
  ws.on('error', (error) => {
    const tooLarge = (error as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
    const reported = tooLarge ? new ProtocolError(SyncErrorCode.frameTooLarge, error.message) : error;
    for (const l of [...errors]) l(reported);
    if (tooLarge) ws.terminate();
    finish({ code: 1006, reason: error.message });
  });

  return {
    send(frame) {
      if (closed || ws.readyState !== ws.OPEN) return;
      unsent++;
      ws.send(frame, sent);
    },
    flushed: () => (unsent === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    close(code = 1000, reason = '') {
      if (!closed) ws.close(code, reason);
    },
    onOpen: () => () => undefined,
    onFrame: listenOn(frames),
    onClose: listenOn(closes),
    onError: listenOn(errors),
  };
}
