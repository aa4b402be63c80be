/**
 * Finding terminals of the same shop on the LAN by mDNS / DNS-SD: each terminal advertises `_loam._tcp` with its
 * LAN signaling port and a TXT record, and browses for the others.
 *
 * TXT record (all strings): `v` the LAN protocol version, `store` a hash of the store the terminal serves,
 * `replica` its replica id, `fp` the fingerprint of its device key (`fingerprintOf`).
 *
 * Invariants:
 * 1. **Only peers are reported**: a service of another protocol version or another store, or this terminal's own,
 *    is ignored, as is one whose TXT record is malformed.
 * 2. **Every address is reported** (`host:port`, IPv6 in brackets): the A/AAAA records of the service and the
 *    address its answer came from, so a peer with several interfaces can be dialed on any.
 */
import { Bonjour, type Service } from 'bonjour-service';

/** The DNS-SD service type (`_loam._tcp`). */
export const SERVICE_TYPE = 'loam';
/** The LAN protocol version, advertised as `v`. */
export const LAN_PROTOCOL_VERSION = '1';

/** What a terminal advertises. */
export interface Advertisement {
  readonly replica: string;
  readonly storeHash: string;
  readonly fingerprint: string;
  /** Its LAN signaling port. */
  readonly port: number;
}

/** A peer found on the LAN, or through the roster or a typed address. */
export interface FoundPeer {
  readonly replica: string;
  /** The fingerprint its advertisement claims; absent when it was not found by mDNS. */
  readonly fingerprint?: string;
  /** `host:port` addresses of its LAN signaling server. */
  readonly addresses: readonly string[];
  readonly via: 'mdns' | 'roster' | 'manual';
}

/** A running advertisement and browser. */
export interface Discovery {
  onFound(listener: (peer: FoundPeer) => void): () => void;
  stop(): Promise<void>;
}

/** Options of {@link startDiscovery}. */
export interface DiscoveryOptions extends Advertisement {
  /** The interface address to multicast on (default: every interface). */
  readonly interface?: string;
}

/** `host:port`, with an IPv6 host in brackets. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function txtOf(service: Service): Record<string, string> | undefined {
  const txt = service.txt as unknown;
  if (typeof txt !== 'object' || txt === null) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(txt)) {
    const s = typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
    if (s !== undefined && s.length <= 128) out[k] = s;
  }
  return out;
}

/** Advertises this terminal and browses for its peers. */
export function startDiscovery(options: DiscoveryOptions): Discovery {
  const listeners = new Set<(peer: FoundPeer) => void>();
  // Bonjour hands its options to multicast-dns, whose `interface` option its typings leave out.
  const mdnsOptions = (options.interface
    ? { interface: options.interface }
    : {}) as unknown as ConstructorParameters<typeof Bonjour>[0];
  const bonjour = new Bonjour(mdnsOptions, () => undefined);
  bonjour.publish({
    name: `loam-${options.replica}`,
    host: `loam-${options.replica}.local`,
    type: SERVICE_TYPE,
    protocol: 'tcp',
    port: options.port,
    txt: {
      v: LAN_PROTOCOL_VERSION,
      store: options.storeHash,
      replica: options.replica,
      fp: options.fingerprint,
    },
  });
  const report = (service: Service) => {
    const txt = txtOf(service);
    if (!txt || txt.v !== LAN_PROTOCOL_VERSION || txt.store !== options.storeHash) return;
    if (!txt.replica || !txt.fp || txt.replica === options.replica) return;
    if (!Number.isInteger(service.port) || service.port <= 0 || service.port > 65535) return;
    const hosts = new Set([
      ...(service.addresses ?? []),
      ...(service.referer ? [service.referer.address] : []),
    ]);
    const peer: FoundPeer = {
      replica: txt.replica,
      fingerprint: txt.fp,
      addresses: [...hosts].map((h) => formatAddress(h, service.port)),
      via: 'mdns',
    };
    if (peer.addresses.length > 0) for (const l of [...listeners]) l(peer);
  };
  const browser = bonjour.find({ type: SERVICE_TYPE, protocol: 'tcp' });
  browser.on('up', report);
  browser.on('srv-update', report);
  browser.on('txt-update', report);
  return {
    onFound(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        browser.stop();
        bonjour.unpublishAll(() => bonjour.destroy(() => resolve()));
      }),
  };
}
