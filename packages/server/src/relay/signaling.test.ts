import type { ReplicaId } from '@loam/core';
import { createSigningKeys, readSignedCertificate, verifyCertificate } from '@loam/sync';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LoamServer } from '../server';
import { mintToken, startTestServer, tempDir, testDevice } from '../testing/fixtures';
import { connectClient, type ProtocolClient } from '../testing/protocol-client';

const tmp = tempDir('loam-signal-');
let server: LoamServer;
const open: ProtocolClient[] = [];

beforeAll(async () => {
  server = await startTestServer(tmp.dir, { peers: { sameClaims: ['storeId'] } });
});
afterAll(async () => {
  for (const c of open) c.close();
  await server.close();
  tmp.cleanup();
});

async function till(user: string, storeId: unknown, replica: ReplicaId = testDevice().replica) {
  const c = await connectClient(server.wsUrl);
  open.push(c);
  await c.hello({
    replica,
    token: await mintToken({ sub: user, ...(storeId === undefined ? {} : { storeId }) }),
  });
  return { c, replica };
}

const rosterWith = (
  c: ProtocolClient,
  replica: ReplicaId,
  match: (p: { online: boolean; addresses: readonly string[] }) => boolean,
) => c.next('roster', (m) => m.peers.some((p) => p.replica === replica && match(p)));

it('forwards SDP/ICE between two tills of one store, and hands each the other in its roster', async () => {
  const a = await till('till-a', 101);
  const b = await till('till-b', 101);
  const roster = await rosterWith(a.c, b.replica, (p) => p.online);
  expect(roster.peers.map((p) => p.replica)).toEqual([b.replica]);
  expect(roster.peers[0]?.user).toBe('till-b');

  a.c.send({ t: 'announce', addresses: ['192.168.1.20:47800'] });
  const seen = await rosterWith(b.c, a.replica, (p) => p.addresses.length === 1);
  expect(seen.peers.find((p) => p.replica === a.replica)?.addresses).toEqual(['192.168.1.20:47800']);

  const offer = JSON.stringify({ type: 'offer', sdp: 'v=0 …' });
  a.c.send({ t: 'signal', to: b.replica, data: offer });
  expect(await b.c.next('signal')).toEqual({ t: 'signal', from: a.replica, data: offer });
  b.c.send({ t: 'signal', to: a.replica, data: 'answer' });
  expect(await a.c.next('signal')).toEqual({ t: 'signal', from: b.replica, data: 'answer' });
});

it('forwards nothing to another store, to a device without the claim, or to a device not online', async () => {
  const a = await till('till-c', 201);
  const other = await till('till-d', 202);
  const none = await till('till-e', undefined);
  for (const to of [other.replica, none.replica, testDevice().replica]) {
    a.c.send({ t: 'signal', to, data: 'offer' });
    const error = await a.c.next('error');
    expect(error).toMatchObject({ code: 'peer_unreachable', fatal: false });
  }
  none.c.send({ t: 'signal', to: a.replica, data: 'offer' });
  expect(await none.c.next('error')).toMatchObject({ code: 'peer_unreachable', fatal: false });
  // A forwarded signal would have been written to its socket before the refusal above: a pong comes after it.
  for (const c of [other.c, none.c]) {
    c.send({ t: 'ping' });
    await c.next('pong');
  }
  for (const c of [other.c, none.c, a.c]) expect(c.received.filter((m) => m.t === 'signal')).toEqual([]);
  expect(other.c.received.flatMap((m) => (m.t === 'roster' ? m.peers : []))).toEqual([]);
  expect(none.c.received.some((m) => m.t === 'roster')).toBe(false);
});

it('keeps a till that left in the roster as offline, with its last addresses, and the session alive', async () => {
  const a = await till('till-f', 301);
  const b = await till('till-g', 301);
  b.c.send({ t: 'announce', addresses: ['10.0.0.7:47800'] });
  await rosterWith(a.c, b.replica, (p) => p.addresses.length === 1);
  b.c.close();
  const after = await rosterWith(a.c, b.replica, (p) => !p.online);
  expect(after.peers.find((p) => p.replica === b.replica)?.addresses).toEqual(['10.0.0.7:47800']);
  a.c.send({ t: 'signal', to: b.replica, data: 'offer' });
  expect(await a.c.next('error')).toMatchObject({ code: 'peer_unreachable' });
  a.c.send({ t: 'ping' });
  await a.c.next('pong');
});

it('refuses malformed signaling frames like any bad frame', async () => {
  const a = await till('till-h', 401);
  a.c.send({ t: 'signal', to: 'not a replica' as ReplicaId, data: 'x' });
  expect(await a.c.next('error')).toMatchObject({ code: 'frame_invalid', fatal: true });
  const b = await till('till-i', 401);
  b.c.send({ t: 'announce', addresses: Array.from({ length: 17 }, (_, i) => `10.0.0.${i}:1`) });
  expect(await b.c.next('error')).toMatchObject({ code: 'frame_invalid', fatal: true });
});

it("carries each till's device certificate, signed by the relay, in the others' rosters", async () => {
  const a = await till('till-p', 401);
  const device = testDevice();
  const keys = await createSigningKeys();
  const b = await connectClient(server.wsUrl);
  open.push(b);
  const certified = b.next('certificate');
  await b.hello({
    replica: device.replica,
    token: await mintToken({ sub: 'till-q', storeId: 401 }),
    device: keys.publicKey,
  });
  const own = await certified;
  const roster = await a.c.next('roster', (m) =>
    m.peers.some((p) => p.replica === device.replica && p.certificate !== undefined),
  );
  const entry = roster.peers.find((p) => p.replica === device.replica);
  expect(entry?.certificate).toEqual(own.cert);
  const signed = readSignedCertificate(entry!.certificate!, entry!.certificateSig!);
  const verdict = await verifyCertificate(signed, {
    relayKey: own.relayKey,
    now: Date.now,
    revoked: () => false,
  });
  expect(verdict).toMatchObject({ ok: true, value: { replica: device.replica, user: 'till-q' } });
  expect(signed.cert.publicKey).toEqual(keys.publicKey);
});
