/**
 * Keeps one WebRTC link to one peer alive: connects, and after a failure or a lost link connects again with
 * exponential backoff. Each opened link is handed to `onLink` (which passes its port to the worker).
 *
 * Exactly one side of a pair initiates (the caller decides, e.g. the smaller replica id), so two peers never
 * offer to each other at once. Signaling messages travel in an envelope `{link, data}`: `link` names the
 * connection attempt, so a late candidate of an old attempt is never fed to a new one.
 *
 * Invariants:
 * 1. **At most one link at a time.** A new attempt starts only after the previous link closed (initiator), or
 *    replaces it when a new offer arrives (responder: the other side gave up on the old one).
 * 2. **Backoff between failures.** The initiator waits `backoff.next()` after a link that never opened or was
 *    lost; a link that opened resets the schedule. An attempt that is not open within `connectTimeoutMs` fails.
 * 3. **`close()` is final**: the current link closes and no attempt follows.
 */
import { type BackoffOptions, createBackoff } from '../client/backoff';
import { createPeerLink, LINK_LOST, type PeerLink, type PeerLinkOptions } from './peer-link';

/** Options of {@link createPeerConnector}. */
export interface PeerConnectorOptions {
  /** Whether this side makes the offers. */
  readonly initiator: boolean;
  /** Sends one enveloped signaling message to the peer (through the relay or the LAN signaling server). */
  readonly sendSignal: (message: string) => void;
  /** Called with each link once it is open; its `port` belongs to the worker from then on. */
  readonly onLink: (link: PeerLink) => void;
  /** Options of every link (everything but who initiates and where signals go). */
  readonly link: Omit<PeerLinkOptions, 'initiator' | 'sendSignal'>;
  readonly backoff?: BackoffOptions;
  /** An attempt not open after this long fails, ms (default 15 000). */
  readonly connectTimeoutMs?: number;
  /** Floats in [0, 1), for the backoff's jitter and attempt ids. */
  readonly random?: () => number;
}

/** A connector to one peer. */
export interface PeerConnector {
  /** Feeds one enveloped signaling message from the peer; a malformed one is ignored. */
  signal(message: string): void;
  /** The current link, if any. */
  current(): PeerLink | undefined;
  /** Stops for good (see invariant 3). */
  close(): void;
}

interface Envelope {
  readonly link: string;
  readonly data: string;
}

function readEnvelope(message: string): Envelope | undefined {
  try {
    const v = JSON.parse(message) as Record<string, unknown>;
    if (typeof v?.link === 'string' && typeof v.data === 'string') return { link: v.link, data: v.data };
  } catch {}
  return undefined;
}

function isOffer(data: string): boolean {
  try {
    return (JSON.parse(data) as { type?: unknown })?.type === 'offer';
  } catch {
    return false;
  }
}

/** Starts connecting at once (the initiator) or waits for the peer's offer (the responder). */
export function createPeerConnector(options: PeerConnectorOptions): PeerConnector {
  const random = options.random ?? Math.random;
  const backoff = createBackoff(options.backoff ?? { baseMs: 250, maxMs: 5_000 }, random);
  const timeoutMs = options.connectTimeoutMs ?? 15_000;
  let link: PeerLink | undefined;
  let linkId = '';
  let retry: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  const start = (id: string, initiator: boolean) => {
    linkId = id;
    const attempt = createPeerLink({
      ...options.link,
      initiator,
      sendSignal: (data) => options.sendSignal(JSON.stringify({ link: id, data } satisfies Envelope)),
    });
    link = attempt;
    const timeout = setTimeout(() => attempt.close(LINK_LOST, 'the peer did not connect in time'), timeoutMs);
    attempt.onOpen(() => {
      clearTimeout(timeout);
      backoff.reset();
      options.onLink(attempt);
    });
    attempt.onClose(() => {
      clearTimeout(timeout);
      if (link === attempt) link = undefined;
      if (!stopped && options.initiator && !link) retry = setTimeout(dial, backoff.next());
    });
    return attempt;
  };
  const dial = () => {
    retry = undefined;
    if (!stopped) start(Math.floor(random() * 2 ** 48).toString(36), true);
  };

  if (options.initiator) dial();

  return {
    signal(message) {
      if (stopped) return;
      const envelope = readEnvelope(message);
      if (!envelope) return;
      if (link && envelope.link === linkId) return link.signal(envelope.data);
      if (options.initiator || !isOffer(envelope.data)) return;
      link?.close(LINK_LOST, 'the peer started a new connection');
      start(envelope.link, false).signal(envelope.data);
    },
    current: () => link,
    close() {
      stopped = true;
      if (retry) clearTimeout(retry);
      link?.close(1000, 'closed');
    },
  };
}
