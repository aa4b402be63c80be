/**
 * The worker of `peer-link.browser.test.ts`: holds the worker's end of each WebRTC link the page hands it (a
 * `MessagePort` wrapped by `createMessagePortTransport`, exactly as the sync engine would) and records what
 * arrives. Exposed over Comlink; not part of the package's API.
 */
import { createMessagePortTransport, type Transport } from '@loam/sync';
import * as Comlink from 'comlink';

let transport: Transport | undefined;
let echo = false;
let pong: ((frame: Uint8Array) => void) | undefined;
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
    t.onFrame((frame) => {
      if (echo) return t.send(frame);
      if (pong) return pong(frame);
      received.push(text.decode(frame));
    });
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
  /** Sends every frame received straight back (the far end of `roundTrips`). */
  setEcho(on: boolean) {
    echo = on;
  },
  /** Sends `count` small frames one at a time to an echoing peer; the round-trip time of each, ms. */
  async roundTrips(count: number) {
    const t = transport;
    if (!t) throw new Error('no link attached');
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const back = new Promise<Uint8Array>((resolve) => {
        pong = resolve;
      });
      const start = performance.now();
      t.send(new Uint8Array(64));
      await back;
      times.push(performance.now() - start);
    }
    pong = undefined;
    return times;
  },
  received: () => received.map((r) => r.slice(0, r.indexOf('|'))),
  receivedBytes: () => received.reduce((n, r) => n + r.length, 0),
  state: () => state,
  closes: () => closes,
};

export type PeerPortWorker = typeof api;
Comlink.expose(api);
