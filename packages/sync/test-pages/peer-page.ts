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

let raw: InstanceType<typeof SimplePeer> | undefined;

const page = {
  /**
   * A bare simple-peer data channel on the main thread, no worker, no port, no Loam framing: the baseline of
   * `peer-link.bench.ts`. Its signals go through `loamSignal` as `raw:` messages.
   */
  rawStart(initiator: boolean, echo: boolean) {
    const peer = new SimplePeer({ initiator, trickle: true, config: { iceServers: [] }, channelConfig: {} });
    raw = peer;
    peer.on('signal', (data) => void loamSignal(`raw:${JSON.stringify(data)}`));
    if (echo) peer.on('data', (data) => peer.write(data));
    return new Promise<void>((resolve) => peer.on('connect', () => resolve()));
  },
  async rawRoundTrips(count: number) {
    const peer = raw;
    if (!peer) throw new Error('no raw peer');
    const times: number[] = [];
    let pong: (() => void) | undefined;
    peer.on('data', () => pong?.());
    for (let i = 0; i < count; i++) {
      const back = new Promise<void>((resolve) => {
        pong = resolve;
      });
      const start = performance.now();
      peer.write(new Uint8Array(65));
      await back;
      times.push(performance.now() - start);
    }
    return times;
  },
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
  signal: (message: string) =>
    message.startsWith('raw:') ? raw?.signal(JSON.parse(message.slice(4))) : connector?.signal(message),
  setEcho: (on: boolean) => worker.setEcho(on),
  roundTrips: (count: number) => worker.roundTrips(count),
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
