/**
 * The real relay, in process: `@loam/server`'s SQLite store on a file (or its PostgreSQL store in a schema of the
 * test database of its own), its relay (screening, commits, fan-out) and a protocol session per connection, wired
 * as `startServer` wires them, minus HTTP and WebSocket: the fuzzer's network hands each connection's server end
 * to `accept`. `restart()` closes the store (every session's connection drops) and opens the same file or schema
 * again, as a restarted relay process (a new node, on PostgreSQL) would.
 *
 * The PostgreSQL store runs its group window and poll on the run's virtual timers; its queries are real I/O, which
 * the scheduler awaits after each event (`busy`, `settled`), so a run still moves one event at a time.
 */
import { join } from 'node:path';
import { createClock, type ReplicaId, type Rules, type Schema } from '@loam/core';
import {
  CONFIG_DEFAULTS,
  createMetrics,
  createPostgresServerStore,
  createRelay,
  createSession,
  createSignalingHub,
  createSqliteServerStore,
  createVerifier,
  type Devices,
  type Identity,
  openDevices,
  type PostgresServerStore,
  type Relay,
  type ServerStore,
  type Session,
  type Verifier,
} from '@loam/server';
import { AUDIENCE, createTestSchema, HS256_SECRET, ISSUER, type TestSchema } from '@loam/server/testing';
import type { Timers, Transport } from '@loam/sync';
import Database from 'better-sqlite3';

/** Largest accepted lead of a device's timestamps over the relay's clock (the fuzzer's skews stay inside it). */
export const MAX_DRIFT_MS = 60_000;

/** The relay's store: a SQLite file, or PostgreSQL at `LOAM_TEST_PG_URL`. */
export type StoreKind = 'sqlite' | 'postgres';

/** A running (or stopped) in-process relay. */
export interface RelayHost {
  /** The live relay and store (throws while stopped). */
  current(): { relay: Relay; store: ServerStore };
  isUp(): boolean;
  /** Attaches a session to a new connection's server end; false while the relay is down. */
  accept(transport: Transport): boolean;
  /** Closes every session and the store (the connections drop, as when the process dies). */
  stop(): Promise<void>;
  /** Opens the store again and starts serving. */
  start(): Promise<void>;
  /**
   * Verifies a device's token ahead of its connections. Token checks run on the thread pool (WebCrypto), so their
   * completion would land at a different point of the run each time; a checked token resolves at once afterwards.
   */
  verifyAhead(token: string, replica: ReplicaId): Promise<void>;
  /** Folds away history older than `cutoff` (Unix ms); devices with older cursors get a client reset. */
  compact(cutoff: number): Promise<void>;
  /** The store's op ledger: each op id it holds → the digest of the content held under it (`opDigest`). */
  opLedger(): Promise<Map<string, Uint8Array | null>>;
  /** Whether the store's real I/O (PostgreSQL queries) is in flight. */
  busy(): boolean;
  /** Resolves once it is not. */
  settled(): Promise<void>;
  /** Stops and deletes the relay's database (the PostgreSQL schema; the caller deletes the folder). */
  dispose(): Promise<void>;
}

/** Creates the relay host over a database in `dir` (started by `start()`). */
export function createRelayHost(
  dir: string,
  schema: Schema,
  rules: Rules,
  now: () => number,
  dropConnections: () => void,
  backend: { readonly store: StoreKind; readonly timers: Timers } = { store: 'sqlite', timers: globalThis },
): RelayHost {
  const file = join(dir, 'relay.db');
  const pg: TestSchema | undefined = backend.store === 'postgres' ? createTestSchema('loam_fuzz') : undefined;
  let postgres: PostgresServerStore | undefined;
  let up:
    | { relay: Relay; store: ServerStore; sessions: Set<Session>; perUser: Map<string, number> }
    | undefined;
  let verifier: Verifier | undefined;
  let devices: Devices | undefined;
  const signaling = createSignalingHub({ rules: undefined, now });
  const verified = new Map<string, Identity>();
  const checkToken = async () => {
    const real = await createVerifier(
      { hs256Secret: HS256_SECRET, publicKeys: [], issuer: ISSUER, audience: AUDIENCE, anonymous: false },
      now,
    );
    return {
      algorithms: real.algorithms,
      verify(token: string | null, replica: ReplicaId) {
        const known = verified.get(`${token}\u0000${replica}`);
        return known ? Promise.resolve(known) : real.verify(token, replica);
      },
    } satisfies Verifier;
  };
  const metrics = createMetrics();
  const host: RelayHost = {
    current() {
      if (!up) throw new Error('the relay is down');
      return up;
    },
    isUp: () => up !== undefined,
    accept(transport) {
      if (!up || !verifier || !devices) return false;
      const { relay, store, sessions, perUser } = up;
      const session = createSession(transport, {
        relay,
        store,
        verifier,
        metrics,
        limits: { ...CONFIG_DEFAULTS.limits, frameBytes: 256 * 1024, opsPerBatch: 500 },
        historyHorizon: async () => (await store.meta()).horizon,
        admit: (user) => {
          perUser.set(user, (perUser.get(user) ?? 0) + 1);
          return true;
        },
        release: (user) => perUser.set(user, (perUser.get(user) ?? 1) - 1),
        now,
        signaling,
        devices,
        maxClockDriftMs: MAX_DRIFT_MS,
      });
      sessions.add(session);
      transport.onClose(() => sessions.delete(session));
      return true;
    },
    async start() {
      verifier ??= await checkToken();
      devices ??= await openDevices({
        keyFile: join(dir, 'relay.key'),
        certificateMs: 7 * 24 * 3600_000,
        rules,
        now,
      });
      postgres = pg
        ? await createPostgresServerStore({ url: pg.url, schema, poolSize: 1, timers: backend.timers })
        : undefined;
      const store = postgres ?? (await createSqliteServerStore({ filename: file, schema }));
      const meta = await store.meta();
      const clock = createClock({
        replica: meta.replica,
        now,
        maxDriftMs: MAX_DRIFT_MS,
        ...(meta.clock !== undefined ? { last: meta.clock } : {}),
      });
      const relay = createRelay({ store, schema, rules, clock, nextSeq: meta.nextSeq, now });
      const sessions = new Set<Session>();
      relay.onCommit((commit) => {
        for (const s of sessions) s.onCommit(commit);
      });
      relay.onGap(dropConnections);
      up = { relay, store, sessions, perUser: new Map() };
    },
    async stop() {
      if (!up) return;
      const { relay, store } = up;
      up = undefined;
      dropConnections();
      if (postgres) {
        // A push still in flight can reach the group queue after a flush, and its window runs on the virtual
        // clock, which stands still while the run awaits this stop: flush until every push has ended.
        const pg = postgres;
        let drained = false;
        const draining = relay.drain().finally(() => {
          drained = true;
        });
        while (!drained) {
          pg.flush();
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        await draining;
      } else await relay.drain();
      await store.close();
      postgres = undefined;
    },
    async verifyAhead(token, replica) {
      verifier ??= await checkToken();
      devices ??= await openDevices({
        keyFile: join(dir, 'relay.key'),
        certificateMs: 7 * 24 * 3600_000,
        rules,
        now,
      });
      const identity = await verifier.verify(token, replica);
      verified.set(`${token}\u0000${replica}`, identity);
    },
    async compact(cutoff) {
      await up?.store.compact(cutoff);
    },
    async opLedger() {
      if (!pg) return readSqliteOpLedger(file);
      const rows = await pg.query<{ id: string; hash: Uint8Array | null }>(
        'SELECT id, hash FROM loam_server_ops',
      );
      return new Map(rows.map((r) => [r.id, r.hash && new Uint8Array(r.hash)]));
    },
    busy: () => postgres?.busy() ?? false,
    settled: () => postgres?.settled() ?? Promise.resolve(),
    async dispose() {
      await host.stop();
      await pg?.drop();
    },
  };
  return host;
}

/** The op ledger (op id → content digest) of a relay's SQLite file, read while no relay has it open. */
export function readSqliteOpLedger(file: string): Map<string, Uint8Array | null> {
  const ledger = new Database(file, { readonly: true });
  try {
    const rows = ledger
      .prepare<[], { id: string; hash: Uint8Array | null }>('SELECT id, hash FROM loam_server_ops')
      .all();
    return new Map(rows.map((r) => [r.id, r.hash && new Uint8Array(r.hash)]));
  } finally {
    ledger.close();
  }
}
