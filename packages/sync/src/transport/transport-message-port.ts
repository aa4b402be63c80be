/**
 * The worker's end of a link whose socket lives on another thread: a {@link Transport} over a `MessagePort`.
 * `RTCPeerConnection` does not exist inside workers, so the page's main thread owns the WebRTC data channel
 * (`@loam/sync/webrtc`) and pipes its bytes here; the sync engine in the worker sees an ordinary transport.
 *
 * What crosses the port (structured clone; anything else received is a broken link):
 * ```
 *  socket end (main thread)                          transport end (worker)
 *   {t:'open'}                              ─▶        open
 *   {t:'frame', frame}                      ─▶        frame (in order)
 *   {t:'flushed', sent}                     ─▶        the first `sent` frames left the socket end's buffers
 *   {t:'close', code, reason}               ─▶        close
 *                                           ◀─        {t:'send', frame}
 *                                           ◀─        {t:'close', code, reason}
 * ```
 *
 * Invariants (besides the {@link Transport} ones):
 * 1. **Backpressure reaches the worker.** `flushed()` resolves once the socket end reported every frame sent
 *    before the call as handed to its socket with the socket's buffer under its high-water mark, so a sender
 *    that awaits it never queues more than that mark plus one frame beyond the socket.
 * 2. **A malformed message closes the link** (`error`, then `close` with 1002) and is never delivered as a frame.
 */
import { SyncClientError, SyncClientErrorCode } from '../errors';
import { listenOn, type Transport, type TransportCloseEvent } from './transport';

/** A message from the socket end to the transport end. */
export type SocketEndMessage =
  | { readonly t: 'open' }
  | { readonly t: 'frame'; readonly frame: Uint8Array }
  | { readonly t: 'flushed'; readonly sent: number }
  | { readonly t: 'close'; readonly code: number; readonly reason: string };

/** A message from the transport end to the socket end. */
export type TransportEndMessage =
  | { readonly t: 'send'; readonly frame: Uint8Array }
  | { readonly t: 'close'; readonly code: number; readonly reason: string };

/** The part of `MessagePort` both ends use (a real `MessagePort`, or Node's `worker_threads` one). */
export interface MessagePortLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
  start(): void;
  close(): void;
}

/** Close code when the other end sent something that is not a message of this protocol. */
export const PORT_PROTOCOL_ERROR = 1002;

/** Reads a message of the socket end, or undefined when `data` is not one. */
export function readSocketEndMessage(data: unknown): SocketEndMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const m = data as Record<string, unknown>;
  switch (m.t) {
    case 'open':
      return { t: 'open' };
    case 'frame':
      return m.frame instanceof Uint8Array ? { t: 'frame', frame: m.frame } : undefined;
    case 'flushed':
      return Number.isSafeInteger(m.sent) && (m.sent as number) >= 0
        ? { t: 'flushed', sent: m.sent as number }
        : undefined;
    case 'close':
      return closeOf(m);
    default:
      return undefined;
  }
}

/** Reads a message of the transport end, or undefined when `data` is not one. */
export function readTransportEndMessage(data: unknown): TransportEndMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const m = data as Record<string, unknown>;
  if (m.t === 'send') return m.frame instanceof Uint8Array ? { t: 'send', frame: m.frame } : undefined;
  if (m.t === 'close') return closeOf(m);
  return undefined;
}

function closeOf(m: Record<string, unknown>): { t: 'close'; code: number; reason: string } | undefined {
  if (!Number.isSafeInteger(m.code) || typeof m.reason !== 'string') return undefined;
  return { t: 'close', code: m.code as number, reason: m.reason.slice(0, 1024) };
}

/**
 * Wraps the worker's end of a port whose other end a socket end (e.g. `createPeerLink` of `@loam/sync/webrtc`)
 * drives. The port is started here and closed with the transport.
 */
export function createMessagePortTransport(port: MessagePortLike): Transport {
  const openListeners = new Set<() => void>();
  const frameListeners = new Set<(frame: Uint8Array) => void>();
  const closeListeners = new Set<(event: TransportCloseEvent) => void>();
  const errorListeners = new Set<(error: Error) => void>();
  let state: 'created' | 'open' | 'closed' = 'created';
  let sent = 0;
  let flushedUpTo = 0;
  const waiting: { upTo: number; resolve: () => void }[] = [];

  const settleFlushes = () => {
    for (let i = waiting.length - 1; i >= 0; i--) {
      const w = waiting[i]!;
      if (state === 'closed' || w.upTo <= flushedUpTo) {
        waiting.splice(i, 1);
        w.resolve();
      }
    }
  };
  const finish = (event: TransportCloseEvent) => {
    if (state === 'closed') return;
    state = 'closed';
    settleFlushes();
    for (const l of [...closeListeners]) l(event);
    openListeners.clear();
    frameListeners.clear();
    closeListeners.clear();
    errorListeners.clear();
    port.close();
  };

  port.addEventListener('message', (event) => {
    if (state === 'closed') return;
    const m = readSocketEndMessage(event.data);
    if (!m) {
      const error = new SyncClientError(
        SyncClientErrorCode.transportFailed,
        'The peer link sent a message that is not part of its protocol',
      );
      for (const l of [...errorListeners]) l(error);
      port.postMessage({ t: 'close', code: PORT_PROTOCOL_ERROR, reason: 'protocol error' });
      finish({ code: PORT_PROTOCOL_ERROR, reason: 'protocol error' });
      return;
    }
    switch (m.t) {
      case 'open':
        if (state !== 'created') return;
        state = 'open';
        for (const l of [...openListeners]) l();
        return;
      case 'frame':
        if (state === 'open') for (const l of [...frameListeners]) l(m.frame);
        return;
      case 'flushed':
        flushedUpTo = Math.max(flushedUpTo, m.sent);
        settleFlushes();
        return;
      case 'close':
        finish({ code: m.code, reason: m.reason });
        return;
    }
  });
  queueMicrotask(() => port.start());

  return {
    send(frame) {
      if (state !== 'open') return;
      sent++;
      port.postMessage({ t: 'send', frame } satisfies TransportEndMessage);
    },
    flushed() {
      if (state === 'closed' || flushedUpTo >= sent) return Promise.resolve();
      return new Promise<void>((resolve) => waiting.push({ upTo: sent, resolve }));
    },
    close(code = 1000, reason = 'closed by client') {
      if (state === 'closed') return;
      port.postMessage({ t: 'close', code, reason } satisfies TransportEndMessage);
      finish({ code, reason });
    },
    onOpen: listenOn(openListeners),
    onFrame: listenOn(frameListeners),
    onClose: listenOn(closeListeners),
    onError: listenOn(errorListeners),
  };
}
