import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { SyncClientError } from '../errors';
import type { TransportCloseEvent } from './transport';
import { createWebSocketTransport, type WebSocketConstructor } from './transport-websocket';

const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    for (const c of s.clients) c.terminate();
    await new Promise((resolve) => s.close(resolve));
  }
});

async function listen(): Promise<{ server: WebSocketServer; url: string }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  return { server, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const Ws = WebSocket as unknown as WebSocketConstructor;

function record(url: string) {
  const transport = createWebSocketTransport({ url, WebSocket: Ws });
  const log = {
    opened: 0,
    frames: [] as number[][],
    closes: [] as TransportCloseEvent[],
    errors: [] as Error[],
  };
  transport.onOpen(() => log.opened++);
  transport.onFrame((f) => log.frames.push([...f]));
  transport.onClose((e) => log.closes.push(e));
  transport.onError((e) => log.errors.push(e));
  return { transport, log };
}

describe('WebSocket transport', () => {
  it('carries binary frames both ways, in order, and closes once', async () => {
    const { server, url } = await listen();
    const received: number[][] = [];
    server.on('connection', (socket) => {
      socket.on('message', (data) => {
        received.push([...(data as Buffer)]);
        socket.send(Buffer.from([9, ...(data as Buffer)]));
      });
    });
    const { transport, log } = record(url);
    transport.send(new Uint8Array([0]));
    await vi.waitFor(() => expect(log.opened).toBe(1));
    for (let i = 1; i <= 20; i++) transport.send(new Uint8Array([i, i + 1]));
    await vi.waitFor(() => expect(log.frames).toHaveLength(20));
    expect(received).toEqual(Array.from({ length: 20 }, (_, i) => [i + 1, i + 2]));
    expect(log.frames[0]).toEqual([9, 1, 2]);
    transport.close();
    transport.close();
    expect(log.closes).toHaveLength(1);
    transport.send(new Uint8Array([1]));
    expect(received).toHaveLength(20);
  });

  it('reports a refused connection as one close without open', async () => {
    const { server, url } = await listen();
    await new Promise((resolve) => server.close(resolve));
    servers.splice(0);
    const { log } = record(url);
    await vi.waitFor(() => expect(log.closes).toHaveLength(1));
    expect(log.opened).toBe(0);
  });

  it('treats a text frame as a broken protocol: error, then close', async () => {
    const { server, url } = await listen();
    server.on('connection', (socket) => socket.send('hello'));
    const { log } = record(url);
    await vi.waitFor(() => expect(log.closes).toHaveLength(1));
    expect(log.frames).toEqual([]);
    expect(log.errors[0]).toMatchObject({ code: 'transport_failed' });
  });

  it('reports the server going away as a close', async () => {
    const { server, url } = await listen();
    server.on('connection', (socket) => setImmediate(() => socket.terminate()));
    const { log } = record(url);
    await vi.waitFor(() => expect(log.closes).toHaveLength(1));
    expect(log.opened).toBe(1);
  });

  it('needs a WebSocket implementation where the runtime has none', () => {
    const global = globalThis as { WebSocket?: unknown };
    const saved = global.WebSocket;
    global.WebSocket = undefined;
    try {
      expect(() => createWebSocketTransport({ url: 'ws://127.0.0.1:1' })).toThrow(SyncClientError);
    } finally {
      global.WebSocket = saved;
    }
  });
});
