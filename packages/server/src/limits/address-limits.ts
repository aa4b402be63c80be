/**
 * Per-address admission of WebSocket upgrades (invariant 3 of `limits.ts`): open connections are counted per IP
 * address, and new ones are paced by a token bucket per address (capacity and refill `handshakesPerSecond`).
 * An address's entry is dropped once it holds no connection and its bucket is full again, so the table's size
 * follows the addresses currently connected, not every address ever seen.
 */
import { ServerErrorCode } from '../errors';

/** Counts connections per address. */
export interface AddressLimits {
  /** Admits a new connection from `address` (counting it), or returns the code of the refusal. */
  admit(
    address: string,
  ): undefined | typeof ServerErrorCode.tooManyConnections | typeof ServerErrorCode.handshakeRate;
  /** A connection admitted from `address` closed. */
  release(address: string): void;
  /** Stops the periodic sweep of idle addresses. */
  close(): void;
}

interface Entry {
  open: number;
  tokens: number;
  at: number;
}

/** Creates the table; `now` is the clock in ms. */
export function createAddressLimits(options: {
  readonly connectionsPerAddress: number;
  readonly handshakesPerSecond: number;
  readonly now?: () => number;
}): AddressLimits {
  const { connectionsPerAddress: maxOpen, handshakesPerSecond: rate } = options;
  const now = options.now ?? (() => performance.now());
  const entries = new Map<string, Entry>();
  const refill = (e: Entry, t: number) => {
    e.tokens = Math.min(rate, e.tokens + ((t - e.at) / 1000) * rate);
    e.at = t;
  };
  const sweep = () => {
    const t = now();
    for (const [address, e] of entries) {
      refill(e, t);
      if (e.open === 0 && e.tokens >= rate) entries.delete(address);
    }
  };
  const timer = setInterval(sweep, 10_000);
  timer.unref();
  return {
    admit(address) {
      const t = now();
      let e = entries.get(address);
      if (!e) {
        e = { open: 0, tokens: rate, at: t };
        entries.set(address, e);
      }
      refill(e, t);
      if (e.open >= maxOpen) return ServerErrorCode.tooManyConnections;
      if (e.tokens < 1) return ServerErrorCode.handshakeRate;
      e.tokens -= 1;
      e.open++;
      return undefined;
    },
    release(address) {
      const e = entries.get(address);
      if (e && e.open > 0) e.open--;
    },
    close: () => clearInterval(timer),
  };
}
