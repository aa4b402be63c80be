/**
 * The relay server: one HTTP server carrying the sync protocol (WebSocket upgrade, any path), the HTTP API
 * (`/v1/...`), `/healthz` and `/metrics`.
 *
 * Start-up: opens (creating) the storage (the SQLite file, or PostgreSQL when `databaseUrl` is set), restores the
 * server clock so it never goes back, folds away history older than the horizon (then hourly), verifies the
 * configured keys, and listens. Sessions and webhooks follow the store's commit feed, so commits made through
 * other relay nodes sharing the database reach them too; when the feed lost versions, every session is closed
 * (1012) and its device resumes from its cursor. `close()` stops accepting, closes every connection, waits for
 * queued batches to commit and closes the storage.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createClock } from '@loam/core';
import { type WebSocket, WebSocketServer } from 'ws';
import { createVerifier } from './auth/auth';
import type { ServerConfig } from './config/config';
import { type Devices, openDevices } from './devices/devices';
import { ServerErrorCode } from './errors';
import { createHttpApi } from './http/http-api';
import { createWebhooks, type Webhooks } from './http/webhooks';
import { createAddressLimits } from './limits/address-limits';
import { createBadFrameLimits } from './limits/bad-frames';
import { createMetrics, type Metrics } from './metrics/metrics';
import { createFanOutIndex } from './relay/fan-out-index';
import { createRelay, type Relay } from './relay/relay';
import { createSession, type Session } from './relay/session';
import { createSignalingHub } from './relay/signaling';
import { createWsTransport, setMaxPayload } from './relay/transport-ws';
import { openServerStore } from './storage/open-store';
import type { ServerStore } from './storage/server-store';

/** Options of {@link startServer}. */
export interface StartServerOptions {
  readonly config: ServerConfig;
  /** A store to use instead of the one the configuration names (`databaseUrl`, else `storagePath`). */
  readonly store?: ServerStore;
  /** Wall clock (Unix ms) for the server clock, token expiry and compaction. */
  readonly now?: () => number;
  /** First webhook retry delay (default 500 ms). */
  readonly webhookBaseDelayMs?: number;
}

/** A running relay. */
export interface LoamServer {
  /** `http://host:port` of the HTTP API. */
  readonly url: string;
  /** `ws://host:port/sync` for devices. */
  readonly wsUrl: string;
  readonly port: number;
  readonly metrics: Metrics;
  readonly relay: Relay;
  readonly store: ServerStore;
  /** The device authority (certificates, revocations). */
  readonly devices: Devices;
  /** Resolves when no webhook delivery is pending. */
  webhooksIdle(): Promise<void>;
  /** Stops the server; idempotent. */
  close(): Promise<void>;
}

const COMPACT_EVERY_MS = 3600_000;

function originAllowed(config: ServerConfig, origin: string | undefined): boolean {
  if (origin === undefined) return true;
  return config.allowedOrigins.includes('*') || config.allowedOrigins.includes(origin);
}

const STATUS_TEXT: Record<number, string> = { 403: 'Forbidden', 429: 'Too Many Requests' };

function refuseUpgrade(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ code, message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** Starts a relay with a checked configuration. */
export async function startServer(options: StartServerOptions): Promise<LoamServer> {
  const { config } = options;
  const now = options.now ?? Date.now;
  const store =
    options.store ??
    (await openServerStore(config.databaseUrl ?? config.storagePath, { schema: config.schema }));
  const metrics = createMetrics();
  metrics.attachStore(store.stats);
  let webhooks: Webhooks | undefined;
  try {
    const meta = await store.meta();
    const clock = createClock({
      replica: meta.replica,
      now,
      maxDriftMs: config.maxClockDriftMs,
      ...(meta.clock !== undefined ? { last: meta.clock } : {}),
    });
    await store.compact(now() - config.historyHorizonMs);
    const verifier = await createVerifier(config.auth, now);
    const devices = await openDevices({ ...config.devices, rules: config.rules, now });
    const relay = createRelay({
      store,
      schema: config.schema,
      rules: config.rules,
      clock,
      nextSeq: meta.nextSeq,
      now,
    });
    webhooks = createWebhooks({
      hooks: config.webhooks,
      schema: config.schema,
      store,
      metrics,
      ...(options.webhookBaseDelayMs !== undefined ? { baseDelayMs: options.webhookBaseDelayMs } : {}),
    });
    const hooks = webhooks;
    const signaling = createSignalingHub({ rules: config.peers, now });
    const sessions = new Set<Session>();
    const perUser = new Map<string, number>();
    const fanOut = createFanOutIndex<Session>();
    relay.onCommit((commit) => {
      for (const s of fanOut.sessionsOf(commit)) s.onCommit(commit);
      hooks.onCommit(commit);
      metrics.fanOutLag((now() - commit.at) / 1000);
    });
    devices.onRevocations((list) => {
      for (const s of sessions) s.onRevocations(list);
    });

    const api = createHttpApi({
      relay,
      store,
      devices,
      metrics,
      maxBodyBytes: config.limits.frameBytes,
      ...(config.serviceToken !== undefined ? { serviceToken: config.serviceToken } : {}),
    });
    const json = (res: ServerResponse, status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(text);
    };
    const http = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/healthz') {
        const backend = store.info.backend;
        store.ping().then(
          (ms) => json(res, 200, { ok: true, version: relay.version(), store: { backend, latencyMs: ms } }),
          (error: Error) =>
            json(res, 503, { ok: false, version: relay.version(), store: { backend, error: error.message } }),
        );
        return;
      }
      if (path === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        return res.end(metrics.render());
      }
      api(req, res)
        .then((handled) => {
          if (!handled) json(res, 404, { code: ServerErrorCode.notFound, message: 'No such route' });
        })
        .catch(() => json(res, 500, { code: ServerErrorCode.storage, message: 'The server failed' }));
    });

    const maxPayload = config.limits.frameBytes * 2 + 1024;
    const wss = new WebSocketServer({ noServer: true, maxPayload });
    relay.onGap(() => {
      for (const ws of wss.clients) ws.close(1012, 'resync: reconnect and resume from your cursor');
    });
    const alive = new WeakMap<WebSocket, boolean>();
    const addresses = createAddressLimits(config.limits);
    const badFrames = createBadFrameLimits({
      perMinute: config.limits.badFramesPerMinute,
      cooldownMs: config.limits.badFrameCooldownMs,
    });
    http.on('upgrade', (req, socket, head) => {
      const origin = req.headers.origin;
      if (!originAllowed(config, origin)) {
        metrics.error(ServerErrorCode.originDenied);
        return refuseUpgrade(socket, 403, ServerErrorCode.originDenied, `Origin ${origin} is not allowed`);
      }
      const address = req.socket.remoteAddress ?? 'unknown';
      const refused = addresses.admit(address);
      if (refused) {
        metrics.error(refused);
        return refuseUpgrade(
          socket,
          429,
          refused,
          refused === ServerErrorCode.tooManyConnections
            ? `Address ${address} holds ${config.limits.connectionsPerAddress} connections already`
            : `Address ${address} opens more than ${config.limits.handshakesPerSecond} connections a second`,
        );
      }
      let released = false;
      const release = () => {
        if (!released) addresses.release(address);
        released = true;
      };
      socket.once('close', release);
      wss.handleUpgrade(req, socket, head, (ws) => {
        setMaxPayload(ws, config.limits.preHelloFrameBytes);
        alive.set(ws, true);
        ws.on('pong', () => alive.set(ws, true));
        metrics.connections++;
        const session: Session = createSession(createWsTransport(ws), {
          relay,
          store,
          verifier,
          metrics,
          signaling,
          limits: config.limits,
          historyHorizon: async () => (await store.meta()).horizon,
          admit: (user) => {
            const n = perUser.get(user) ?? 0;
            if (n >= config.limits.connectionsPerUser) return false;
            perUser.set(user, n + 1);
            return true;
          },
          release: (user) => {
            const n = (perUser.get(user) ?? 1) - 1;
            if (n <= 0) perUser.delete(user);
            else perUser.set(user, n);
          },
          now,
          signedIn: () => setMaxPayload(ws, maxPayload),
          badFrame: (user) => badFrames.strike(user),
          coolingDown: (user) => badFrames.coolingDown(user),
          devices,
          maxClockDriftMs: config.maxClockDriftMs,
          viewsChanged: (subs) => fanOut.set(session, subs),
        });
        sessions.add(session);
        ws.on('close', () => {
          sessions.delete(session);
          fanOut.delete(session);
          metrics.connections--;
        });
      });
    });

    const keepAlive = setInterval(() => {
      // After the next read of the sockets: a relay whose event loop was busy past the interval (a reconnect storm
      // on a loaded machine) runs this timer before it reads the pongs that came in time, and ended every
      // connection at once, which started the next storm.
      setImmediate(() => {
        for (const ws of wss.clients) {
          if (alive.get(ws) === false) {
            ws.terminate();
            continue;
          }
          alive.set(ws, false);
          ws.ping();
        }
      });
    }, config.keepAliveMs);
    keepAlive.unref();
    const compaction = setInterval(() => {
      store.compact(now() - config.historyHorizonMs).catch(() => undefined);
    }, COMPACT_EVERY_MS);
    compaction.unref();

    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(config.port, config.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
    const port = (http.address() as AddressInfo).port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    let closing: Promise<void> | undefined;
    return {
      url: `http://${host}:${port}`,
      wsUrl: `ws://${host}:${port}/sync`,
      port,
      metrics,
      relay,
      store,
      devices,
      webhooksIdle: () => hooks.idle(),
      close() {
        closing ??= (async () => {
          clearInterval(keepAlive);
          clearInterval(compaction);
          addresses.close();
          badFrames.close();
          for (const ws of wss.clients) ws.terminate();
          wss.close();
          const stopped = new Promise<void>((resolve) => http.close(() => resolve()));
          http.closeAllConnections();
          await stopped;
          await relay.drain();
          await hooks.close();
          await store.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    await webhooks?.close();
    await store.close();
    throw error;
  }
}
