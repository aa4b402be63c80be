/**
 * The worker of `peer-link.browser.test.ts`: holds the worker's end of each WebRTC link the page hands it (a
 * `MessagePort` wrapped by `createMessagePortTransport`, exactly as the sync engine would) and records what
 * arrives. Exposed over Comlink; not part of the package's API.
 */
import { createMessagePortTransport, type Transport } from '@loam/sync';
import * as Comlink from 'comlink';

let transport: Transport | undefined;
let state: 'none' | 'created' | 'open' | 'closed' = 'none';
const received: string[] = [];
const closes: { code: number; reason: string }[] = [];
const text = new TextDecoder();

const api = {
  ping: () => true,
  attach(port: MessagePort) {
    const t = createMessagePortTransport(port);
    transport = t;
    state = 'created';
    t.onOpen(() => {
      if (transport === t) state = 'open';
    });
    t.onFrame((frame) => received.push(text.decode(frame)));
    t.onClose((event) => {
      closes.push(event);
      if (transport === t) state = 'closed';
    });
  },
  /** Sends `count` frames `${prefix}-${i}`, each padded to `bytes`, awaiting `flushed()` after each. */
  async send(prefix: string, count: number, bytes: number) {
    const t = transport;
    if (!t) throw new Error('no link attached');
    for (let i = 0; i < count; i++) {
      const label = new TextEncoder().encode(`${prefix}-${i}|`);
      const frame = new Uint8Array(Math.max(bytes, label.length));
      frame.fill(46);
      frame.set(label);
      t.send(frame);
      await t.flushed?.();
    }
  },
  received: () => received.map((r) => r.slice(0, r.indexOf('|'))),
  receivedBytes: () => received.reduce((n, r) => n + r.length, 0),
  state: () => state,
  closes: () => closes,
};

export type PeerPortWorker = typeof api;
Comlink.expose(api);
