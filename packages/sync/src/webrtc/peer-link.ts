/**
 * One WebRTC link to a peer, on the page's main thread (where `RTCPeerConnection` exists): a `simple-peer` data
 * channel whose bytes are piped to the worker over a `MessagePort`. The worker wraps `link.port` with
 * `createMessagePortTransport` and sees an ordinary transport. One link is one connection attempt; the
 * connector (`peer-connector.ts`) makes a new one after a failure.
 *
 * On the data channel each message starts with a tag byte: `0` a transport frame (or the last piece of one), `2` a
 * piece of a frame that continues in the next message, `1` a keep-alive. Frames are cut into pieces of at most
 * 64 KiB, because a data channel message cannot exceed the SCTP limit Chromium announces (256 KiB).
 *
 * Invariants:
 * 1. **Frames keep their order and boundaries**: one data-channel message per frame, written in order.
 * 2. **Sends respect `bufferedAmount`.** Frames go through simple-peer's stream, which holds a write while the data
 *    channel's buffer is over 64 KiB; the worker's `flushed()` waits for it (`transport-message-port.ts`).
 * 3. **A dead link is noticed within `deadAfterMs`.** Each side sends a keep-alive every `keepAliveMs`; a side
 *    that hears nothing for `deadAfterMs` closes the link with 1006, as when the channel or the page closes.
 * 4. **One close.** Whatever ends the link (the peer, the worker, `close()`, a timeout), the worker's end gets one
 *    `close` and the connection is torn down.
 * 5. **Nothing the peer sent before `connect` is lost.** simple-peer may deliver the other side's first messages
 *    before it emits `connect` on this side (it checks the connection's stats first); they are kept and handed to
 *    the worker, in order, right after its `open`.
 */
import {
  type MessagePortLike,
  readTransportEndMessage,
  type SocketEndMessage,
} from '../transport/transport-message-port';

/** The part of a `simple-peer` instance a link uses. */
export interface SimplePeerInstance {
  signal(data: unknown): void;
  write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean;
  destroy(error?: Error): void;
  on(event: 'signal', listener: (data: unknown) => void): unknown;
  on(event: 'connect' | 'close', listener: () => void): unknown;
  on(event: 'data', listener: (data: Uint8Array) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** `simple-peer`'s constructor, with the options a link passes. */
export type SimplePeerConstructor = new (options: {
  readonly initiator: boolean;
  readonly trickle: boolean;
  readonly config: RTCConfiguration;
  readonly channelConfig: RTCDataChannelInit;
}) => SimplePeerInstance;

/** Why a link closed (the same event the worker's transport reports). */
export interface PeerLinkClose {
  readonly code: number;
  readonly reason: string;
}

/** Options of {@link createPeerLink}. */
export interface PeerLinkOptions {
  /** The side that makes the offer. Exactly one side of a pair initiates. */
  readonly initiator: boolean;
  /** Sends one signaling message (SDP or ICE candidate, as text) to the other side. */
  readonly sendSignal: (data: string) => void;
  /** ICE servers; default none (a LAN needs no STUN, and no public server is contacted). */
  readonly iceServers?: readonly RTCIceServer[];
  /** Interval of keep-alives, ms (default 1 000). */
  readonly keepAliveMs?: number;
  /** Silence after which the link counts as dead, ms (default 5 000). */
  readonly deadAfterMs?: number;
  /** `simple-peer`'s constructor (its prebuilt browser bundle, see `index.ts`). */
  readonly SimplePeer: SimplePeerConstructor;
}

/** A link's life cycle: `connecting` until the data channel opens, then `open`, then `closed` (once). */
export type PeerLinkState = 'connecting' | 'open' | 'closed';

/** One connection attempt to a peer. */
export interface PeerLink {
  /** The worker's end of the link: transfer it to the worker and wrap it with `createMessagePortTransport`. */
  readonly port: MessagePort;
  state(): PeerLinkState;
  /** Feeds one signaling message from the other side; a malformed one closes the link. */
  signal(data: string): void;
  /** Closes the link (idempotent). */
  close(code?: number, reason?: string): void;
  onOpen(listener: () => void): () => void;
  onClose(listener: (event: PeerLinkClose) => void): () => void;
}

const TAG_FRAME = 0;
const TAG_KEEPALIVE = 1;
const TAG_PIECE = 2;
const PIECE_BYTES = 64 * 1024;
/** Largest frame a link reassembles (a peer sending more is cut off); the relay protocol's default limit × 4. */
const MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Close code of a link lost without a close (the WebSocket code for an abnormal closure). */
export const LINK_LOST = 1006;

/** Opens a link; signaling starts at once (the initiator's offer goes to `sendSignal`). */
export function createPeerLink(options: PeerLinkOptions): PeerLink {
  const keepAliveMs = options.keepAliveMs ?? 1_000;
  const deadAfterMs = options.deadAfterMs ?? 5_000;
  const channel = new MessageChannel();
  const local: MessagePortLike = channel.port1;
  const openListeners = new Set<() => void>();
  const closeListeners = new Set<(event: PeerLinkClose) => void>();
  let state: PeerLinkState = 'connecting';
  let lastHeard = Date.now();
  let written = 0;
  let pieces: Uint8Array[] = [];
  let pieceBytes = 0;
  /** Messages received before `connect` (invariant 5), bounded like one frame. */
  let early: Uint8Array[] = [];
  let earlyBytes = 0;

  const post = (message: SocketEndMessage, transfer: Transferable[] = []) =>
    local.postMessage(message, transfer);

  const peer = new options.SimplePeer({
    initiator: options.initiator,
    trickle: true,
    config: { iceServers: [...(options.iceServers ?? [])] },
    channelConfig: { ordered: true },
  });

  const finish = (event: PeerLinkClose, tellWorker: boolean) => {
    if (state === 'closed') return;
    state = 'closed';
    clearInterval(timer);
    if (tellWorker) post({ t: 'close', code: event.code, reason: event.reason });
    local.close();
    peer.destroy();
    for (const l of [...closeListeners]) l(event);
    openListeners.clear();
    closeListeners.clear();
  };

  const writeOne = (tag: number, bytes: Uint8Array, onWritten?: () => void) => {
    const message = new Uint8Array(bytes.length + 1);
    message[0] = tag;
    message.set(bytes, 1);
    peer.write(message, (error) => {
      if (!error) onWritten?.();
    });
  };
  const write = (tag: number, frame: Uint8Array, onWritten?: () => void) => {
    let at = 0;
    for (; frame.length - at > PIECE_BYTES; at += PIECE_BYTES)
      writeOne(TAG_PIECE, frame.subarray(at, at + PIECE_BYTES));
    writeOne(tag, frame.subarray(at), onWritten);
  };
  const receive = (data: Uint8Array) => {
    const tag = data[0];
    if (tag !== TAG_FRAME && tag !== TAG_PIECE) return;
    pieceBytes += data.length - 1;
    if (pieceBytes > MAX_FRAME_BYTES)
      return finish({ code: 1009, reason: `the peer sent a frame over ${MAX_FRAME_BYTES} bytes` }, true);
    pieces.push(data.subarray(1));
    if (tag === TAG_PIECE) return;
    const frame = new Uint8Array(pieceBytes);
    let at = 0;
    for (const piece of pieces) {
      frame.set(piece, at);
      at += piece.length;
    }
    pieces = [];
    pieceBytes = 0;
    post({ t: 'frame', frame }, [frame.buffer]);
  };

  const timer = setInterval(() => {
    if (state !== 'open') return;
    if (Date.now() - lastHeard > deadAfterMs) {
      finish({ code: LINK_LOST, reason: `the peer was silent for ${deadAfterMs} ms` }, true);
      return;
    }
    write(TAG_KEEPALIVE, new Uint8Array(0));
  }, keepAliveMs);

  peer.on('signal', (data) => {
    if (state !== 'closed') options.sendSignal(JSON.stringify(data));
  });
  peer.on('connect', () => {
    if (state !== 'connecting') return;
    state = 'open';
    lastHeard = Date.now();
    post({ t: 'open' });
    const held = early;
    early = [];
    for (const data of held) if (state === 'open') receive(data);
    if (state !== 'open') return;
    for (const l of [...openListeners]) l();
  });
  peer.on('data', (data) => {
    if (state === 'connecting') {
      earlyBytes += data.length;
      if (earlyBytes > MAX_FRAME_BYTES)
        return finish(
          { code: 1009, reason: `the peer sent over ${MAX_FRAME_BYTES} bytes before connecting` },
          true,
        );
      early.push(data);
      return;
    }
    if (state !== 'open') return;
    lastHeard = Date.now();
    receive(data);
  });
  peer.on('close', () => finish({ code: LINK_LOST, reason: 'the peer closed the link' }, true));
  peer.on('error', (error) => finish({ code: LINK_LOST, reason: error.message }, true));

  local.addEventListener('message', (event) => {
    if (state === 'closed') return;
    const m = readTransportEndMessage(event.data);
    if (!m) return finish({ code: 1002, reason: 'the worker sent an unknown message' }, true);
    if (m.t === 'close') return finish({ code: m.code, reason: m.reason }, false);
    if (state !== 'open') return;
    const n = ++written;
    write(TAG_FRAME, m.frame, () => {
      if (state === 'open') post({ t: 'flushed', sent: n });
    });
  });
  local.start();

  return {
    port: channel.port2,
    state: () => state,
    signal(data) {
      if (state === 'closed') return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
        peer.signal(parsed);
      } catch (error) {
        finish({ code: 1002, reason: `bad signaling message: ${(error as Error).message}` }, true);
      }
    },
    close(code = 1000, reason = 'closed') {
      finish({ code, reason }, true);
    },
    onOpen(listener) {
      openListeners.add(listener);
      return () => openListeners.delete(listener);
    },
    onClose(listener) {
      closeListeners.add(listener);
      return () => closeListeners.delete(listener);
    },
  };
}
