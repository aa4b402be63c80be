/**
 * How peer sessions end and what the list keeps of them: a session a side ends on purpose (its app closed the
 * connection, or its database was closed under it) ends with `bye` and a close reason on both sides, never as a
 * refusal or a frame fault; ended connections leave the open set, fold into one entry per peer device, and the
 * entries are bounded. No relay runs: the relay key is made here and certifies every replica, as in
 * `peer-deferred.test.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSchema, f, type Rules } from '@loam/core';
import type { Engine } from '@loam/store';
import { createBetterSqlite3Storage, openEngine } from '@loam/store/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createMemoryTransportPair } from '../transport/transport-memory';
import { createSigningKeys, type SigningKeys } from './keys';
import { PEER_PROTOCOL_VERSION } from './peer-messages';
import { createPeers, MAX_ENDED, type PeerConnection, type Peers } from './peers';
import { certifyForTest } from './test-certify';

const schema = defineSchema({
  version: 1,
  collections: { products: { fields: { name: f.string(), price: f.number() } } },
});
const rules: Rules = {
  products: { roles: [{ name: 'staff', read: true, write: true, insert: true, delete: true }] },
};

let dir: string;
let relayKeys: SigningKeys;
let serial = 0;
const cleanups: (() => Promise<void> | void)[] = [];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loam-peer-lifecycle-'));
  relayKeys = await createSigningKeys();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Device {
  readonly engine: Engine<typeof schema>;
  readonly peers: Peers;
}

/** A replica whose device key the relay key certified (as sign-in would). */
async function certified(): Promise<Device> {
  const keys = await createSigningKeys();
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, `device-${++serial}.db`) }),
    schema,
    keys,
  });
  await certifyForTest(engine, keys, relayKeys, { serial, user: `user-${serial}`, rules });
  const peers = createPeers({ store: engine.syncStore, keys, rules });
  cleanups.push(async () => {
    peers.close();
    await engine.close();
  });
  return { engine, peers };
}

const until = (check: () => boolean | Promise<boolean>, what: string) =>
  vi.waitFor(
    async () => {
      if (!(await check())) throw new Error(`waiting for ${what}`);
    },
    { timeout: 10_000, interval: 10 },
  );

async function link(x: Device, y: Device): Promise<[PeerConnection, PeerConnection]> {
  const pair = createMemoryTransportPair();
  const conns: [PeerConnection, PeerConnection] = [x.peers.connect(pair.a), y.peers.connect(pair.b)];
  await until(() => conns.every((c) => c.info().state === 'live'), 'a live link');
  return conns;
}

describe('a peer session ended on purpose', () => {
  it("ends quietly when this replica's database is closed under it: a close reason on both sides, no refusal", async () => {
    const a = await certified();
    const b = await certified();
    const [ca, cb] = await link(a, b);
    await a.engine.close();
    // B's write goes to A, whose store now rejects every call.
    await b.engine.insert('products', { id: 'p1', name: 'Tea', price: 3 });
    await until(() => ca.info().state !== 'live' && cb.info().state !== 'live', 'the session over');
    expect(ca.info()).toMatchObject({
      state: 'closed',
      closeReason: { code: 'database_closed', by: 'us' },
    });
    expect(ca.info().refusal).toBeUndefined();
    await until(() => cb.info().closeReason !== undefined, 'the bye at B');
    expect(cb.info()).toMatchObject({
      state: 'closed',
      closeReason: { code: 'database_closed', by: 'peer' },
    });
    expect(cb.info().refusal).toBeUndefined();
  });

  it('ends with peer_closed on both sides when the app closes the connection', async () => {
    const a = await certified();
    const b = await certified();
    const [ca, cb] = await link(a, b);
    ca.close();
    expect(ca.info()).toMatchObject({ state: 'closed', closeReason: { code: 'peer_closed', by: 'us' } });
    await until(() => cb.info().state === 'closed', 'closed at B');
    expect(cb.info()).toMatchObject({ closeReason: { code: 'peer_closed', by: 'peer' } });
    expect(b.peers.connectedCount()).toBe(0);
  });
});

describe('the list of peers', () => {
  it('folds the ended connections of a peer into one entry, with the ops of all of them', async () => {
    const a = await certified();
    const b = await certified();
    let received = 0;
    for (let i = 0; i < 3; i++) {
      await b.engine.insert('products', { id: `p${i}`, name: `Item ${i}`, price: i });
      const [ca] = await link(a, b);
      await until(async () => (await a.engine.get('products', `p${i}`)) !== undefined, `p${i} at A`);
      received += ca.info().opsReceived;
      ca.close();
      await until(() => a.peers.connectedCount() === 0 && b.peers.connectedCount() === 0, 'both closed');
    }
    expect(received).toBeGreaterThanOrEqual(3);
    const list = a.peers.list();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ replica: b.engine.replica, state: 'closed', opsReceived: received });

    const [again] = await link(a, b);
    expect(a.peers.list().map((p) => p.state)).toEqual(['closed', 'live']);
    expect(a.peers.list()[1]?.id).toBe(again.id);
  });

  it(`keeps at most ${MAX_ENDED} entries of ended connections, the newest`, async () => {
    const a = await certified();
    const ends: PeerConnection[] = [];
    for (let i = 0; i < MAX_ENDED + 6; i++) {
      const pair = createMemoryTransportPair();
      ends.push(a.peers.connect(pair.a));
      // Not a peer: its first frame is of another protocol version, refused before it says who it is.
      pair.b.onOpen(() => pair.b.send(new Uint8Array([PEER_PROTOCOL_VERSION + 1, 0x80])));
    }
    await until(() => ends.every((c) => c.info().state === 'refused'), 'every connection refused');
    const list = a.peers.list();
    expect(list).toHaveLength(MAX_ENDED);
    expect(list.map((p) => p.id)).toEqual(ends.slice(-MAX_ENDED).map((c) => c.id));
    expect(list.every((p) => p.refusal?.code === 'protocol_version')).toBe(true);
  });
});
