/**
 * An in-memory duplex: two {@link Transport}s wired to each other, for tests and for peers in one process.
 * Frames are delivered in order on a later task (never re-entrantly); `close` on either side closes both once
 * the frames sent before it were delivered. `cut()` drops the link as a network would: frames in flight are lost
 * and both sides see code 1006.
 */
import { listenOn, type Transport, type TransportCloseEvent } from './transport';

/** Two connected transports and the means to break their link. */
export interface MemoryTransportPair {
  readonly a: Transport;
  readonly b: Transport;
  /** Loses the link: both sides close with 1006. */
  cut(): void;
  /** Sees every frame before delivery (`from` names the sending side). */
  tap(listener: (from: 'a' | 'b', frame: Uint8Array) => void): () => void;
}

/** Creates a connected pair; both open on a later task. */
export function createMemoryTransportPair(): MemoryTransportPair {
  type Side = {
    open: Set<() => void>;
    frame: Set<(f: Uint8Array) => void>;
    close: Set<(e: TransportCloseEvent) => void>;
    error: Set<(e: Error) => void>;
  };
  const side = (): Side => ({ open: new Set(), frame: new Set(), close: new Set(), error: new Set() });
  const sides = { a: side(), b: side() };
  const taps = new Set<(from: 'a' | 'b', frame: Uint8Array) => void>();
  let state: 'opening' | 'open' | 'closed' = 'opening';
  let lost = false;

  const closeBoth = (event: TransportCloseEvent) => {
    if (state === 'closed') return;
    state = 'closed';
    if (event.code === 1006) lost = true;
    setTimeout(() => {
      for (const s of [sides.a, sides.b]) for (const l of s.close) l(event);
    });
  };
  const make = (name: 'a' | 'b'): Transport => {
    const mine = sides[name];
    const other = name === 'a' ? sides.b : sides.a;
    return {
      send(frame) {
        if (state !== 'open') return;
        const copy = frame.slice();
        for (const t of taps) t(name, copy);
        setTimeout(() => {
          if (!lost) for (const l of other.frame) l(copy);
        });
      },
      close(code = 1000, reason = '') {
        closeBoth({ code, reason });
      },
      onOpen: listenOn(mine.open),
      onFrame: listenOn(mine.frame),
      onClose: listenOn(mine.close),
      onError: listenOn(mine.error),
    };
  };
  const pair = { a: make('a'), b: make('b') };
  setTimeout(() => {
    if (state !== 'opening') return;
    state = 'open';
    for (const s of [sides.a, sides.b]) for (const l of s.open) l();
  });
  return {
    ...pair,
    cut: () => closeBoth({ code: 1006, reason: 'link lost' }),
    tap: listenOn(taps),
  };
}
