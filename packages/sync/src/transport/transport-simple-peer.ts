/**
 * A {@link Transport} over a `simple-peer` instance (a WebRTC data channel), given by structure so that this
 * package does not depend on simple-peer: in Node pass `new SimplePeer({ wrtc })` (e.g. `@roamhq/wrtc`), in a
 * page the platform's `RTCPeerConnection` is used. Signaling is the caller's (`peer.on('signal')`).
 *
 * The other side may send as soon as its end says `connect`, which can be before this end does: frames that
 * arrive before `connect` are kept (copied: Node hands out Buffers from a pool that later messages overwrite) and
 * delivered right after `open`, in order. `flushed` resolves once the data channel's buffer is back under
 * `lowWaterBytes`, so a sender streaming a backlog does not buffer without bound. A message may be at most the
 * channel's SCTP limit (256 KiB between Chromium and libwebrtc): peers keep batches below it.
 */
import { listenOn, type Transport, type TransportCloseEvent } from './transport';

/** The part of a simple-peer instance this transport uses. */
export interface SimplePeerLike {
  readonly connected: boolean;
  readonly bufferSize?: number;
  send(data: Uint8Array): void;
  destroy(error?: Error): void;
  on(event: 'connect' | 'close', listener: () => void): unknown;
  on(event: 'data', listener: (data: Uint8Array) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** Wraps a simple-peer instance (connecting or connected). */
export function createSimplePeerTransport(
  peer: SimplePeerLike,
  options: { lowWaterBytes?: number } = {},
): Transport {
  const lowWater = options.lowWaterBytes ?? 1024 * 1024;
  const open = new Set<() => void>();
  const frame = new Set<(f: Uint8Array) => void>();
  const close = new Set<(e: TransportCloseEvent) => void>();
  const error = new Set<(e: Error) => void>();
  let state: 'opening' | 'open' | 'closed' = 'opening';
  const early: Uint8Array[] = [];
  const deliver = (f: Uint8Array) => {
    for (const l of frame) l(f);
  };
  const opened = () => {
    if (state !== 'opening') return;
    state = 'open';
    for (const l of open) l();
    for (const f of early.splice(0)) if (state === 'open') deliver(f);
  };
  const closed = (event: TransportCloseEvent) => {
    if (state === 'closed') return;
    state = 'closed';
    early.length = 0;
    for (const l of close) l(event);
  };
  if (peer.connected) setTimeout(opened);
  else peer.on('connect', opened);
  peer.on('data', (data) => {
    const f = new Uint8Array(data);
    if (state === 'open') deliver(f);
    else if (state === 'opening') early.push(f);
  });
  peer.on('close', () => closed({ code: 1006, reason: 'peer connection closed' }));
  peer.on('error', (e) => {
    for (const l of error) l(e);
    closed({ code: 1006, reason: e.message });
  });
  return {
    send(data) {
      if (state !== 'open') return;
      try {
        peer.send(data);
      } catch (e) {
        for (const l of error) l(e as Error);
        closed({ code: 1006, reason: (e as Error).message });
        peer.destroy();
      }
    },
    async flushed() {
      while (state === 'open' && (peer.bufferSize ?? 0) > lowWater)
        await new Promise((r) => setTimeout(r, 5));
    },
    close(code = 1000, reason = '') {
      if (state === 'closed') return;
      const wasOpen = state === 'open';
      closed({ code, reason });
      if (!wasOpen) return peer.destroy();
      const started = Date.now();
      const drain = () => {
        if ((peer.bufferSize ?? 0) > 0 && Date.now() - started < 1000) setTimeout(drain, 10);
        else setTimeout(() => peer.destroy(), 50);
      };
      drain();
    },
    onOpen: listenOn(open),
    onFrame: listenOn(frame),
    onClose: listenOn(close),
    onError: listenOn(error),
  };
}
