import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createClock,
  createReplicaId,
  createWriter,
  defineSchema,
  encodeOps,
  f,
  type ReplicaId,
  writeIntent,
} from '@loam/core';
import { describe, expect, it } from 'vitest';
import {
  issueCertificate,
  issueRevocationList,
  type Trust,
  verifyCertificate,
  verifyRevocationList,
} from './certificate';
import { createFileKeyStore } from './key-store-file';
import { createSigningKeys, sign, verify } from './keys';
import { signTransaction, verifyTransaction } from './signed-transaction';

const NOW = Date.UTC(2026, 0, 10);
const DAY = 86_400_000;

async function setup() {
  const relay = await createSigningKeys();
  const device = await createSigningKeys();
  const replica = createReplicaId();
  const revoked = new Set<ReplicaId>();
  const trust: Trust = { relayKey: relay.publicKey, now: () => NOW, revoked: (r) => revoked.has(r) };
  const cert = await issueCertificate(relay.privateKey, {
    serial: 1,
    replica,
    publicKey: device.publicKey,
    user: 'ann',
    claims: { role: 'cashier' },
    rulesVersion: 1,
    notBefore: NOW - DAY,
    expires: NOW + DAY,
  });
  return { relay, device, replica, revoked, trust, cert };
}

describe('device certificates', () => {
  it('verify when signed by the trusted relay key, within validity and unrevoked', async () => {
    const { cert, trust, revoked, replica } = await setup();
    expect(await verifyCertificate(cert, trust)).toMatchObject({ ok: true, value: { user: 'ann' } });
    revoked.add(replica);
    expect(await verifyCertificate(cert, trust)).toMatchObject({ ok: false, code: 'cert_revoked' });
  });

  it('are refused when signed by another relay, expired, not yet valid, or altered', async () => {
    const { cert, trust } = await setup();
    const other = await createSigningKeys();
    expect(await verifyCertificate(cert, { ...trust, relayKey: other.publicKey })).toMatchObject({
      ok: false,
      code: 'cert_invalid',
    });
    expect(await verifyCertificate(cert, { ...trust, now: () => NOW + 2 * DAY })).toMatchObject({
      ok: false,
      code: 'cert_expired',
    });
    expect(await verifyCertificate(cert, { ...trust, now: () => NOW - 2 * DAY })).toMatchObject({
      ok: false,
      code: 'cert_not_yet_valid',
    });
    const altered = cert.bytes.slice();
    altered[altered.length - 1] = (altered[altered.length - 1] as number) ^ 1;
    expect(await verifyCertificate({ ...cert, bytes: altered }, trust)).toMatchObject({
      ok: false,
      code: 'cert_invalid',
    });
  });

  it('revocation lists verify only with the relay key that signed them', async () => {
    const { relay } = await setup();
    const list = await issueRevocationList(relay.privateKey, {
      version: 3,
      issuedAt: NOW,
      replicas: [createReplicaId()],
    });
    expect((await verifyRevocationList(list.bytes, list.signature, relay.publicKey))?.list.version).toBe(3);
    const other = await createSigningKeys();
    expect(await verifyRevocationList(list.bytes, list.signature, other.publicKey)).toBeUndefined();
    expect(
      await verifyRevocationList(new Uint8Array([1, 2, 3]), list.signature, relay.publicKey),
    ).toBeUndefined();
  });
});

const schema = defineSchema({ version: 1, collections: { items: { fields: { name: f.string() } } } });

describe('signed transactions', () => {
  it("verify with the author's certificate and refuse forgeries", async () => {
    const { device, replica, trust, cert } = await setup();
    const writer = createWriter({ schema, clock: createClock({ replica, now: () => NOW }) });
    const ops = encodeOps(writer.write(writeIntent.insert('items', { id: 'a', name: 'tea' }), undefined).ops);
    const signature = await signTransaction(device.privateKey, ops);
    const opts = { maxSkewMs: 60_000 };
    expect(await verifyTransaction({ ops, signature }, cert, trust, opts)).toMatchObject({ ok: true });

    const broken = signature.slice();
    broken[0] = (broken[0] as number) ^ 1;
    expect(await verifyTransaction({ ops, signature: broken }, cert, trust, opts)).toMatchObject({
      ok: false,
      code: 'signature_invalid',
    });
    const stranger = await createSigningKeys();
    expect(
      await verifyTransaction(
        { ops, signature: await signTransaction(stranger.privateKey, ops) },
        cert,
        trust,
        opts,
      ),
    ).toMatchObject({ ok: false, code: 'signature_invalid' });

    const otherReplica = createReplicaId();
    const otherWriter = createWriter({
      schema,
      clock: createClock({ replica: otherReplica, now: () => NOW }),
    });
    const foreign = encodeOps(
      otherWriter.write(writeIntent.insert('items', { id: 'b', name: 'x' }), undefined).ops,
    );
    expect(
      await verifyTransaction(
        { ops: foreign, signature: await signTransaction(device.privateKey, foreign) },
        cert,
        trust,
        opts,
      ),
    ).toMatchObject({ ok: false, code: 'replica_mismatch' });

    const future = createWriter({ schema, clock: createClock({ replica, now: () => NOW + DAY / 2 }) });
    const ahead = encodeOps(future.write(writeIntent.insert('items', { id: 'c', name: 'x' }), undefined).ops);
    expect(
      await verifyTransaction(
        { ops: ahead, signature: await signTransaction(device.privateKey, ahead) },
        cert,
        trust,
        opts,
      ),
    ).toMatchObject({ ok: false, code: 'clock_skew' });
  });
});

describe('the file key store', () => {
  it('keeps one non-extractable key pair across opens, in a file only its owner reads', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'loam-keys-')), 'db.key');
    const first = await createFileKeyStore(path).deviceKeys();
    const again = await createFileKeyStore(path).deviceKeys();
    expect(again.publicKey).toEqual(first.publicKey);
    expect(again.privateKey.extractable).toBe(false);
    expect(statSync(path).mode & 0o077).toBe(0);
    const sig = await sign(again.privateKey, new Uint8Array([1]));
    expect(await verify(first.publicKey, sig, new Uint8Array([1]))).toBe(true);
  });
});
