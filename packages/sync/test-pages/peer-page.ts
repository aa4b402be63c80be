/**
 * The page of `peer-link.browser.test.ts`: keeps a WebRTC link to the other test page with `createPeerConnector`
 * on the main thread and hands each open link's port to its worker. Signals leave through the `loamSignal`
 * binding the test installs and arrive through `signal()`. Not part of the package's API.
 */
import { createPeerConnector, type PeerConnector, SimplePeer } from '@loam/sync/webrtc';
import * as Comlink from 'comlink';
import type { PeerPortWorker } from './peer-port-worker';

declare const loamSignal: (message: string) => Promise<void>;

const worker = Comlink.wrap<PeerPortWorker>(
  new Worker(new URL('./peer-port-worker.ts', import.meta.url), { type: 'module' }),
);
let connector: PeerConnector | undefined;
let links = 0;

const page = {
  start(initiator: boolean) {
    connector = createPeerConnector({
      initiator,
      sendSignal: (message) => void loamSignal(message),
      onLink: (link) => {
        links++;
        void worker.attach(Comlink.transfer(link.port, [link.port]));
      },
      link: { SimplePeer, keepAliveMs: 250, deadAfterMs: 2_000 },
      backoff: { baseMs: 100, maxMs: 1_000 },
    });
  },
  signal: (message: string) => connector?.signal(message),
  /** Closes the current link from this side, as a dropped data channel would. */
  dropLink: () => connector?.current()?.close(1006, 'dropped by the test'),
  links: () => links,
  send: (prefix: string, count: number, bytes: number) => worker.send(prefix, count, bytes),
  received: () => worker.received(),
  receivedBytes: () => worker.receivedBytes(),
  state: () => worker.state(),
  closes: () => worker.closes(),
};

(globalThis as unknown as { __peerPage: typeof page }).__peerPage = page;
