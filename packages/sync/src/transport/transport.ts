/**
 * The transport layer's contract: one bidirectional, ordered, message-framed channel between a replica and the
 * relay (or a peer). The sync client knows nothing else about the network; WebSocket, a `MessagePort` to a WebRTC
 * data channel, or an in-memory pair for tests all fit behind it.
 *
 * Life cycle of one transport (one connection attempt; a new attempt makes a new transport):
 * ```
 *  created ──open──▶ open ──close──▶ closed
 *     └─────────────close──────────────▶ closed      (could not connect)
 * ```
 *
 * Invariants:
 * 1. **No event before the creator can listen.** No listener is called before the task that created the transport
 *    yields, so listeners registered right after creation see every event.
 * 2. **Ordered, whole frames.** Frames arrive in the order they were sent, each exactly as sent, or not at all
 *    once the transport is closed. Nothing is delivered after `close` fired.
 * 3. **One close.** The `close` event fires exactly once per transport, whether the connection failed to open, was
 *    lost, or `close()` was called. `error` events are informational and are always followed by `close`.
 * 4. **`send` before `open` or after `close` does nothing.** Callers track the state through the events.
 */

/** Why a transport closed. */
export interface TransportCloseEvent {
  /** Transport-specific code (WebSocket close codes for the WebSocket transport; 1006 when the link was lost). */
  readonly code: number;
  readonly reason: string;
}

/** One connection attempt; see the module documentation for its life cycle. */
export interface Transport {
  /** Sends one frame; ignored unless the transport is open. */
  send(frame: Uint8Array): void;
  /**
   * Resolves once the frames sent so far have left this process's buffers, so a sender streaming many frames can
   * wait instead of buffering without bound. Transports without flow control leave it out.
   */
  flushed?(): Promise<void>;
  /** Closes the connection (idempotent), with a transport-specific code and reason; the `close` event follows. */
  close(code?: number, reason?: string): void;
  /** Called once when the connection is open and frames can be sent. */
  onOpen(listener: () => void): () => void;
  /** Called with each frame received, in order. */
  onFrame(listener: (frame: Uint8Array) => void): () => void;
  /** Called once when the transport closed, for whatever reason. */
  onClose(listener: (event: TransportCloseEvent) => void): () => void;
  /** Called when something went wrong; `close` follows. */
  onError(listener: (error: Error) => void): () => void;
}

/** Opens a new connection attempt. The sync client calls it on every (re)connect. */
export type TransportFactory = () => Transport;

/**
 * A registration function over `set`, for transports' `onOpen`/`onFrame`/...: adds the listener and returns the
 * function that removes it.
 */
export function listenOn<L>(set: Set<L>): (listener: L) => () => void {
  return (listener) => {
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  };
}
