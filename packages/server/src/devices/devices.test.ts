import { join } from 'node:path';
import { createReplicaId } from '@loam/core';
import {
  createSigningKeys,
  readSignedCertificate,
  verifyCertificate,
  verifyRevocationList,
} from '@loam/sync';
import { afterAll, describe, expect, it } from 'vitest';
import type { LoamServer } from '../server';
import { SERVICE_TOKEN, startTestServer, tempDir, testDevice } from '../testing/fixtures';
import { connectClient } from '../testing/protocol-client';
import { openDevices } from './devices';

const tmp = tempDir('loam-devices-');
afterAll(() => tmp.cleanup());

describe('the device authority', () => {
  it('keeps its key and its revocation list across restarts', async () => {
    const keyFile = join(tmp.dir, 'relay.key');
    const options = { keyFile, certificateMs: 86_400_000, rules: {}, now: Date.now };
    const first = await openDevices(options);
    const replica = createReplicaId();
    await first.revoke(replica);
    const again = await openDevices(options);
    expect(again.publicKey).toEqual(first.publicKey);
    expect(again.revocations().list).toMatchObject({ version: 1, replicas: [replica] });
    expect(
      await again.issue({ replica, publicKey: new Uint8Array(32), user: 'u', claims: {} }),
    ).toBeUndefined();
  });
});

describe('certificates at sign-in, GET /v1/devices/relay-key and POST /v1/devices/:replica/revoke', () => {
  let server: LoamServer;
  afterAll(() => server?.close());

  it('certifies a device key at hello, names the key that signs it to a backend, and delivers a revocation to connected devices at once', async () => {
    server = await startTestServer(join(tmp.dir, 'srv'));
    const keys = await createSigningKeys();
    const { replica } = testDevice();
    const device = await connectClient(server.wsUrl);
    const certified = device.next('certificate');
    const initial = device.next('revocations');
    await device.hello({ replica, token: null, device: keys.publicKey });
    const frame = await certified;
    const signed = readSignedCertificate(frame.cert, frame.sig);
    expect(signed.cert).toMatchObject({ replica, user: `anon:${replica}` });
    expect(signed.cert.publicKey).toEqual(keys.publicKey);
    const trust = { relayKey: frame.relayKey, now: Date.now, revoked: () => false };
    expect(await verifyCertificate(signed, trust)).toMatchObject({ ok: true });
    expect((await initial).list.length).toBeGreaterThan(0);

    const post = (path: string, token: string | null = SERVICE_TOKEN, method = 'POST') =>
      fetch(`${server.url}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
    const key = await post('/v1/devices/relay-key', SERVICE_TOKEN, 'GET');
    expect(key.status).toBe(200);
    expect(Buffer.from((await key.json()).relayKey, 'base64url')).toEqual(Buffer.from(frame.relayKey));
    expect((await post('/v1/devices/relay-key', null, 'GET')).status).toBe(401);
    expect((await post('/v1/devices/relay-key')).status).toBe(405);
    expect((await post(`/v1/devices/${replica}/revoke`, null)).status).toBe(401);
    expect((await post('/v1/devices/not-a-replica/revoke')).status).toBe(400);
    expect((await post(`/v1/devices/${replica}/revoke`, SERVICE_TOKEN, 'GET')).status).toBe(405);
    const delivered = device.next('revocations');
    const res = await post(`/v1/devices/${replica}/revoke`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ version: 1, revoked: [replica] });
    const list = await delivered;
    expect((await verifyRevocationList(list.list, list.sig, frame.relayKey))?.list).toMatchObject({
      version: 1,
      replicas: [replica],
    });
    device.close();
  });
});
