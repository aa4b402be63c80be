/**
 * One connection to the relay, over one {@link Transport}: frames in and out, and the keep-alive.
 *
 * ```
 *  opening ──open──▶ open (hello sent by the client) ──welcome──▶ welcomed
 *     └──────────────────────────┴────────── close / ping timeout / bad frame ──▶ closed (once)
 * ```
 * Invariants:
 * 1. **Keep-alive.** After `pingIntervalMs` without a frame from the relay, a `ping` goes out; if no frame at all
 *    arrives within `pingTimeoutMs` after it, the link reports `ping_timeout` and closes.
 * 2. **Bad frames end the link.** A frame that does not decode is reported (`frame_invalid`...) and nothing of it
 *    is handed on; the link closes.
 * 3. **One close report.** `onClosed` is called once, with `explained` true when a more precise problem than
 *    "connection lost" was already reported for this link.
 */
import { ProtocolError, SyncClientErrorCode } from '../errors';
import { decodeServerMessage, encodeMessage } from '../protocol/codec';
import type { ClientMessage, ServerMessage } from '../protocol/messages';
import type { Transport } from '../transport/transport';

/** Timer functions (inject a manual scheduler in tests). */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What a link tells its owner. */
export interface LinkEvents {
  /** The transport is open: frames can be sent. */
  opened(link: Link): void;
  /** A decoded frame from the relay, in order. */
  received(link: Link, message: ServerMessage): void;
  /** A problem that ends the link (bad frame, ping timeout); `closed` follows. */
  failed(link: Link, code: string, message: string): void;
  /** The link is closed; `detail` says why in words; `explained` when `failed` (or the owner) already did. */
  closed(link: Link, detail: string, explained: boolean): void;
}

/** A live connection. */
export interface Link {
  /** True once the relay's `welcome` was handled on this link. */
  welcomed: boolean;
  send(message: ClientMessage): void;
  /** Closes the link; `explained` when the caller already reported why. Idempotent. */
  close(explained?: boolean): void;
}

/** Keep-alive settings. */
export interface KeepAlive {
  readonly timers: Timers;
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
}

/** Wraps `transport` into a link reporting to `events`. */
export function openLink(transport: Transport, keepAlive: KeepAlive, events: LinkEvents): Link {
  const { timers } = keepAlive;
  let idleTimer: unknown = null;
  let pingTimer: unknown = null;
  let explained = false;
  let closed = false;
  let lastTransportError: Error | null = null;

  const clearTimers = () => {
    if (idleTimer !== null) timers.clearTimeout(idleTimer);
    if (pingTimer !== null) timers.clearTimeout(pingTimer);
    idleTimer = null;
    pingTimer = null;
  };
  const arm = () => {
    clearTimers();
    idleTimer = timers.setTimeout(() => {
      idleTimer = null;
      link.send({ t: 'ping' });
      pingTimer = timers.setTimeout(() => {
        pingTimer = null;
        fail(
          SyncClientErrorCode.pingTimeout,
          `The server did not answer a ping within ${keepAlive.pingTimeoutMs} ms`,
        );
      }, keepAlive.pingTimeoutMs);
    }, keepAlive.pingIntervalMs);
  };
  const fail = (code: string, message: string) => {
    if (closed) return;
    events.failed(link, code, message);
    link.close(true);
  };

  const link: Link = {
    welcomed: false,
    send(message) {
      if (!closed) transport.send(encodeMessage(message));
    },
    close(why = false) {
      if (why) explained = true;
      transport.close();
    },
  };

  transport.onError((error) => {
    lastTransportError = error;
  });
  transport.onOpen(() => {
    if (closed) return;
    arm();
    events.opened(link);
  });
  transport.onFrame((frame) => {
    if (closed) return;
    arm();
    let message: ServerMessage;
    try {
      message = decodeServerMessage(frame);
    } catch (error) {
      fail(
        error instanceof ProtocolError ? error.code : SyncClientErrorCode.applyFailed,
        error instanceof Error ? error.message : String(error),
      );
      return;
    }
    events.received(link, message);
  });
  transport.onClose((event) => {
    if (closed) return;
    closed = true;
    clearTimers();
    const cause = lastTransportError as Error | null;
    events.closed(
      link,
      cause?.message ?? `code ${event.code}${event.reason ? `: ${event.reason}` : ''}`,
      explained,
    );
  });
  return link;
}
