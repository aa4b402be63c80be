/**
 * A forwarded transaction the relay could not store whole: one of its op ids is already held with other content
 * (its author was put back to an older copy of its database and reused the id), so the batch applies nothing. The
 * forwarder cannot renumber another replica's signed ops: every op not stored must be answered as refused, with
 * its document's state, or the forwarder keeps a write the relay never took (stack seed 466).
 */
import {
  createClock,
  createReplicaId,
  createWriter,
  decodeOps,
  defineSchema,
  encodeOps,
  f,
  type Rules,
  writeIntent,
} from '@loam/core';
import { issueCertificate, rulesVersion, signTransaction } from '@loam/sync';
import { createFileKeyStore } from '@loam/sync/node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../testing';
import { acceptForwarded } from './forwarding';

const schema = defineSchema({
  version: 1,
  collections: { products: { fields: { name: f.string(), stock: f.counter() } } },
});
const rules: Rules = {
  products: { roles: [{ name: 'staff', read: true, write: true, insert: true, delete: true }] },
};
const DAY = 86_400_000;

let relay: TestRelay;
beforeAll(async () => {
  relay = await startTestRelay(schema, rules);
});
afterAll(async () => {
  await relay?.close();
});

it('answers every op of a forwarded transaction the relay did not store as refused, with its document', async () => {
  const relayKeys = await createFileKeyStore(relay.keyFile).deviceKeys();
  const author = await createFileKeyStore(`${relay.keyFile}.author`).deviceKeys();
  const replica = createReplicaId();
  const signed = await issueCertificate(relayKeys.privateKey, {
    serial: 1,
    replica,
    publicKey: author.publicKey,
    user: 'author',
    claims: {},
    rulesVersion: rulesVersion(rules),
    notBefore: Date.now() - DAY,
    expires: Date.now() + DAY,
  });
  const { relay: core, devices } = relay.server;
  const original = createWriter({ schema, clock: createClock({ replica }) });
  const create = original.write(
    writeIntent.insert('products', { id: 'p1', name: 'Tea', stock: 0 }),
    undefined,
  );
  await core.push({ replica, claims: {}, ops: create.ops });

  // The original: the author's second and third ops, an increment then a rename, which a peer learned.
  const stateOf = async () => (await relay.server.store.getDoc('products', 'p1'))?.state;
  const ops = [
    ...original.write(writeIntent.increment('products', 'p1', 'stock', 5), await stateOf()).ops,
    ...original.write(writeIntent.update('products', 'p1', { name: 'Green tea' }), await stateOf()).ops,
  ];
  expect(ops.map((op) => op.id)).toEqual([`${replica}:2`, `${replica}:3`]);

  // The author, put back to a copy from before that transaction, reuses id 3 for another write the relay takes.
  const restored = createWriter({ schema, clock: createClock({ replica }) });
  restored.skipTo(3);
  const other = restored.write(
    writeIntent.update('products', 'p1', { name: 'Black tea' }),
    await stateOf(),
  ).ops;
  expect(other.map((op) => op.id)).toEqual([`${replica}:3`]);
  expect((await core.push({ replica, claims: {}, ops: other })).accepted).toEqual([`${replica}:3`]);

  const bytes = encodeOps(ops);
  const result = await acceptForwarded({
    relay: core,
    devices,
    maxSkewMs: 60_000,
    maxBytes: 1 << 20,
    maxOps: 1000,
    txs: [
      {
        ops: bytes,
        sig: await signTransaction(author.privateKey, bytes),
        cert: signed.bytes,
        certSig: signed.signature,
      },
    ],
  });
  const stock = (await stateOf())?.counters.stock?.incs ?? {};
  expect(Object.keys(stock)).not.toContain(`${replica}:2`);
  expect(result.txs).toEqual([expect.objectContaining({ replica, seq: 2, code: 'op_id_reused' })]);
  // Both ops were refused (none stored): absent `ops` means all of them.
  expect(result.txs[0]?.ops ?? decodeOps(bytes).map((op) => op.id)).toEqual([`${replica}:2`, `${replica}:3`]);
  expect(result.refusedDocs).toEqual([{ collection: 'products', id: 'p1' }]);
});
