/**
 * (Over 450 lines: the end-to-end peer suite shares one relay and its replica helpers — certified replicas, a
 * hand-driven peer, minted certificates — across its cases; `peer-lifecycle.test.ts` and `peer-deferred.test.ts`
 * hold the cases that need no relay.)
 *
 * Peer sync against a real relay: replicas converging peer to peer with the relay unreachable, over memory and
 * WebRTC links; every transaction reaching the relay exactly once when it returns; forwarded transactions it
 * refuses; forgeries refused offline; what leaves for a peer; deletes reaching a till that reads only its store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyOp,
  createClock,
  createDocState,
  createReplicaId,
  createWriter,
  type DocState,
  decodeOps,
  defineSchema,
  encodeOps,
  f,
  materialize,
  type ReplicaId,
  type Rules,
  type WriteIntent,
  writeIntent,
} from '@loam/core';
import { startTestRelay, type TestRelay } from '@loam/server/testing';
import type { Engine } from '@loam/store';
import { createBetterSqlite3Storage, openEngine } from '@loam/store/node';
import wrtc from '@roamhq/wrtc';
import SimplePeer from 'simple-peer';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { createSyncClient } from '../client/lifecycle';
import type { SyncClient } from '../client/sync-client';
import { decodeServerMessage } from '../protocol/codec';
import type { ServerMessage } from '../protocol/messages';
import type { Transport } from '../transport/transport';
import { createMemoryTransportPair } from '../transport/transport-memory';
import { createSimplePeerTransport, type SimplePeerLike } from '../transport/transport-simple-peer';
import { createWebSocketTransport, type WebSocketConstructor } from '../transport/transport-websocket';
import { issueCertificate, type SignedCertificate } from './certificate';
import { loadCredentials } from './credentials';
import { createFileKeyStore } from './key-store-file';
import { createSigningKeys, type SigningKeys, sign } from './keys';
import { decodePeerMessage, encodePeerMessage } from './peer-codec';
import { PEER_PROTOCOL_VERSION, type PeerMessage } from './peer-messages';
import { challenge } from './peer-session';
import { createPeers, type Peers } from './peers';
import { rulesVersion } from './rules-version';
import { signTransaction } from './signed-transaction';

export const schema = defineSchema({
  version: 1,
  collections: {
    products: {
      fields: {
        name: f.string(),
        price: f.number(),
        stock: f.counter(),
        tags: f.list(),
        notes: f.text(),
        place: f.object({ aisle: f.string(), shelf: f.number({ optional: true }) }, { optional: true }),
        secret: f.string({ optional: true }),
      },
    },
    payroll: { fields: { amount: f.number() } },
    orders: { fields: { storeId: f.string(), total: f.number(), margin: f.number({ optional: true }) } },
  },
});

const ownStore = { op: 'eq', field: 'storeId', value: '%%user.storeId' } as const;

export const rules: Rules = {
  products: {
    roles: [
      {
        name: 'manager',
        applyWhen: { op: 'eq', field: 'role', value: 'manager' },
        read: true,
        write: true,
        insert: true,
        delete: true,
      },
      {
        name: 'cashier',
        applyWhen: { op: 'eq', field: 'role', value: 'cashier' },
        read: true,
        write: true,
        insert: false,
        delete: false,
        fields: {
          read: ['name', 'price', 'stock', 'tags', 'notes', 'place'],
          write: ['stock', 'tags', 'notes'],
        },
      },
    ],
  },
  orders: {
    roles: [
      {
        name: 'manager',
        applyWhen: { op: 'eq', field: 'role', value: 'manager' },
        read: true,
        write: true,
        insert: true,
        delete: true,
      },
      {
        name: 'till',
        applyWhen: { op: 'eq', field: 'role', value: 'cashier' },
        read: ownStore,
        write: ownStore,
        insert: true,
        delete: true,
        fields: { read: ['storeId', 'total'], write: ['storeId', 'total'] },
      },
    ],
  },
};

let dir: string;
let relay: TestRelay;
let counter = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loam-peers-'));
  relay = await startTestRelay(schema, rules);
});
afterAll(async () => {
  await relay?.close();
  rmSync(dir, { recursive: true, force: true });
});

export interface Replica {
  readonly engine: Engine<typeof schema>;
  readonly keys: SigningKeys;
  readonly client: SyncClient;
  readonly peers: Peers;
  relayBack(): void;
  /**
   * Drops the relay link right after the first server frame `last` accepts, delivering nothing after it (as a
   * link lost there would), and keeps the relay unreachable from then on.
   */
  cutAfter(last: (message: ServerMessage) => boolean): void;
}
const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) {
    r.peers.close();
    await r.client.stop();
    await r.engine.close();
  }
});

const until = (check: () => boolean | Promise<boolean>, what: string) =>
  vi.waitFor(
    async () => {
      if (!(await check())) throw new Error(`waiting for ${what}`);
    },
    { timeout: 20_000, interval: 20 },
  );

/** A transport that fails to connect, as when the relay cannot be reached. */
function unreachable(): Transport {
  const closes = new Set<(e: { code: number; reason: string }) => void>();
  setTimeout(() => {
    for (const l of closes) l({ code: 1006, reason: 'relay unreachable' });
  });
  return {
    send: () => undefined,
    close: () => undefined,
    onOpen: () => () => undefined,
    onFrame: () => () => undefined,
    onClose: (l) => {
      closes.add(l);
      return () => closes.delete(l);
    },
    onError: () => () => undefined,
  };
}

/**
 * A replica that signed in to the relay once as `role` (so it holds a certificate), with `storeId` among its claims
 * when given, then lost the relay: its sync client keeps retrying until `relayBack()`.
 */
async function certifiedReplica(role: 'manager' | 'cashier', storeId?: string): Promise<Replica> {
  const user = `user-${++counter}`;
  const file = join(dir, `${user}.db`);
  const keys = await createFileKeyStore(`${file}.key`).deviceKeys();
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: file }),
    schema,
    keys,
  });
  const peers = createPeers({ store: engine.syncStore, keys, rules });
  let up = true;
  let cutAfter: ((message: ServerMessage) => boolean) | undefined;
  const live = new Set<Transport>();
  /** `t`, whose frames stop after the one `cutAfter` names (then it closes). */
  const cuttable = (t: Transport): Transport => {
    let cut = false;
    return {
      ...t,
      onFrame: (listener) =>
        t.onFrame((frame) => {
          if (cut) return;
          if (cutAfter?.(decodeServerMessage(frame))) {
            cut = true;
            up = false;
            listener(frame);
            t.close();
            return;
          }
          listener(frame);
        }),
    };
  };
  const client = createSyncClient({
    store: engine.syncStore,
    transportFactory: () => {
      if (!up) return unreachable();
      const t = createWebSocketTransport({
        url: relay.server.wsUrl,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
      });
      live.add(t);
      t.onClose(() => live.delete(t));
      return cuttable(t);
    },
    getToken: () => relay.tokenFor(user, { claims: storeId === undefined ? { role } : { role, storeId } }),
    backoff: { baseMs: 20, maxMs: 100 },
    peers,
  });
  client.start();
  await until(async () => (await loadCredentials(engine.syncStore)) !== undefined, 'a certificate');
  up = false;
  for (const t of live) t.close();
  await until(() => !client.status().connected, 'the relay gone');
  const replica = {
    engine,
    keys,
    client,
    peers,
    relayBack: () => {
      up = true;
    },
    cutAfter: (last: (message: ServerMessage) => boolean) => {
      cutAfter = last;
    },
  };
  open.push(replica);
  return replica;
}

const rtc: SimplePeer.Instance[] = [];
afterEach(() => {
  for (const p of rtc.splice(0)) p.destroy();
});

/** Two transports over a real WebRTC data channel between two simple-peer instances in this process. */
function wrtcPair(): [Transport, Transport] {
  const x = new SimplePeer({ initiator: true, wrtc, config: { iceServers: [] } });
  const y = new SimplePeer({ wrtc, config: { iceServers: [] } });
  rtc.push(x, y);
  x.on('signal', (data) => y.signal(data));
  y.on('signal', (data) => x.signal(data));
  return [
    createSimplePeerTransport(x as unknown as SimplePeerLike),
    createSimplePeerTransport(y as unknown as SimplePeerLike),
  ];
}

function link(x: Replica, y: Replica) {
  const pair = createMemoryTransportPair();
  x.peers.connect(pair.a);
  y.peers.connect(pair.b);
  return pair;
}

const view = async (r: Replica) =>
  (await r.engine.find({ collection: 'products', sort: [{ field: 'id', dir: 'asc' }] })).map((d) => ({
    ...d,
    tags: [...(d.tags as unknown[])],
    notes: String(d.notes),
  }));

describe('peers, with the relay unreachable', () => {
  it('two replicas exchange writes of every kind both ways and converge', async () => {
    const a = await certifiedReplica('manager');
    const b = await certifiedReplica('manager');
    await a.engine.insert('products', {
      id: 'p1',
      name: 'Tea',
      price: 3,
      stock: 10,
      tags: ['hot'],
      notes: 'green',
    });
    link(a, b);
    await until(() => a.peers.list()[0]?.state === 'live' && b.peers.list()[0]?.state === 'live', 'live');
    await until(async () => (await b.engine.get('products', 'p1')) !== undefined, 'b has p1');

    await b.engine.update('products', 'p1', { name: 'Green tea', place: { aisle: 'A' } });
    await b.engine.increment('products', 'p1', 'stock', -2);
    await a.engine.increment('products', 'p1', 'stock', 5);
    await a.engine.update('products', 'p1', { place: { aisle: 'B', shelf: 3 } });
    await a.engine.listInsert('products', 'p1', 'tags', 0, ['loose']);
    await b.engine.listInsert('products', 'p1', 'tags', 1, ['organic']);
    await a.engine.textInsert('products', 'p1', 'notes', 0, 'fresh ');
    await b.engine.textInsert('products', 'p1', 'notes', 5, ' leaves');
    await a.engine.insert('products', { id: 'p2', name: 'Jam', price: 4, stock: 1, tags: [], notes: '' });
    await b.engine.insert('products', { id: 'p3', name: 'Bread', price: 2, stock: 0, tags: [], notes: '' });
    await until(async () => (await b.engine.get('products', 'p2')) !== undefined, 'b has p2');
    await b.engine.delete('products', 'p2');
    await until(async () => JSON.stringify(await view(a)) === JSON.stringify(await view(b)), 'convergence');
    const p1 = await a.engine.get('products', 'p1');
    expect(p1).toMatchObject({ name: 'Green tea', stock: 13 });
    expect([...((p1?.tags ?? []) as unknown[])].sort()).toEqual(['hot', 'loose', 'organic']);
    expect(String(p1?.notes)).toContain('leaves');
    expect(await a.engine.get('products', 'p2')).toBeUndefined();
    expect(await a.engine.get('products', 'p3')).toMatchObject({ name: 'Bread' });
    expect(a.peers.list()[0]).toMatchObject({ state: 'live', replica: b.engine.replica });
    expect(a.peers.list()[0]?.opsReceived).toBeGreaterThan(0);
    expect(a.client.status()).toMatchObject({ connected: false, peers: 1 });
  });

  it('three replicas in a chain: what one writes reaches the far end through the middle', async () => {
    const [a, b, c] = [
      await certifiedReplica('manager'),
      await certifiedReplica('manager'),
      await certifiedReplica('manager'),
    ];
    link(a, b);
    link(b, c);
    await a.engine.insert('products', { id: 'x', name: 'From A', price: 1, stock: 0, tags: [], notes: '' });
    await c.engine.insert('products', { id: 'y', name: 'From C', price: 1, stock: 0, tags: [], notes: '' });
    await c.engine.increment('products', 'y', 'stock', 7);
    await until(async () => (await a.engine.get('products', 'y'))?.stock === 7, 'a sees c');
    await until(async () => (await c.engine.get('products', 'x')) !== undefined, 'c sees a');
    expect(JSON.stringify(await view(a))).toBe(JSON.stringify(await view(c)));
  });
});

/** A hand-driven peer: authenticates with `cert`, then sends whatever a test crafts. */
async function attacker(victim: Replica, cert: SignedCertificate, keys: SigningKeys, replica: ReplicaId) {
  const pair = createMemoryTransportPair();
  const received: PeerMessage[] = [];
  victim.peers.connect(pair.a);
  const side = pair.b;
  const send = (m: PeerMessage) => side.send(encodePeerMessage(m));
  side.onFrame((frame) => {
    const m = decodePeerMessage(frame, 1 << 24);
    received.push(m);
    if (m.t === 'hello')
      void sign(keys.privateKey, challenge(m.nonce, replica, m.replica)).then((sig) =>
        send({ t: 'proof', sig }),
      );
  });
  side.onOpen(() =>
    send({
      t: 'hello',
      protocol: PEER_PROTOCOL_VERSION,
      replica,
      cert: cert.bytes,
      certSig: cert.signature,
      nonce: new Uint8Array(32),
      rules: rulesVersion(rules),
    }),
  );
  const info = () => victim.peers.list().at(-1);
  return { send, received, info, raw: (frame: Uint8Array) => side.send(frame) };
}

const DAY = 86_400_000;
const seqOf = (ops: Uint8Array) => Number(decodeOps(ops)[0]?.id.split(':')[1]);

async function mint(
  role: string,
  options: { relayKeys?: SigningKeys; expires?: number; replica?: ReplicaId } = {},
) {
  const relayKeys = options.relayKeys ?? (await createFileKeyStore(relay.keyFile).deviceKeys());
  const keys = await createSigningKeys();
  const replica = options.replica ?? createReplicaId();
  const cert = await issueCertificate(relayKeys.privateKey, {
    serial: ++counter,
    replica,
    publicKey: keys.publicKey,
    user: `forger-${counter}`,
    claims: { role },
    rulesVersion: rulesVersion(rules),
    notBefore: Date.now() - DAY,
    expires: options.expires ?? Date.now() + DAY,
  });
  const writer = createWriter({ schema, clock: createClock({ replica }) });
  const tx = async (intent: WriteIntent, state?: DocState, signer = keys) => {
    const ops = encodeOps(writer.write(intent, state).ops);
    return { ops, sig: await signTransaction(signer.privateKey, ops) };
  };
  return { keys, replica, cert, writer, tx };
}

describe('peers over WebRTC (simple-peer on @roamhq/wrtc)', () => {
  it('two replicas converge over a data channel, with the relay unreachable', async () => {
    const a = await certifiedReplica('manager');
    const b = await certifiedReplica('manager');
    const [x, y] = wrtcPair();
    a.peers.connect(x);
    b.peers.connect(y);
    await a.engine.insert('products', {
      id: 'w1',
      name: 'Coffee',
      price: 5,
      stock: 3,
      tags: ['hot'],
      notes: 'dark',
    });
    await b.engine.insert('products', { id: 'w2', name: 'Milk', price: 1, stock: 9, tags: [], notes: '' });
    await until(async () => (await b.engine.get('products', 'w1')) !== undefined, 'b has w1');
    await until(async () => (await a.engine.get('products', 'w2')) !== undefined, 'a has w2');
    await b.engine.increment('products', 'w1', 'stock', -1);
    await b.engine.textInsert('products', 'w1', 'notes', 4, ' roast');
    await a.engine.update('products', 'w2', { price: 2 });
    await until(async () => JSON.stringify(await view(a)) === JSON.stringify(await view(b)), 'convergence');
    expect(await a.engine.get('products', 'w1')).toMatchObject({ stock: 2 });
    expect(String((await a.engine.get('products', 'w1'))?.notes)).toBe('dark roast');
    expect(a.peers.list()[0]).toMatchObject({ state: 'live', replica: b.engine.replica });
  });
});

describe('when the relay returns', () => {
  for (const first of ['forwarder', 'author'] as const) {
    it(`every transaction reaches it exactly once (the ${first} uploads first)`, async () => {
      const a = await certifiedReplica('manager');
      const b = await certifiedReplica('manager');
      link(a, b);
      await a.engine.insert('products', { id: 'p1', name: 'Tea', price: 3, stock: 10, tags: [], notes: '' });
      await a.engine.increment('products', 'p1', 'stock', 5);
      await until(async () => (await b.engine.get('products', 'p1'))?.stock === 15, 'b learned a');
      await b.engine.increment('products', 'p1', 'stock', -1);
      await until(async () => (await a.engine.get('products', 'p1'))?.stock === 14, 'a learned b');
      const [up, later] = first === 'forwarder' ? [b, a] : [a, b];
      up.relayBack();
      await until(async () => (await up.engine.syncStore.pendingCount()) === 0, 'first uploads');
      later.relayBack();
      await until(async () => (await later.engine.syncStore.pendingCount()) === 0, 'second uploads');
      const learned = async (r: Replica) =>
        (await r.engine.syncStore.peerTransactions({ [r.engine.replica]: Number.MAX_SAFE_INTEGER }, 100))
          .length;
      await until(async () => (await learned(a)) === 0 && (await learned(b)) === 0, 'peer logs settled');
      const stored = await relay.server.store.getDoc('products', 'p1');
      const doc = stored && materialize(schema.collections.products, 'p1', stored.state);
      expect(doc).toMatchObject({ name: 'Tea', stock: 14 });
      expect(Object.keys(stored?.state.counters.stock?.incs ?? {}).sort()).toEqual(
        [`${a.engine.replica}:2`, `${b.engine.replica}:1`].sort(),
      );
      expect(await a.engine.refusedWrites()).toEqual([]);
      expect(await b.engine.refusedWrites()).toEqual([]);
    });
  }
});

describe('a forwarded transaction the relay refuses', () => {
  it('is answered to the forwarder, logged there with its author, and leaves its peer log', async () => {
    const a = await certifiedReplica('manager');
    const b = await certifiedReplica('manager');
    link(a, b);
    await a.engine.insert('products', { id: 'r1', name: 'Rye', price: 4, stock: 1, tags: [], notes: '' });
    await until(async () => (await b.engine.get('products', 'r1')) !== undefined, 'b learned it');
    await relay.server.devices.revoke(a.engine.replica);
    const announced: string[] = [];
    b.client.onRefused((w) => announced.push(w.code));
    b.relayBack();
    await until(() => announced.includes('cert_revoked'), 'the refusal reaches the forwarder');
    expect((await b.engine.refusedWrites()).find((w) => w.code === 'cert_revoked')).toMatchObject({
      doc: 'r1',
      author: a.engine.replica,
    });
    const learned = await b.engine.syncStore.peerTransactions(
      { [b.engine.replica]: Number.MAX_SAFE_INTEGER },
      10,
    );
    expect(learned).toEqual([]);
    expect(await relay.server.store.getDoc('products', 'r1')).toBeUndefined();
  });

  it('reverts the refused write on the forwarder with the answer itself: a link lost right after it leaves nothing standing', async () => {
    const a = await certifiedReplica('manager');
    const b = await certifiedReplica('manager');
    const pair = link(a, b);
    await a.engine.insert('products', { id: 'r2', name: 'Spelt', price: 5, stock: 1, tags: [], notes: '' });
    await until(async () => (await b.engine.get('products', 'r2')) !== undefined, 'b learned it');
    pair.cut();
    await relay.server.devices.revoke(a.engine.replica);
    b.cutAfter((m) => m.t === 'forwarded');
    b.relayBack();
    await until(
      async () => (await b.engine.refusedWrites()).some((w) => w.code === 'cert_revoked'),
      'the refusal at the forwarder',
    );
    await until(async () => (await b.engine.get('products', 'r2')) === undefined, 'r2 reverted at b');
    expect(b.client.status().connected).toBe(false);
  });
});

describe('a write refused on a document the relay holds deleted', () => {
  it('leaves its tombstone on the device: an older create a peer brings later does not bring it back', async () => {
    const c = await certifiedReplica('cashier');
    // A manager's peer creates and deletes x; C applies both, and forwards them to the relay once it is back.
    const m = await mint('manager');
    const create = await m.tx(
      writeIntent.insert('products', { id: 'x', name: 'Gone', price: 1, stock: 0, tags: [], notes: '' }),
    );
    const state = createDocState();
    for (const op of decodeOps(create.ops)) applyOp(schema.collections.products, state, op);
    const remove = await m.tx(writeIntent.delete('products', 'x'), state);
    const peer = await attacker(c, m.cert, m.keys, m.replica);
    await until(() => peer.info()?.state === 'syncing', 'the peer authenticated');
    const item = (tx: { ops: Uint8Array; sig: Uint8Array }) => ({
      r: m.replica,
      s: seqOf(tx.ops),
      ops: tx.ops,
      sig: tx.sig,
    });
    peer.send({ t: 'txs', batch: 1, items: [item(create), item(remove)] });
    await until(
      async () => (await c.engine.syncStore.docState('products', 'x'))?.deleted === true,
      'c holds x deleted',
    );

    // C, a cashier, creates x again (a new incarnation): the relay takes the forwarded delete, refuses the create
    // and corrects C.
    await c.engine.insert('products', { id: 'x', name: 'Back', price: 2, stock: 0, tags: [], notes: '' });
    c.relayBack();
    await until(async () => (await c.engine.refusedWrites()).some((w) => w.doc === 'x'), 'the refusal at c');
    await until(async () => (await c.engine.syncStore.pendingCount()) === 0, 'c has nothing pending');
    const tombstone = await relay.server.store.getDoc('products', 'x');
    expect(tombstone?.state.deleted).toBe(true);
    expect(await c.engine.get('products', 'x')).toBeUndefined();

    // Another manager's create of x's first incarnation, still travelling between peers, reaches C now.
    const other = await mint('manager');
    const late = await other.tx(
      writeIntent.insert('products', { id: 'x', name: 'Late', price: 3, stock: 0, tags: [], notes: '' }),
    );
    expect(decodeOps(late.ops)[0]?.epoch).toBe(tombstone?.state.epoch);
    const second = await attacker(c, other.cert, other.keys, other.replica);
    await until(() => second.info()?.state === 'syncing', 'the second peer authenticated');
    second.send({
      t: 'txs',
      batch: 1,
      items: [{ r: other.replica, s: seqOf(late.ops), ops: late.ops, sig: late.sig }],
    });
    await until(() => second.received.some((f) => f.t === 'ack' && f.batch === 1), 'the create answered');
    expect(await c.engine.get('products', 'x')).toBeUndefined();
  });
});

describe('a peer refuses forgeries, offline, each with its reason, and applies nothing', () => {
  it('refuses certificates of another relay, expired or revoked', async () => {
    const revokedOne = await mint('manager');
    await relay.server.devices.revoke(revokedOne.replica);
    const victim = await certifiedReplica('manager');
    const foreign = await mint('manager', { relayKeys: await createSigningKeys() });
    const expired = await mint('manager', { expires: Date.now() - 3_600_000 });
    const cases = [
      [foreign, 'cert_invalid'],
      [expired, 'cert_expired'],
      [revokedOne, 'cert_revoked'],
    ] as const;
    for (const [who, code] of cases) {
      const peer = await attacker(victim, who.cert, who.keys, who.replica);
      await until(() => peer.info()?.state === 'refused', `${code} refused`);
      expect(peer.info()?.refusal).toMatchObject({ code, by: 'us' });
      // The victim settles its side before its `refused` frame has crossed the link to the attacker.
      await until(() => peer.received.at(-1)?.t === 'refused', `${code} sent to the peer`);
      expect(peer.received.at(-1)).toMatchObject({ t: 'refused', code });
    }
  });

  it('refuses broken signatures, other keys, other replicas, a cashier price change and bad frames; drops replays', async () => {
    const victim = await certifiedReplica('manager');
    await victim.engine.insert('products', {
      id: 'p1',
      name: 'Tea',
      price: 3,
      stock: 10,
      tags: [],
      notes: '',
    });
    const before = JSON.stringify(await view(victim));
    const refusals: string[] = [];
    victim.peers.onRefusedTx((r) => refusals.push(r.code));
    const cashier = await mint('cashier');
    const peer = await attacker(victim, cashier.cert, cashier.keys, cashier.replica);
    await until(() => peer.info()?.state === 'syncing' || peer.info()?.state === 'live', 'authenticated');
    const state = await victim.engine.syncStore.docState('products', 'p1');

    const price = await cashier.tx(writeIntent.update('products', 'p1', { price: 1 }), state);
    const broken = { ...price, sig: price.sig.map((b, i) => (i === 0 ? b ^ 1 : b)) };
    const stranger = await createSigningKeys();
    const otherKey = await cashier.tx(writeIntent.increment('products', 'p1', 'stock', 1), state, stranger);
    const otherReplica = await mint('cashier');
    const foreignOps = await otherReplica.tx(writeIntent.increment('products', 'p1', 'stock', 1), state);
    const foreignSigned = {
      ops: foreignOps.ops,
      sig: await signTransaction(cashier.keys.privateKey, foreignOps.ops),
    };
    const item = (t: { ops: Uint8Array; sig: Uint8Array }, r: ReplicaId = cashier.replica) => ({
      r,
      s: seqOf(t.ops),
      ops: t.ops,
      sig: t.sig,
    });
    peer.send({
      t: 'txs',
      batch: 1,
      items: [item(broken), item(otherKey), item(foreignSigned), item(price)],
    });
    await until(() => refusals.length === 4, 'four refusals');
    expect(refusals).toEqual(['signature_invalid', 'signature_invalid', 'replica_mismatch', 'field_denied']);
    expect(JSON.stringify(await view(victim))).toBe(before);
    const logged = await victim.engine.refusedWrites();
    expect(logged.find((w) => w.code === 'field_denied')).toMatchObject({
      doc: 'p1',
      author: `${cashier.cert.cert.user} (${cashier.replica})`,
    });

    const sale = await cashier.tx(writeIntent.increment('products', 'p1', 'stock', -1), state);
    peer.send({ t: 'txs', batch: 2, items: [item(sale)] });
    peer.send({ t: 'txs', batch: 3, items: [item(sale)] });
    await until(() => peer.received.some((m) => m.t === 'ack' && m.batch === 3), 'replay answered');
    // A replay is dropped unannounced: a peer re-sends from a hole in the vector on every reconnect.
    expect((await victim.engine.get('products', 'p1'))?.stock).toBe(9);
    expect(refusals).toHaveLength(4);

    peer.raw(new Uint8Array([PEER_PROTOCOL_VERSION, 0xc1]));
    await until(() => peer.info()?.state === 'refused', 'malformed frame refused');
    expect(peer.info()?.refusal?.code).toBe('frame_invalid');

    const second = await attacker(victim, cashier.cert, cashier.keys, cashier.replica);
    await until(() => second.info()?.state === 'syncing' || second.info()?.state === 'live', 'again');
    second.raw(new Uint8Array(5 * 1024 * 1024));
    await until(() => second.info()?.state === 'refused', 'oversized frame refused');
    expect(second.info()?.refusal?.code).toBe('frame_too_large');
    expect((await victim.engine.get('products', 'p1'))?.stock).toBe(9);
  });
});

describe('what leaves for a peer', () => {
  it("never carries a field or a document the peer's certificate may not read", async () => {
    const manager = await certifiedReplica('manager');
    const cashier = await certifiedReplica('cashier');
    const pair = link(manager, cashier);
    const toCashier: PeerMessage[] = [];
    pair.tap((from, frame) => {
      if (from === 'a') toCashier.push(decodePeerMessage(frame, 1 << 24));
    });
    await manager.engine.insert('payroll', { id: 'ann', amount: 4200 });
    await manager.engine.insert('products', {
      id: 'p1',
      name: 'Tea',
      price: 3,
      stock: 1,
      tags: [],
      notes: '',
    });
    await manager.engine.update('products', 'p1', { secret: 'supplier-margin' });
    await manager.engine.update('products', 'p1', { price: 4 });
    await manager.engine.insert('products', {
      id: 'p2',
      name: 'Jam',
      price: 5,
      stock: 2,
      tags: [],
      notes: '',
      secret: 'x',
    });
    await until(
      async () => (await cashier.engine.get('products', 'p1'))?.price === 4,
      'the price reaches the cashier',
    );
    await until(() => manager.peers.list()[0]?.state === 'live', 'live');
    const sent = toCashier.flatMap((m) => (m.t === 'txs' ? m.items.flatMap((i) => decodeOps(i.ops)) : []));
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.filter((op) => op.collection === 'payroll')).toEqual([]);
    expect(sent.filter((op) => JSON.stringify(op).includes('secret'))).toEqual([]);
    expect(await cashier.engine.get('payroll', 'ann')).toBeUndefined();
    expect(await cashier.engine.get('products', 'p2')).toBeUndefined();
  });
});

describe('deletes, to a till whose role reads only its own store, with the relay unreachable', () => {
  const orders = async (r: Replica) =>
    (await r.engine.find({ collection: 'orders', sort: [{ field: 'id', dir: 'asc' }] })).map((d) => ({
      ...d,
    }));

  it('reach it from the other till: a sale deleted, one changed then deleted, one made and deleted at once', async () => {
    const a = await certifiedReplica('cashier', 's1');
    const b = await certifiedReplica('cashier', 's1');
    link(a, b);
    await a.engine.insert('orders', { id: 'o1', storeId: 's1', total: 10 });
    await a.engine.insert('orders', { id: 'o2', storeId: 's1', total: 20 });
    await until(async () => (await orders(b)).length === 2, 'b shows both sales');

    await a.engine.delete('orders', 'o1');
    await a.engine.transaction(async (tx) => {
      await tx.update('orders', 'o2', { total: 25 });
      await tx.delete('orders', 'o2');
    });
    await until(async () => (await orders(b)).length === 0, 'b drops both sales');
    // A sale rung up and voided in one transaction leaves its tombstone: no late copy of it can come back.
    await a.engine.transaction(async (tx) => {
      await tx.insert('orders', { id: 'o3', storeId: 's1', total: 30 });
      await tx.delete('orders', 'o3');
    });
    await until(
      async () => (await b.engine.syncStore.docState('orders', 'o3'))?.deleted === true,
      'b holds o3 deleted',
    );
    expect(await b.engine.refusedWrites()).toEqual([]);
    expect(b.peers.list()[0]?.txsRefused).toBe(0);
  });

  it("never carry another store's document nor a field the till may not read; the relay settles the rest", async () => {
    const m = await certifiedReplica('manager');
    const b = await certifiedReplica('cashier', 's1');
    const pair = link(m, b);
    const toTill: PeerMessage[] = [];
    pair.tap((from, frame) => {
      if (from === 'a') toTill.push(decodePeerMessage(frame, 1 << 24));
    });
    await m.engine.insert('orders', { id: 'mine', storeId: 's1', total: 1 });
    await m.engine.insert('orders', { id: 'kept', storeId: 's1', total: 2 });
    await m.engine.insert('orders', { id: 'gone', storeId: 's1', total: 3 });
    await m.engine.insert('orders', { id: 'theirs', storeId: 's2', total: 4 });
    await until(async () => (await orders(b)).length === 3, 'b shows its store');

    await m.engine.delete('orders', 'gone');
    await m.engine.delete('orders', 'theirs');
    await m.engine.transaction(async (tx) => {
      await tx.update('orders', 'kept', { margin: 0.4 });
      await tx.delete('orders', 'mine');
    });
    // Transactions leave in seq order: once this one arrives, every earlier one was judged.
    await m.engine.insert('orders', { id: 'after', storeId: 's1', total: 5 });
    await until(async () => (await b.engine.get('orders', 'after')) !== undefined, 'b shows the last sale');
    expect(await orders(b)).toEqual([
      { id: 'after', storeId: 's1', total: 5 },
      { id: 'kept', storeId: 's1', total: 2 },
      { id: 'mine', storeId: 's1', total: 1 },
    ]);
    const sent = toTill.flatMap((f) => (f.t === 'txs' ? f.items.flatMap((i) => decodeOps(i.ops)) : []));
    expect(sent.filter((op) => op.doc === 'theirs')).toEqual([]);
    expect(sent.filter((op) => JSON.stringify(op).includes('margin'))).toEqual([]);
    expect(sent.filter((op) => op.kind === 'delete').map((op) => op.doc)).toEqual(['gone']);

    const lastLive = async (r: Replica, id: string) =>
      r.engine.syncStore.lastLiveDoc(
        'orders',
        id,
        (await r.engine.syncStore.docState('orders', id))?.epoch ?? 0,
      );
    expect(await lastLive(b, 'gone')).toEqual({ id: 'gone', storeId: 's1', total: 3 });

    b.client.subscribe('orders');
    m.relayBack();
    b.relayBack();
    await until(async () => (await m.engine.syncStore.pendingCount()) === 0, 'the manager uploads');
    await until(
      async () => (await b.engine.get('orders', 'mine')) === undefined,
      'the relay brings the rest',
    );
    expect(await orders(b)).toEqual([
      { id: 'after', storeId: 's1', total: 5 },
      { id: 'kept', storeId: 's1', total: 2 },
    ]);
    const kept = await relay.server.store.getDoc('orders', 'kept');
    expect(kept && materialize(schema.collections.orders, 'kept', kept.state)).toMatchObject({ margin: 0.4 });
    for (const id of ['mine', 'gone', 'theirs'])
      expect((await relay.server.store.getDoc('orders', id))?.state.deleted).toBe(true);
    expect(await m.engine.refusedWrites()).toEqual([]);
    expect(await b.engine.refusedWrites()).toEqual([]);
    // What the deleted sales held leaves the devices with their deletes' transactions.
    const held = async (r: Replica) =>
      (await r.engine.syncStore.peerTransactions({ [r.engine.replica]: Number.MAX_SAFE_INTEGER }, 100))
        .length;
    await until(async () => (await held(b)) === 0, 'b settled what it learned');
    for (const r of [m, b]) for (const id of ['mine', 'gone']) expect(await lastLive(r, id)).toBeUndefined();
  });
});
