/**
 * One device of the real-stack fuzzer: `@loam/store`'s engine on a better-sqlite3 file and `@loam/sync`'s client
 * over the fuzzer's network, with a skewed clock and virtual timers. It can be closed and reopened (a restart),
 * and its database files copied while closed and put back later (a restore from an older copy).
 *
 * The device's wire tap keeps what the run checks at the end: every op it pushed and every answer the relay gave.
 */
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { decodeOps, encodeOps, type Op, type Rules, type Schema } from '@loam/core';
import { mintToken } from '@loam/server/testing';
import type { Engine } from '@loam/store';
import { createBetterSqlite3Storage, openEngine } from '@loam/store/node';
import {
  createPeers,
  createSyncClient,
  decodeClientMessage,
  decodeServerMessage,
  type Peers,
  type SigningKeys,
  type SubscriptionHandle,
  type SyncClient,
} from '@loam/sync';
import { createFileKeyStore } from '@loam/sync/node';
import type { Rng } from '../random';
import type { Network, Scheduler } from './network';
import { noteForwarded, noteForwardOutcomes, type PeerWireLog } from './peer-wire';
import { MAX_DRIFT_MS } from './relay-host';
import { stackSchema } from './workload';

/** What the device pushed and heard back, since it was created (`epoch` counts restores). */
export interface WireLog {
  /**
   * Op id → the op, the restore epoch it was first pushed in, and when a push carrying it first reached the relay
   * (undefined: never); `pushedAt` when it was first pushed. A database restored from an older copy may push an
   * id again with other content: then the entry holds the newest content (and its epoch), `earlier` the contents
   * pushed before under that id.
   */
  readonly pushed: Map<
    string,
    PushedContent & { epoch: number; reachedAt?: number; earlier?: PushedContent[] }
  >;
  /** Op id → every answer the relay sent (arrived or lost): `accepted` or a refusal code, with when it was sent. */
  readonly answers: Map<string, { code: string; at: number; epoch: number }[]>;
  /** What the device forwarded for its peers and the relay's answers (see `peer-wire.ts`). */
  readonly peer: PeerWireLog;
}

/** An op as pushed, and when it was first pushed under its id. */
export interface PushedContent {
  readonly op: Op;
  readonly pushedAt: number;
}

/** A device of the run. */
export interface StackDevice {
  readonly index: number;
  readonly role: 'full' | 'clerk';
  /** The device's sign-in token. */
  readonly token: string;
  readonly log: WireLog;
  /** Restores so far. */
  epoch(): number;
  engine(): Engine;
  client(): SyncClient;
  /** The device's peer connections (with the `peers` option, while open). */
  peers(): Peers | undefined;
  /** Whether the relay certified this device's key (it may peer). */
  certified(): Promise<boolean>;
  isOpen(): boolean;
  /** Opens the database and starts syncing (subscriptions persist in the database). */
  open(): Promise<void>;
  /** Stops syncing and closes the database. */
  close(): Promise<void>;
  /** Subscribes to `items` (all, or those with `price < 25`) and `tallies`. */
  subscribe(filtered: boolean): SubscriptionHandle;
  hasBackup(): boolean;
  /** Copies the closed database files aside. */
  backup(): void;
  /** Puts the copy back over the closed database (an older copy: a backup, a VM snapshot). */
  restore(): void;
}

const FILES = ['', '-wal', '-shm'];

function sameContent(a: Op, b: Op): boolean {
  const x = encodeOps([a]);
  const y = encodeOps([b]);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Creates device `index` (opened by `open()`). */
export async function createDevice(options: {
  index: number;
  dir: string;
  role: 'full' | 'clerk';
  scheduler: Scheduler;
  network: Network;
  rng: Rng;
  /** Signs its transactions and syncs with peers too, judging their writes by these rules. */
  peers?: { rules: Rules };
}): Promise<StackDevice> {
  const { index, dir, role, scheduler, network, rng } = options;
  const file = join(dir, `device-${index}.db`);
  const copy = join(dir, `device-${index}.backup`);
  const skew = rng.int(-MAX_DRIFT_MS / 3, MAX_DRIFT_MS / 3);
  const now = () => scheduler.now() + skew;
  const token = await mintToken({ sub: `user-${index}`, role }, { alg: 'HS256', expiresIn: 6 * 24 * 3600 });
  const log: WireLog = { pushed: new Map(), answers: new Map(), peer: { forwarded: new Map() } };
  let epoch = 0;
  let open: { engine: Engine; client: SyncClient; peers?: Peers } | undefined;
  let keys: SigningKeys | undefined;

  const tap = (direction: 'up' | 'down', frame: Uint8Array, delivered: boolean) => {
    if (direction === 'up') {
      const message = decodeClientMessage(frame);
      if (message.t === 'forward') noteForwarded(log.peer, message, delivered, scheduler.now());
      if (message.t !== 'push') return;
      for (const op of decodeOps(message.ops)) {
        const known = log.pushed.get(op.id);
        const pushedAt = scheduler.now();
        const entry =
          known === undefined || sameContent(known.op, op)
            ? (known ?? { op, pushedAt, epoch })
            : {
                op,
                pushedAt,
                epoch,
                earlier: [...(known.earlier ?? []), { op: known.op, pushedAt: known.pushedAt }],
              };
        if (delivered) entry.reachedAt ??= scheduler.now();
        log.pushed.set(op.id, entry);
      }
      return;
    }
    if (delivered) return;
    const message = decodeServerMessage(frame);
    if (message.t === 'forwarded') noteForwardOutcomes(log.peer, message);
    if (message.t !== 'ack') return;
    const answer = (id: string, code: string) => {
      const list = log.answers.get(id) ?? [];
      list.push({ code, at: scheduler.now(), epoch });
      log.answers.set(id, list);
    };
    for (const id of message.accepted) answer(id, 'accepted');
    for (const r of message.refused) answer(r.op, r.code);
  };
  const factory = network.factory(index, tap);

  const device: StackDevice = {
    index,
    role,
    token,
    log,
    epoch: () => epoch,
    engine() {
      if (!open) throw new Error(`device ${index} is closed`);
      return open.engine;
    },
    client() {
      if (!open) throw new Error(`device ${index} is closed`);
      return open.client;
    },
    peers: () => open?.peers,
    async certified() {
      return (await device.engine().syncStore.readState('peer.certificate')) !== undefined;
    },
    isOpen: () => open !== undefined,
    async open() {
      if (open) return;
      if (options.peers) keys ??= await createFileKeyStore(join(dir, `device-${index}.key`)).deviceKeys();
      const engine = await openEngine({
        driver: await createBetterSqlite3Storage({ filename: file }),
        schema: stackSchema as Schema,
        now,
        maxDriftMs: MAX_DRIFT_MS,
        ...(keys ? { keys } : {}),
      });
      const peers =
        options.peers && keys
          ? createPeers({ store: engine.syncStore, keys, rules: options.peers.rules, now })
          : undefined;
      const client = createSyncClient({
        store: engine.syncStore,
        transportFactory: factory,
        getToken: async () => token,
        now,
        random: () => rng(),
        timers: scheduler.timers,
        connectivity: { isOnline: () => true, onChange: () => () => undefined },
        backoff: { baseMs: 200, maxMs: 5_000 },
        ...(peers ? { peers } : {}),
      });
      open = { engine, client, ...(peers ? { peers } : {}) };
      client.start();
    },
    async close() {
      if (!open) return;
      const { engine, client, peers } = open;
      open = undefined;
      peers?.close();
      await client.stop();
      await engine.close();
    },
    subscribe(filtered) {
      const client = device.client();
      client.subscribe('tallies');
      return client.subscribe('items', filtered ? { op: 'lt', field: 'price', value: 25 } : undefined);
    },
    hasBackup: () => existsSync(copy),
    backup() {
      if (open) throw new Error('close the device before copying its files');
      for (const suffix of FILES) {
        rmSync(copy + suffix, { force: true });
        if (existsSync(file + suffix)) copyFileSync(file + suffix, copy + suffix);
      }
    },
    restore() {
      if (open) throw new Error('close the device before putting a copy back');
      for (const suffix of FILES) {
        rmSync(file + suffix, { force: true });
        if (existsSync(copy + suffix)) copyFileSync(copy + suffix, file + suffix);
        rmSync(copy + suffix, { force: true });
      }
      epoch++;
    },
  };
  return device;
}
