import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  certifyTerminal,
  createRelayKey,
  proofOf,
  replicaOf,
  type TestRelayKey,
  verifierOf,
} from '../../../test-pages/lan-identities';
import type { DeviceProof } from './device-proof';
import { parseLanAddress } from './lan-peers';
import {
  dialLanPeer,
  type LanSession,
  type LanSignalingServer,
  startLanSignalingServer,
} from './lan-signaling';

const servers: LanSignalingServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});
let relay: TestRelayKey;
beforeAll(async () => {
  relay = await createRelayKey();
});

/** A terminal of the shop's relay (or of `by`), with a certificate valid for a day unless `expires` says. */
const certified = async (name: string, options: { by?: TestRelayKey; expires?: number } = {}) =>
  proofOf(
    await certifyTerminal(options.by ?? relay, replicaOf(name), {
      ...(options.expires !== undefined ? { expires: options.expires } : {}),
    }),
  );
const shopVerifier = () => verifierOf(relay);

async function listener(proof: DeviceProof, admit?: (replica: string) => boolean) {
  const sessions: LanSession[] = [];
  const server = await startLanSignalingServer({
    proof,
    verifier: verifierOf(relay, admit ? { admit: (p) => admit(p.replica) } : {}),
    host: '127.0.0.1',
    onSession: (s) => sessions.push(s),
  });
  servers.push(server);
  return { server, sessions, address: `127.0.0.1:${server.port}` };
}

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (e: { code?: string }) => e.code,
  );

describe('LAN signaling', () => {
  it('both sides prove their key, then signals flow both ways', async () => {
    const a = await certified('till-a');
    const b = await certified('till-b');
    const l = await listener(b);
    const dialer = await dialLanPeer({
      address: l.address,
      proof: a,
      verifier: shopVerifier(),
      expectFingerprint: b.fingerprint,
    });
    expect(dialer.peer).toMatchObject({ replica: replicaOf('till-b'), fingerprint: b.fingerprint });
    await expect.poll(() => l.sessions.length).toBe(1);
    const inbound = l.sessions[0]!;
    expect(inbound.peer).toMatchObject({ replica: replicaOf('till-a'), fingerprint: a.fingerprint });

    const atB: string[] = [];
    const atA: string[] = [];
    inbound.onSignal((d) => atB.push(d));
    dialer.onSignal((d) => atA.push(d));
    dialer.send('{"type":"offer"}');
    inbound.send('{"type":"answer"}');
    await expect.poll(() => [atA, atB]).toEqual([['{"type":"answer"}'], ['{"type":"offer"}']]);
    dialer.close();
  });

  it('a terminal the listener does not admit is refused before any signal, and learns why', async () => {
    const l = await listener(await certified('till-b'), (replica) => replica !== replicaOf('intruder'));
    const intruder = await certified('intruder');
    const error = await dialLanPeer({
      address: l.address,
      proof: intruder,
      verifier: shopVerifier(),
    }).catch((e: Error & { code?: string }) => e);
    expect(error).toMatchObject({ code: 'lan_peer_refused' });
    expect((error as Error).message).toMatch(/not a peer of this terminal/);
    expect(l.sessions).toEqual([]);
  });

  it('a terminal claiming a key it does not hold is refused, on either side', async () => {
    const real = await certified('till-b');
    const thief = await certified('till-x');
    const forged: DeviceProof = { claim: real.claim, fingerprint: real.fingerprint, prove: thief.prove };
    const honest = await listener(await certified('till-c'));
    expect(
      await codeOf(dialLanPeer({ address: honest.address, proof: forged, verifier: shopVerifier() })),
    ).toBe('lan_peer_refused');
    expect(honest.sessions).toEqual([]);

    const fake = await listener(forged);
    expect(await codeOf(dialLanPeer({ address: fake.address, proof: thief, verifier: shopVerifier() }))).toBe(
      'lan_peer_refused',
    );
  });

  it('refuses a listener whose key differs from the one it advertised, and an address where nobody listens', async () => {
    const l = await listener(await certified('till-b'));
    const a = await certified('till-a');
    const other = await certified('till-z');
    expect(
      await codeOf(
        dialLanPeer({
          address: l.address,
          proof: a,
          verifier: shopVerifier(),
          expectFingerprint: other.fingerprint,
        }),
      ),
    ).toBe('lan_peer_refused');
    const port = l.server.port;
    await servers.pop()?.close();
    expect(
      await codeOf(dialLanPeer({ address: `127.0.0.1:${port}`, proof: a, verifier: shopVerifier() })),
    ).toBe('lan_peer_unreachable');
  });

  it('closes a connection that sends garbage or a signal before its proof, and keeps serving', async () => {
    const l = await listener(await certified('till-b'));
    for (const bad of ['not json', JSON.stringify({ t: 'signal', data: 'offer' }), 'x'.repeat(40_000)]) {
      const ws = new WebSocket(`ws://${l.address}/`);
      ws.on('error', () => undefined);
      await new Promise((r) => ws.once('open', r));
      ws.send(bad);
      const code = await new Promise<number>((r) => ws.once('close', (c) => r(c)));
      expect([4002, 1009]).toContain(code);
    }
    expect(l.sessions).toEqual([]);
    const a = await certified('till-a');
    await dialLanPeer({ address: l.address, proof: a, verifier: shopVerifier() });
    await expect.poll(() => l.sessions.length).toBe(1);
  });

  it("refuses, on either side, a certificate of another relay, an expired, revoked or absent one, and another device's", async () => {
    const other = await createRelayKey();
    const shop = await listener(await certified('till-b'));
    const refusal = (proof: DeviceProof) =>
      dialLanPeer({ address: shop.address, proof, verifier: shopVerifier() }).then(
        () => 'admitted',
        (e: Error & { code?: string }) => `${e.code}: ${e.message}`,
      );
    expect(await refusal(await certified('till-x', { by: other }))).toMatch(
      /^lan_peer_refused: .*not signed by this relay's key/,
    );
    expect(await refusal(await certified('till-x', { expires: Date.now() - 3_600_000 }))).toMatch(
      /^lan_peer_refused: .*expired/,
    );
    const bare = await certified('till-y');
    expect(
      await refusal({ ...bare, claim: { replica: bare.claim.replica, publicKey: bare.claim.publicKey } }),
    ).toMatch(/^lan_peer_refused: .*no device certificate/);
    const someone = await certified('till-s');
    const impostor = await certified('till-i');
    expect(
      await refusal({ ...impostor, claim: { ...impostor.claim, certificate: someone.claim.certificate! } }),
    ).toMatch(/^lan_peer_refused: .*certificate of another device/);
    expect(shop.sessions).toEqual([]);

    const revoked = await certified('till-r');
    const strict = await startLanSignalingServer({
      proof: await certified('till-b'),
      verifier: verifierOf(relay, { revoked: [revoked.claim.replica] }),
      host: '127.0.0.1',
      onSession: () => expect.unreachable('a revoked terminal got a session'),
    });
    servers.push(strict);
    expect(
      await dialLanPeer({
        address: `127.0.0.1:${strict.port}`,
        proof: revoked,
        verifier: shopVerifier(),
      }).then(
        () => 'admitted',
        (e: Error) => e.message,
      ),
    ).toMatch(/revoked/);

    // The dialer judges the listener the same way: a listener certified by another relay is refused.
    const foreign = await listener(await certified('till-f', { by: other }));
    expect(
      await codeOf(
        dialLanPeer({ address: foreign.address, proof: await certified('till-a'), verifier: shopVerifier() }),
      ),
    ).toBe('lan_peer_refused');
    expect(foreign.sessions).toEqual([]);
  });

  it('reads pairing addresses strictly', () => {
    expect(parseLanAddress(' 192.168.1.20:47800 ')).toBe('192.168.1.20:47800');
    expect(parseLanAddress('[fe80::1]:47800')).toBe('[fe80::1]:47800');
    expect(parseLanAddress('till-2.local:1')).toBe('till-2.local:1');
    for (const bad of ['192.168.1.20', 'host:0', 'host:70000', 'ws://host:1', 'a b:1', 42, ''])
      expect(() => parseLanAddress(bad)).toThrow(expect.objectContaining({ code: 'lan_address_invalid' }));
  });
});
