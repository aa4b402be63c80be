/**
 * A transaction (an update or a delete) on a document the receiver does not hold yet (its author wrote it on state
 * the receiver has not received: the create came from the relay, or from a peer that never logged it) cannot be
 * judged there: it waits, neither applied nor refused, and applies once the document arrives. No relay runs: the relay key is
 * made here and certifies both sides, as in `peers.bench.ts`.
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
  type Rules,
  type WriteIntent,
  writeIntent,
} from '@loam/core';
import { createBetterSqlite3Storage, openEngine } from '@loam/store/node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryTransportPair } from '../transport/transport-memory';
import { issueCertificate } from './certificate';
import { createSigningKeys, type SigningKeys, sign } from './keys';
import { decodePeerMessage, encodePeerMessage } from './peer-codec';
import { PEER_PROTOCOL_VERSION, type PeerMessage } from './peer-messages';
import { challenge } from './peer-session';
import { createPeers } from './peers';
import { rulesVersion } from './rules-version';
import { signTransaction } from './signed-transaction';
import { certifyForTest } from './test-certify';

const schema = defineSchema({
  version: 1,
  collections: {
    products: { fields: { name: f.string(), price: f.number() } },
    tills: { fields: { sold: f.counter() } },
  },
});
const staff = { name: 'staff', read: true, write: true, insert: true, delete: true } as const;
const rules: Rules = { products: { roles: [staff] }, tills: { roles: [staff] } };
const DAY = 86_400_000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function identity(relay: SigningKeys, serial: number) {
  const keys = await createSigningKeys();
  const replica = createReplicaId();
  const cert = await issueCertificate(relay.privateKey, {
    serial,
    replica,
    publicKey: keys.publicKey,
    user: `user-${serial}`,
    claims: {},
    rulesVersion: rulesVersion(rules),
    notBefore: Date.now() - DAY,
    expires: Date.now() + DAY,
  });
  const writer = createWriter({ schema, clock: createClock({ replica }) });
  /** One signed transaction of the writes, each on the state given (an empty one by default). */
  const txOf = async (...writes: [WriteIntent, DocState?][]) => {
    const ops = encodeOps(
      writes.flatMap(([intent, state]) => writer.write(intent, state ?? createDocState()).ops),
    );
    const first = decodeOps(ops)[0];
    return {
      r: replica,
      s: Number(first?.id.split(':')[1]),
      ops,
      sig: await signTransaction(keys.privateKey, ops),
    };
  };
  const tx = (intent: WriteIntent, state = createDocState()) => txOf([intent, state]);
  return { keys, replica, cert, tx, txOf };
}

/** The state of a document after the ops (of any document) of `txs` that touch it. */
function stateAfter(collection: 'products' | 'tills', id: string, ...txs: { ops: Uint8Array }[]): DocState {
  const state = createDocState();
  for (const t of txs)
    for (const op of decodeOps(t.ops))
      if (op.collection === collection && op.doc === id) applyOp(schema.collections[collection], state, op);
  return state;
}

/** The last seq of a transaction. */
const lastOf = (t: { ops: Uint8Array }) => Number(decodeOps(t.ops).at(-1)?.id.split(':')[1]);

type Identity = Awaited<ReturnType<typeof identity>>;

/** A replica certified by `relay`, with its peers; what its peers report as not applied is in `refusals`. */
async function replicaOf(relay: SigningKeys, serial: number) {
  const dir = mkdtempSync(join(tmpdir(), 'loam-deferred-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const keys = await createSigningKeys();
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, 'replica.db') }),
    schema,
    keys,
  });
  cleanups.push(() => engine.close());
  await certifyForTest(engine, keys, relay, { serial, user: `till-${serial}`, rules });
  const peers = createPeers({ store: engine.syncStore, keys, rules });
  cleanups.push(() => peers.close());
  const refusals: string[] = [];
  peers.onRefusedTx((r) => refusals.push(r.code));
  return { engine, peers, refusals };
}

/** A replica certified by `relay`, with one peer link from the hand-driven peer `y`, authenticated. */
async function victimLinkedTo(relay: SigningKeys, y: Identity) {
  const victim = await replicaOf(relay, 1);
  return { ...victim, ...(await handLink(victim, y)) };
}

/** A new peer link to `victim` from the hand-driven peer `y`, authenticated; `vectors` are the victim's `vector`s. */
async function handLink(victim: Awaited<ReturnType<typeof replicaOf>>, y: Identity) {
  const pair = createMemoryTransportPair();
  const connection = victim.peers.connect(pair.a);
  const acks: number[] = [];
  const vectors: Readonly<Record<string, number>>[] = [];
  const send = (m: PeerMessage) => pair.b.send(encodePeerMessage(m));
  pair.b.onFrame((frame) => {
    const m = decodePeerMessage(frame, 1 << 24);
    if (m.t === 'ack') acks.push(m.batch);
    if (m.t === 'vector') vectors.push(m.v);
    if (m.t === 'hello')
      void sign(y.keys.privateKey, challenge(m.nonce, y.replica, m.replica)).then((sig) =>
        send({ t: 'proof', sig }),
      );
  });
  pair.b.onOpen(() =>
    send({
      t: 'hello',
      protocol: PEER_PROTOCOL_VERSION,
      replica: y.replica,
      cert: y.cert.bytes,
      certSig: y.cert.signature,
      nonce: new Uint8Array(32),
      rules: rulesVersion(rules),
    }),
  );
  await until(() => connection.info().state === 'syncing', 'authenticated');
  return { connection, send, acks, vectors };
}

const until = (check: () => boolean | Promise<boolean>, what: string) =>
  vi.waitFor(
    async () => {
      if (!(await check())) throw new Error(`waiting for ${what}`);
    },
    { timeout: 10_000, interval: 10 },
  );

describe('a transaction on a document the receiver does not hold yet', () => {
  for (const change of ['update', 'delete'] as const)
    it(`waits, neither applied nor refused, and applies once the document arrives from another author (${change})`, async () => {
      const relay = await createSigningKeys();
      // X creates the document; Y, who learned it elsewhere, changes or deletes it. Y's reaches the victim first.
      const x = await identity(relay, 2);
      const y = await identity(relay, 3);
      const create = await x.tx(writeIntent.insert('products', { id: 'd1', name: 'Oat', price: 2 }));
      const state = createDocState();
      for (const op of decodeOps(create.ops)) applyOp(schema.collections.products, state, op);
      const later = await y.tx(
        change === 'update'
          ? writeIntent.update('products', 'd1', { price: 3 })
          : writeIntent.delete('products', 'd1'),
        state,
      );
      const victim = await victimLinkedTo(relay, y);
      const { engine, send, acks, refusals } = victim;

      send({ t: 'cert', cert: x.cert.bytes, sig: x.cert.signature });
      send({ t: 'txs', batch: 1, items: [later] });
      await until(() => acks.includes(1), 'the change answered');
      expect(await engine.get('products', 'd1')).toBeUndefined();
      expect(await engine.syncStore.docState('products', 'd1')).toBeUndefined();
      expect(refusals).toEqual([]);
      expect(await engine.refusedWrites()).toEqual([]);
      expect((await engine.syncStore.peerVector())[y.replica]).toBeUndefined();

      send({ t: 'txs', batch: 2, items: [create] });
      if (change === 'update')
        await until(async () => (await engine.get('products', 'd1'))?.price === 3, 'both applied');
      else
        await until(async () => (await engine.syncStore.peerVector())[y.replica] === later.s, 'both applied');
      expect(await engine.get('products', 'd1')).toEqual(
        change === 'update' ? { id: 'd1', name: 'Oat', price: 3 } : undefined,
      );
      expect(refusals).toEqual([]);
      expect(await engine.refusedWrites()).toEqual([]);
      expect(victim.connection.info()).toMatchObject({ txsRefused: 0, opsReceived: 2 });
    });
});

/**
 * X creates product d1; Y, who has it, then writes four transactions: t1 opens till t, t2 changes d1's price and
 * counts a sale on t, t3 counts a sale on t, t4 adds product d2. A replica that never got d1 cannot judge t2.
 */
async function tillsScenario() {
  const relay = await createSigningKeys();
  const x = await identity(relay, 2);
  const y = await identity(relay, 3);
  const create = await x.tx(writeIntent.insert('products', { id: 'd1', name: 'Oat', price: 2 }));
  const t1 = await y.tx(writeIntent.insert('tills', { id: 't', sold: 0 }));
  const t2 = await y.txOf(
    [writeIntent.update('products', 'd1', { price: 3 }), stateAfter('products', 'd1', create)],
    [writeIntent.increment('tills', 't', 'sold', 1), stateAfter('tills', 't', t1)],
  );
  const t3 = await y.tx(writeIntent.increment('tills', 't', 'sold', 1), stateAfter('tills', 't', t1, t2));
  const t4 = await y.tx(writeIntent.insert('products', { id: 'd2', name: 'Rye', price: 5 }));
  const opsOf = (...txs: { ops: Uint8Array }[]) => txs.reduce((n, t) => n + decodeOps(t.ops).length, 0);
  return { relay, x, y, create, t1, t2, t3, t4, opsOf };
}

/** What a replica shows of the scenario's documents. */
const shown = async (engine: { get(c: string, id: string): Promise<unknown> }) => ({
  d1: await engine.get('products', 'd1'),
  d2: await engine.get('products', 'd2'),
  t: await engine.get('tills', 't'),
});
const ALL_APPLIED = {
  d1: { id: 'd1', name: 'Oat', price: 3 },
  d2: { id: 'd2', name: 'Rye', price: 5 },
  t: { id: 't', sold: 2 },
};

describe('while one transaction of an author waits', () => {
  it('its later one on another document is applied at once, one on a document the waiting one touches waits behind it, and both apply when the document arrives', async () => {
    const { relay, x, y, create, t1, t2, t3, t4, opsOf } = await tillsScenario();
    const victim = await victimLinkedTo(relay, y);
    const { engine, send, acks } = victim;

    send({ t: 'cert', cert: x.cert.bytes, sig: x.cert.signature });
    send({ t: 'txs', batch: 1, items: [t1, t2, t3, t4] });
    await until(() => acks.includes(1), 'the sales answered');
    expect(await shown(engine)).toEqual({
      d1: undefined,
      d2: { id: 'd2', name: 'Rye', price: 5 },
      t: { id: 't', sold: 0 },
    });
    // The vector stays below the hole, so the author's peers send t2 and t3 again; t4 is held above it.
    expect((await engine.syncStore.peerVector())[y.replica]).toBe(lastOf(t1));
    expect(await engine.syncStore.peerHeld(y.replica, t4.s)).toBe(true);
    expect(await engine.syncStore.peerHeld(y.replica, t3.s)).toBe(false);

    send({ t: 'txs', batch: 2, items: [create] });
    await until(async () => (await engine.get('tills', 't'))?.sold === 2, 'the waiting ones applied');
    expect(await shown(engine)).toEqual(ALL_APPLIED);
    expect((await engine.syncStore.peerVector())[y.replica]).toBe(lastOf(t4));
    expect(victim.refusals).toEqual([]);
    expect(await engine.refusedWrites()).toEqual([]);
    expect(victim.connection.info()).toMatchObject({
      txsRefused: 0,
      opsReceived: opsOf(t1, t2, t3, t4, create),
    });
  });

  it('a reconnect re-sends from the hole: nothing is lost, applied twice or reported as refused', async () => {
    const { relay, x, y, create, t1, t2, t3, t4, opsOf } = await tillsScenario();
    const victim = await victimLinkedTo(relay, y);
    victim.send({ t: 'txs', batch: 1, items: [t1, t2, t3, t4] });
    await until(() => victim.acks.includes(1), 'the sales answered');
    victim.connection.close();

    const again = await handLink(victim, y);
    await until(() => again.vectors.length > 0, 'the vector announced');
    expect(again.vectors[0]?.[y.replica]).toBe(lastOf(t1));
    again.send({ t: 'cert', cert: x.cert.bytes, sig: x.cert.signature });
    again.send({ t: 'txs', batch: 1, items: [create] });
    again.send({ t: 'txs', batch: 2, items: [t2, t3, t4] });
    await until(() => again.acks.includes(2), 'the re-sent sales answered');
    expect(await shown(victim.engine)).toEqual(ALL_APPLIED);
    expect(again.connection.info()).toMatchObject({ txsRefused: 0, opsReceived: opsOf(create, t2, t3) });
    expect(victim.refusals).toEqual([]);
    expect(await victim.engine.refusedWrites()).toEqual([]);

    const third = await handLink(victim, y);
    await until(() => third.vectors.length > 0, 'the vector announced');
    expect(third.vectors[0]?.[y.replica]).toBe(lastOf(t4));
  });

  it('a peer forwards what it holds above the hole, then what fills it, and the next replica ends the same', async () => {
    const { relay, x, y, create, t1, t2, t3, t4 } = await tillsScenario();
    const victim = await victimLinkedTo(relay, y);
    victim.send({ t: 'txs', batch: 1, items: [t1, t2, t3, t4] });
    await until(() => victim.acks.includes(1), 'the sales answered');

    const next = await replicaOf(relay, 4);
    const pair = createMemoryTransportPair();
    victim.peers.connect(pair.a);
    next.peers.connect(pair.b);
    await until(async () => (await next.engine.get('products', 'd2')) !== undefined, 't4 forwarded');
    expect(await shown(next.engine)).toEqual({
      d1: undefined,
      d2: { id: 'd2', name: 'Rye', price: 5 },
      t: { id: 't', sold: 0 },
    });
    expect((await next.engine.syncStore.peerVector())[y.replica]).toBe(lastOf(t1));

    victim.send({ t: 'cert', cert: x.cert.bytes, sig: x.cert.signature });
    victim.send({ t: 'txs', batch: 2, items: [create] });
    await until(
      async () => (await next.engine.get('tills', 't'))?.sold === 2,
      'the hole filled on the next replica',
    );
    expect(await shown(next.engine)).toEqual(ALL_APPLIED);
    expect(await shown(victim.engine)).toEqual(ALL_APPLIED);
    await until(
      async () => (await next.engine.syncStore.peerVector())[y.replica] === lastOf(t4),
      'the prefix past the hole',
    );
    expect([...victim.refusals, ...next.refusals]).toEqual([]);
    expect(await next.engine.refusedWrites()).toEqual([]);
  });
});
