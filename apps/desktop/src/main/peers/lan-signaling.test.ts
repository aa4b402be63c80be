import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createEd25519DeviceProof, createKeyPeerVerifier, type DeviceProof } from './device-proof';
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

async function listener(proof: DeviceProof, admit?: (replica: string) => boolean) {
  const sessions: LanSession[] = [];
  const server = await startLanSignalingServer({
    proof,
    verifier: createKeyPeerVerifier(admit ? { admit: (p) => admit(p.replica) } : {}),
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
    const a = await createEd25519DeviceProof('till-a');
    const b = await createEd25519DeviceProof('till-b');
    const l = await listener(b);
    const dialer = await dialLanPeer({
      address: l.address,
      proof: a,
      verifier: createKeyPeerVerifier(),
      expectFingerprint: b.fingerprint,
    });
    expect(dialer.peer).toMatchObject({ replica: 'till-b', fingerprint: b.fingerprint });
    await expect.poll(() => l.sessions.length).toBe(1);
    const inbound = l.sessions[0]!;
    expect(inbound.peer).toMatchObject({ replica: 'till-a', fingerprint: a.fingerprint });

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
    const l = await listener(await createEd25519DeviceProof('till-b'), (replica) => replica !== 'intruder');
    const intruder = await createEd25519DeviceProof('intruder');
    const error = await dialLanPeer({
      address: l.address,
      proof: intruder,
      verifier: createKeyPeerVerifier(),
    }).catch((e: Error & { code?: string }) => e);
    expect(error).toMatchObject({ code: 'lan_peer_refused' });
    expect((error as Error).message).toMatch(/not a peer of this terminal/);
    expect(l.sessions).toEqual([]);
  });

  it('a terminal claiming a key it does not hold is refused, on either side', async () => {
    const real = await createEd25519DeviceProof('till-b');
    const thief = await createEd25519DeviceProof('till-x');
    const forged: DeviceProof = { claim: real.claim, fingerprint: real.fingerprint, sign: thief.sign };
    const honest = await listener(await createEd25519DeviceProof('till-c'));
    expect(
      await codeOf(
        dialLanPeer({ address: honest.address, proof: forged, verifier: createKeyPeerVerifier() }),
      ),
    ).toBe('lan_peer_refused');
    expect(honest.sessions).toEqual([]);

    const fake = await listener(forged);
    expect(
      await codeOf(dialLanPeer({ address: fake.address, proof: thief, verifier: createKeyPeerVerifier() })),
    ).toBe('lan_peer_refused');
  });

  it('refuses a listener whose key differs from the one it advertised, and an address where nobody listens', async () => {
    const l = await listener(await createEd25519DeviceProof('till-b'));
    const a = await createEd25519DeviceProof('till-a');
    const other = await createEd25519DeviceProof('till-z');
    expect(
      await codeOf(
        dialLanPeer({
          address: l.address,
          proof: a,
          verifier: createKeyPeerVerifier(),
          expectFingerprint: other.fingerprint,
        }),
      ),
    ).toBe('lan_peer_refused');
    const port = l.server.port;
    await servers.pop()?.close();
    expect(
      await codeOf(
        dialLanPeer({ address: `127.0.0.1:${port}`, proof: a, verifier: createKeyPeerVerifier() }),
      ),
    ).toBe('lan_peer_unreachable');
  });

  it('closes a connection that sends garbage or a signal before its proof, and keeps serving', async () => {
    const l = await listener(await createEd25519DeviceProof('till-b'));
    for (const bad of ['not json', JSON.stringify({ t: 'signal', data: 'offer' }), 'x'.repeat(40_000)]) {
      const ws = new WebSocket(`ws://${l.address}/`);
      ws.on('error', () => undefined);
      await new Promise((r) => ws.once('open', r));
      ws.send(bad);
      const code = await new Promise<number>((r) => ws.once('close', (c) => r(c)));
      expect([4002, 1009]).toContain(code);
    }
    expect(l.sessions).toEqual([]);
    const a = await createEd25519DeviceProof('till-a');
    await dialLanPeer({ address: l.address, proof: a, verifier: createKeyPeerVerifier() });
    await expect.poll(() => l.sessions.length).toBe(1);
  });

  it('reads pairing addresses strictly', () => {
    expect(parseLanAddress(' 192.168.1.20:47800 ')).toBe('192.168.1.20:47800');
    expect(parseLanAddress('[fe80::1]:47800')).toBe('[fe80::1]:47800');
    expect(parseLanAddress('till-2.local:1')).toBe('till-2.local:1');
    for (const bad of ['192.168.1.20', 'host:0', 'host:70000', 'ws://host:1', 'a b:1', 42, ''])
      expect(() => parseLanAddress(bad)).toThrow(expect.objectContaining({ code: 'lan_address_invalid' }));
  });
});
