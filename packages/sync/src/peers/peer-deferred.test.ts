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
  collections: { products: { fields: { name: f.string(), price: f.number() } } },
});
const rules: Rules = {
  products: { roles: [{ name: 'staff', read: true, write: true, insert: true, delete: true }] },
};
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
  const tx = async (intent: WriteIntent, state = createDocState()) => {
    const ops = encodeOps(writer.write(intent, state).ops);
    const first = decodeOps(ops)[0];
    return {
      r: replica,
      s: Number(first?.id.split(':')[1]),
      ops,
      sig: await signTransaction(keys.privateKey, ops),
    };
  };
  return { keys, replica, cert, tx };
}

/** A replica certified by `relay`, with one peer link from the hand-driven peer `y`, authenticated. */
async function victimLinkedTo(relay: SigningKeys, y: Awaited<ReturnType<typeof identity>>) {
  const dir = mkdtempSync(join(tmpdir(), 'loam-deferred-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const keys = await createSigningKeys();
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, 'victim.db') }),
    schema,
    keys,
  });
  cleanups.push(() => engine.close());
  await certifyForTest(engine, keys, relay, { serial: 1, user: 'victim', rules });
  const peers = createPeers({ store: engine.syncStore, keys, rules });
  cleanups.push(() => peers.close());
  const refusals: string[] = [];
  peers.onRefusedTx((r) => refusals.push(r.code));

  const pair = createMemoryTransportPair();
  const connection = peers.connect(pair.a);
  const acks: number[] = [];
  const send = (m: PeerMessage) => pair.b.send(encodePeerMessage(m));
  pair.b.onFrame((frame) => {
    const m = decodePeerMessage(frame, 1 << 24);
    if (m.t === 'ack') acks.push(m.batch);
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
  return { engine, connection, send, acks, refusals };
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
