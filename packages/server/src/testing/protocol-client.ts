/**
 * A raw protocol client for tests and benchmarks: a `ws` WebSocket speaking `@loam/sync` frames, with every
 * received message buffered so a test can await the next one matching a predicate (with a deadline).
 */
import type { Op, ReplicaId } from '@loam/core';
import { encodeOps } from '@loam/core';
import {
  type ClientMessage,
  decodeServerMessage,
  encodeMessage,
  PROTOCOL_VERSION,
  type ServerMessage,
  type Subscription,
} from '@loam/sync';
import WebSocket from 'ws';

/** How a connection ended. */
export interface Closed {
  readonly code: number;
  readonly reason: string;
}

/** A connected test client. */
export interface ProtocolClient {
  readonly ws: WebSocket;
  /** Every message received so far, in order. */
  readonly received: ServerMessage[];
  send(message: ClientMessage): void;
  sendRaw(bytes: Uint8Array | string): void;
  /** The next message not yet consumed that matches `match`; rejects after `timeoutMs` or when closed first. */
  waitFor(match: (m: ServerMessage) => boolean, timeoutMs?: number): Promise<ServerMessage>;
  /** The next message of type `type` (not yet consumed) matching `match`. */
  next<T extends ServerMessage['t']>(
    type: T,
    match?: (m: ServerMessage & { t: T }) => boolean,
    timeoutMs?: number,
  ): Promise<ServerMessage & { t: T }>;
  /** Sends `hello` and resolves with `welcome` (rejects with the `error` frame's code if refused). */
  hello(input: {
    replica: ReplicaId;
    token: string | null;
    cursor?: number;
    subs?: Subscription[];
    schemaVersion?: number;
    /** A device public key: the relay answers with a `certificate`. */
    device?: Uint8Array;
    /** The newest snapshot format to announce (absent: none, as a client older than format 2 sends). */
    snapshots?: number;
  }): Promise<ServerMessage & { t: 'welcome' }>;
  /** Pushes ops as batch `batch` and resolves with its ack. */
  push(batch: number, ops: readonly Op[]): Promise<ServerMessage & { t: 'ack' }>;
  /** Resolves when the server closes the connection. */
  readonly closed: Promise<Closed>;
  close(): void;
}

/** Options of {@link connectClient}. */
export interface ConnectOptions {
  readonly origin?: string;
}

/** Opens a connection; rejects when the upgrade is refused (with the HTTP status in the message). */
export function connectClient(url: string, options: ConnectOptions = {}): Promise<ProtocolClient> {
  const ws = new WebSocket(url, { ...(options.origin !== undefined ? { origin: options.origin } : {}) });
  const received: ServerMessage[] = [];
  let consumed = new Set<ServerMessage>();
  const waiters = new Set<() => void>();
  let closedInfo: Closed | undefined;
  const closed = new Promise<Closed>((resolve) => {
    ws.on('close', (code, reason) => {
      closedInfo = { code, reason: reason.toString() };
      resolve(closedInfo);
      for (const w of waiters) w();
    });
  });
  ws.on('message', (data) => {
    received.push(decodeServerMessage(new Uint8Array(data as Buffer)));
    for (const w of waiters) w();
  });

  const client: ProtocolClient = {
    ws,
    received,
    closed,
    send: (message) => ws.send(encodeMessage(message)),
    sendRaw: (bytes) => ws.send(bytes),
    waitFor(match, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (const m of received) {
            if (consumed.has(m) || !match(m)) continue;
            consumed.add(m);
            cleanup();
            resolve(m);
            return;
          }
          if (closedInfo) {
            cleanup();
            reject(
              new Error(
                `connection closed (${closedInfo.code} ${closedInfo.reason}) before the awaited frame`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(
              `awaited frame not received within ${timeoutMs} ms; received ${received.map((m) => m.t).join(', ')}`,
            ),
          );
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    next(type, match, timeoutMs) {
      return client.waitFor(
        (m) => m.t === type && (!match || match(m as ServerMessage & { t: typeof type })),
        timeoutMs,
      ) as Promise<ServerMessage & { t: typeof type }>;
    },
    async hello(input) {
      client.send({
        t: 'hello',
        protocol: PROTOCOL_VERSION,
        replica: input.replica,
        token: input.token,
        schemaVersion: input.schemaVersion ?? 1,
        cursor: input.cursor ?? 0,
        subs: input.subs ?? [],
        ...(input.device ? { device: input.device } : {}),
        ...(input.snapshots === undefined ? {} : { snapshots: input.snapshots }),
      });
      const first = await client.waitFor((m) => m.t === 'welcome' || m.t === 'error');
      if (first.t === 'error') throw Object.assign(new Error(first.message), { code: first.code });
      return first as ServerMessage & { t: 'welcome' };
    },
    async push(batch, ops) {
      client.send({ t: 'push', batch, ops: encodeOps(ops) });
      return client.next('ack', (m) => m.batch === batch);
    },
    close() {
      consumed = new Set();
      ws.close();
    },
  };

  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`upgrade refused with HTTP ${res.statusCode}`));
      res.resume();
    });
    ws.once('error', reject);
  });
}
