/**
 * The WebSocket transport: a {@link Transport} over the WHATWG `WebSocket` (browsers, workers, Node ≥ 22) or an
 * injected implementation with the same surface (the `ws` package on older Node).
 *
 * Frames are binary messages. A text message breaks the protocol: the transport reports an error and closes.
 */
import { SyncClientError, SyncClientErrorCode } from '../errors';
import { listenOn, type Transport, type TransportCloseEvent, type TransportFactory } from './transport';

/** The part of the WebSocket API the transport uses (satisfied by the global `WebSocket` and by `ws`). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: 'error', listener: (event: unknown) => void): void;
}

/** A WebSocket constructor (`globalThis.WebSocket`, or `WebSocket` from `ws`). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Options of {@link createWebSocketTransport}. */
export interface WebSocketTransportOptions {
  /** `ws://` or `wss://` address of the relay. */
  readonly url: string;
  /** The implementation to use; default: the global `WebSocket`. */
  readonly WebSocket?: WebSocketConstructor;
  readonly protocols?: string | string[];
}

const OPEN = 1;

/** The WebSocket implementation `options` asks for, or the global one; throws `sync_config_invalid` if none. */
export function resolveWebSocket(options: {
  readonly WebSocket?: WebSocketConstructor;
}): WebSocketConstructor {
  const ctor =
    options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor | undefined }).WebSocket;
  if (!ctor) {
    throw new SyncClientError(
      SyncClientErrorCode.configInvalid,
      'No WebSocket implementation: this runtime has no global WebSocket (Node < 22); pass one, e.g. `WebSocket` from the `ws` package',
    );
  }
  return ctor;
}

/** Opens one WebSocket connection as a {@link Transport}. Throws `sync_config_invalid` without a WebSocket. */
export function createWebSocketTransport(options: WebSocketTransportOptions): Transport {
  const Ctor = resolveWebSocket(options);
  const openListeners = new Set<() => void>();
  const frameListeners = new Set<(frame: Uint8Array) => void>();
  const closeListeners = new Set<(event: TransportCloseEvent) => void>();
  const errorListeners = new Set<(error: Error) => void>();
  let closed = false;

  const socket = new Ctor(options.url, options.protocols);
  socket.binaryType = 'arraybuffer';

  const fail = (error: Error) => {
    for (const l of [...errorListeners]) l(error);
  };
  const finish = (event: TransportCloseEvent) => {
    if (closed) return;
    closed = true;
    for (const l of [...closeListeners]) l(event);
    openListeners.clear();
    frameListeners.clear();
    closeListeners.clear();
    errorListeners.clear();
  };

  socket.addEventListener('open', () => {
    if (closed) return;
    for (const l of [...openListeners]) l();
  });
  socket.addEventListener('message', (event) => {
    if (closed) return;
    const data = event.data;
    let frame: Uint8Array | undefined;
    if (data instanceof ArrayBuffer) frame = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) frame = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (!frame) {
      fail(new SyncClientError(SyncClientErrorCode.transportFailed, 'The server sent a text frame'));
      socket.close(1003, 'binary frames only');
      finish({ code: 1003, reason: 'binary frames only' });
      return;
    }
    for (const l of [...frameListeners]) l(frame);
  });
  socket.addEventListener('error', (event) => {
    if (closed) return;
    const message = (event as { message?: unknown })?.message;
    fail(
      new SyncClientError(
        SyncClientErrorCode.transportFailed,
        `WebSocket error${typeof message === 'string' && message ? `: ${message}` : ''}`,
      ),
    );
  });
  socket.addEventListener('close', (event) => finish({ code: event.code, reason: event.reason }));

  return {
    send(frame) {
      if (!closed && socket.readyState === OPEN) socket.send(frame);
    },
    close(code = 1000, reason = 'closed by client') {
      if (closed) return;
      socket.close(code, reason);
      finish({ code, reason });
    },
    onOpen: listenOn(openListeners),
    onFrame: listenOn(frameListeners),
    onClose: listenOn(closeListeners),
    onError: listenOn(errorListeners),
  };
}

/** A {@link TransportFactory} opening a new WebSocket connection to `options.url` on each call. */
export function createWebSocketTransportFactory(options: WebSocketTransportOptions): TransportFactory {
  resolveWebSocket(options);
  return () => createWebSocketTransport(options);
}
