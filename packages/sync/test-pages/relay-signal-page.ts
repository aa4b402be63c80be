/**
 * The page of `relay-signaling.browser.test.ts`: signs in to the relay in a database worker, and for each online
 * peer of the relay's roster keeps a WebRTC link (`createPeerConnector`) whose signals travel through the relay;
 * each open link's port goes to a second worker that holds the transport end. Not part of the package's API.
 */
import { createPeerConnector, type PeerConnector, SimplePeer } from '@loam/sync/webrtc';
import * as Comlink from 'comlink';
import type { PeerPortWorker } from './peer-port-worker';
import type { RelaySignalWorker } from './relay-signal-worker';

const db = Comlink.wrap<RelaySignalWorker>(
  new Worker(new URL('./relay-signal-worker.ts', import.meta.url), { type: 'module' }),
);
const links = Comlink.wrap<PeerPortWorker>(
  new Worker(new URL('./peer-port-worker.ts', import.meta.url), { type: 'module' }),
);
const connectors = new Map<string, PeerConnector>();

const page = {
  async start(url: string, name: string, token: string) {
    const self = await db.open(url, name, token);
    const connect = (peer: string) => {
      if (connectors.has(peer)) return;
      connectors.set(
        peer,
        createPeerConnector({
          initiator: self < peer,
          sendSignal: (message) => void db.signal(peer, message),
          onLink: (link) => void links.attach(Comlink.transfer(link.port, [link.port])),
          link: { SimplePeer, keepAliveMs: 250, deadAfterMs: 2_000 },
        }),
      );
    };
    await db.onSignal(
      Comlink.proxy((from: string, data: string) => {
        connect(from);
        connectors.get(from)?.signal(data);
      }),
    );
    setInterval(async () => {
      for (const peer of await db.onlinePeers()) connect(peer);
    }, 100);
    return self;
  },
  relayConnected: () => db.connected(),
  send: (prefix: string, count: number) => links.send(prefix, count, 10),
  received: () => links.received(),
  state: () => links.state(),
};

(globalThis as unknown as { __relayPeerPage: typeof page }).__relayPeerPage = page;
