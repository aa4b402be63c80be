/**
 * A page of `shell-peers.browser.test.ts`: the POS side of peering inside the desktop shell, with the shell
 * emulated. `window.loamDesktop` is built by the real preload code (`createDesktopApi`) over the `loamDesktopInvoke`
 * binding the test installs, which runs the real IPC router and peer service in Node; main's events arrive through
 * `__loamDesktopEvent`. For each LAN peer main reports, the page keeps a WebRTC link (`createPeerConnector`) whose
 * signals travel through main, and hands each open link's port to a worker. Not part of the app.
 */
import { createPeerConnector, type PeerConnector, SimplePeer } from '@loam/sync/webrtc';
import * as Comlink from 'comlink';
import { createDesktopApi } from '../src/preload/desktop-api';

declare const loamDesktopInvoke: (channel: string, args: unknown[]) => Promise<unknown>;

type PeerPortWorker = {
  attach(port: MessagePort): void;
  send(prefix: string, count: number, bytes: number): Promise<void>;
  received(): string[];
  state(): string;
};

const events = new Set<(event: unknown) => void>();
(globalThis as unknown as { __loamDesktopEvent: (e: unknown) => void }).__loamDesktopEvent = (event) => {
  for (const l of events) l(event);
};
const desktop = createDesktopApi(
  (channel, ...args) => loamDesktopInvoke(channel, args),
  (listener) => {
    events.add(listener);
    return () => events.delete(listener);
  },
);
const worker = Comlink.wrap<PeerPortWorker>(
  new Worker('/packages/sync/test-pages/peer-port-worker.ts', { type: 'module' }),
);
const connectors = new Map<string, PeerConnector>();

const page = {
  async start(replica: string, storeHash: string) {
    desktop.peers.onEvent((event) => {
      if (event.t === 'connected' && !connectors.has(event.replica)) {
        const peer = event.replica;
        connectors.set(
          peer,
          createPeerConnector({
            initiator: replica < peer,
            sendSignal: (message) => void desktop.peers.signal(peer, message),
            onLink: (link) => void worker.attach(Comlink.transfer(link.port, [link.port])),
            link: { SimplePeer, keepAliveMs: 250, deadAfterMs: 2_000 },
          }),
        );
      }
      if (event.t === 'signal') connectors.get(event.from)?.signal(event.data);
    });
    return await desktop.peers.start({ replica, storeHash });
  },
  peers: () => desktop.peers.list(),
  send: (prefix: string, count: number) => worker.send(prefix, count, 10),
  received: () => worker.received(),
  state: () => worker.state(),
};

(globalThis as unknown as { __shellPeerPage: typeof page }).__shellPeerPage = page;
