import { describe, expect, it } from 'vitest';
import type { TransportCloseEvent } from './transport';
import { createMessagePortTransport, readTransportEndMessage } from './transport-message-port';

/** A transport over one end of a real `MessageChannel`; the test plays the socket end on the other. */
function setup() {
  const { port1: socketEnd, port2 } = new MessageChannel();
  const transport = createMessagePortTransport(port2);
  const fromTransport: unknown[] = [];
  socketEnd.onmessage = (event) => fromTransport.push(readTransportEndMessage(event.data) ?? event.data);
  const frames: string[] = [];
  const closes: TransportCloseEvent[] = [];
  const errors: Error[] = [];
  transport.onFrame((f) => frames.push(new TextDecoder().decode(f)));
  transport.onClose((e) => closes.push(e));
  transport.onError((e) => errors.push(e));
  return { socketEnd, transport, fromTransport, frames, closes, errors };
}
const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('MessagePort transport (worker end)', () => {
  it('opens, carries frames both ways in order, and closes once', async () => {
    const t = setup();
    let opened = false;
    t.transport.onOpen(() => {
      opened = true;
    });
    t.transport.send(new Uint8Array([1]));
    t.socketEnd.postMessage({ t: 'open' });
    for (const text of ['a', 'b', 'c'])
      t.socketEnd.postMessage({ t: 'frame', frame: new TextEncoder().encode(text) });
    await expect.poll(() => t.frames).toEqual(['a', 'b', 'c']);
    expect(opened).toBe(true);
    t.transport.send(new Uint8Array([7]));
    await expect.poll(() => t.fromTransport).toEqual([{ t: 'send', frame: new Uint8Array([7]) }]);
    t.transport.close(1000, 'done');
    t.transport.close(1000, 'again');
    await expect.poll(() => t.fromTransport).toHaveLength(2);
    expect(t.fromTransport[1]).toEqual({ t: 'close', code: 1000, reason: 'done' });
    expect(t.closes).toEqual([{ code: 1000, reason: 'done' }]);
    t.socketEnd.close();
  });

  it('resolves flushed() only once the socket end reported the frames sent before it', async () => {
    const t = setup();
    t.socketEnd.postMessage({ t: 'open' });
    await tick();
    for (let i = 0; i < 3; i++) t.transport.send(new Uint8Array([i]));
    let flushed = false;
    const done = t.transport.flushed?.().then(() => {
      flushed = true;
    });
    t.socketEnd.postMessage({ t: 'flushed', sent: 2 });
    await tick();
    expect(flushed).toBe(false);
    t.socketEnd.postMessage({ t: 'flushed', sent: 3 });
    await done;
    expect(flushed).toBe(true);
    t.socketEnd.close();
  });

  it('closes with 1002 on a message that is not part of the protocol, delivering nothing of it', async () => {
    const t = setup();
    t.socketEnd.postMessage({ t: 'open' });
    t.socketEnd.postMessage({ t: 'frame', frame: 'not bytes' });
    t.socketEnd.postMessage({ t: 'frame', frame: new Uint8Array([1]) });
    await expect.poll(() => t.closes).toEqual([{ code: 1002, reason: 'protocol error' }]);
    await tick();
    expect(t.frames).toEqual([]);
    expect(t.errors.map((e) => (e as { code?: string }).code)).toEqual(['transport_failed']);
    await expect.poll(() => t.fromTransport).toEqual([{ t: 'close', code: 1002, reason: 'protocol error' }]);
    t.socketEnd.close();
  });
});
