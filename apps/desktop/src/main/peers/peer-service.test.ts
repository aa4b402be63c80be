import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  certifyTerminal,
  createRelayKey,
  replicaOf,
  shellIdentity,
  type TestRelayKey,
} from '../../../test-pages/lan-identities';
import { createDesktopApi } from '../../preload/desktop-api';
import type { LanPeerEvent } from '../../shared/contract';
import { createIpcRouter } from '../ipc';
import { APP_ORIGIN } from '../origin';
import { createPeerService, type PeerService } from './peer-service';

const services: PeerService[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) await s.stop();
});
let relay: TestRelayKey;
beforeAll(async () => {
  relay = await createRelayKey();
});
const A = replicaOf('till-a');
const B = replicaOf('till-b');

/** What the app would pass `peers.start` for a terminal `name` certified by `by` (default the shop's relay). */
async function startArgs(
  name: string,
  by: TestRelayKey = relay,
  group: { claims?: Record<string, unknown>; sameClaims?: string[] } = {},
) {
  const replica = replicaOf(name);
  const certified = await certifyTerminal(by, replica, group.claims ? { claims: group.claims } : {});
  const { identity, prove } = shellIdentity(certified, by);
  return [
    {
      replica,
      storeHash: 'store-1',
      identity,
      ...(group.sameClaims ? { sameClaims: group.sameClaims } : {}),
    },
    prove,
  ] as const;
}

/** A terminal's `window.loamDesktop` wired to a real router and peer service in this process (mDNS off). */
function terminal(pinned?: TestRelayKey) {
  const events: LanPeerEvent[] = [];
  const listeners = new Set<(e: unknown) => void>();
  const service = createPeerService({
    emit: (event) => {
      for (const l of listeners) l(event);
    },
    ...(pinned ? { relayKey: Buffer.from(pinned.keys.publicKey).toString('base64url') } : {}),
    lan: { mdns: false, host: '127.0.0.1', rosterIntervalMs: 200 },
    proofTimeoutMs: 1_000,
  });
  services.push(service);
  const router = createIpcRouter({
    appOrigin: APP_ORIGIN,
    handlers: {
      info: () => ({ version: '0', platform: 'linux', kiosk: false }),
      terminalConfig: () => ({ relayUrl: 'ws://x', terminalId: 't' }),
      peers: service,
    },
  });
  const api = createDesktopApi(
    (channel, ...args) => router.handle(channel, { url: `${APP_ORIGIN}/` }, args),
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  );
  api.peers.onEvent((e) => events.push(e));
  return { api, router, events };
}

describe('the peers API of the preload, over main', () => {
  it('pairs two certified terminals by address, each proving its key through the app, and carries their signals', async () => {
    const a = terminal();
    const b = terminal();
    await a.api.peers.start(...(await startArgs('till-a')));
    const { port } = await b.api.peers.start(...(await startArgs('till-b')));
    expect(await a.api.peers.pair(`127.0.0.1:${port}`)).toMatchObject({ replica: B, user: 'clerk-tillb' });
    await expect.poll(() => b.events.filter((e) => e.t === 'connected')).toHaveLength(1);
    expect(b.events[0]).toMatchObject({ t: 'connected', replica: A, via: 'inbound' });
    expect(await b.api.peers.list()).toEqual([expect.objectContaining({ replica: A })]);
    expect([...a.events, ...b.events].filter((e) => e.t === 'prove')).toEqual([]);

    expect(await a.api.peers.signal(B, '{"type":"offer"}')).toBe(true);
    expect(await a.api.peers.signal(replicaOf('till-z'), '{"type":"offer"}')).toBe(false);
    await expect
      .poll(() => b.events.filter((e) => e.t === 'signal'))
      .toEqual([{ t: 'signal', from: A, data: '{"type":"offer"}' }]);

    await a.api.peers.start(...(await startArgs('till-a2')));
    await expect.poll(() => b.events.some((e) => e.t === 'disconnected' && e.replica === A)).toBe(true);
  });

  it("with the relay key pinned in the terminal's configuration, refuses an app certified by another relay", async () => {
    const pinned = terminal(relay);
    const other = await createRelayKey();
    await expect(pinned.api.peers.start(...(await startArgs('till-a', other)))).rejects.toMatchObject({
      code: 'lan_identity_invalid',
      message: expect.stringContaining('terminal.json'),
    });
    expect(await pinned.api.peers.list()).toEqual([]);
    // Unpinned, the same self-consistent identity of another relay is taken: the pin is what refuses it.
    await expect(terminal().api.peers.start(...(await startArgs('till-a', other)))).resolves.toMatchObject({
      port: expect.any(Number),
    });
    await expect(pinned.api.peers.start(...(await startArgs('till-a')))).resolves.toMatchObject({
      port: expect.any(Number),
    });
  });

  it('refuses an identity that does not hold together, and a terminal whose app cannot prove its key', async () => {
    const a = terminal();
    const [options, prove] = await startArgs('till-a');
    const other = await createRelayKey();
    const foreignKey = shellIdentity(await certifyTerminal(other, A), other).identity.relayKey;
    await expect(
      a.api.peers.start({ ...options, identity: { ...options.identity, relayKey: foreignKey } }, prove),
    ).rejects.toMatchObject({ code: 'lan_identity_invalid' });
    await expect(a.api.peers.start({ ...options, replica: B }, prove)).rejects.toMatchObject({
      code: 'lan_identity_invalid',
    });
    expect(await a.api.peers.list()).toEqual([]);

    const b = terminal();
    const { port } = await b.api.peers.start(...(await startArgs('till-b')));
    await a.api.peers.start(options, () => Promise.reject(new Error('the worker is gone')));
    await expect(a.api.peers.pair(`127.0.0.1:${port}`)).rejects.toMatchObject({ code: 'lan_peer_refused' });
    await a.api.peers.start(options, async () => new Uint8Array(64));
    await expect(a.api.peers.pair(`127.0.0.1:${port}`)).rejects.toMatchObject({ code: 'lan_peer_refused' });
    expect(b.events.filter((e) => e.t === 'connected')).toEqual([]);
    await a.api.peers.start(options, prove);
    expect(await a.api.peers.pair(`127.0.0.1:${port}`)).toMatchObject({ replica: B });
  });

  it('dials a roster peer pinned to the key its certificate names, and reports who answered there with another', async () => {
    const a = terminal();
    const b = terminal();
    await a.api.peers.start(...(await startArgs('till-a')));
    const { port } = await b.api.peers.start(...(await startArgs('till-b')));
    const C = replicaOf('till-c');
    const c = shellIdentity(await certifyTerminal(relay, C), relay).identity;
    // The roster says till-c is at till-b's address: till-b answers, proving its own key, not the one certified for till-c.
    await a.api.peers.setRoster([
      {
        replica: C,
        addresses: [`127.0.0.1:${port}`],
        certificate: c.certificate,
        certificateSignature: c.certificateSignature,
      },
    ]);
    await expect
      .poll(() => a.events.find((e) => e.t === 'refused'))
      .toMatchObject({ t: 'refused', replica: C, via: 'roster', address: `127.0.0.1:${port}` });
    expect(a.events.find((e) => e.t === 'refused')).toMatchObject({
      reason: expect.stringMatching(/not the advertised/),
    });
    expect(a.events.filter((e) => e.t === 'connected')).toEqual([]);

    const real = shellIdentity(await certifyTerminal(relay, B), relay).identity;
    await a.api.peers.setRoster([
      {
        replica: B,
        addresses: [`127.0.0.1:${port}`],
        certificate: real.certificate,
        certificateSignature: real.certificateSignature,
      },
    ]);
    // Another certificate for till-b than the one it proves: refused too; with no certificate the handshake decides.
    await expect
      .poll(() => a.events.filter((e) => e.t === 'refused' && e.replica === B).length)
      .toBeGreaterThan(0);
    await a.api.peers.setRoster([{ replica: B, addresses: [`127.0.0.1:${port}`] }]);
    await expect
      .poll(() => a.events.some((e) => e.t === 'connected' && e.replica === B), { timeout: 5_000 })
      .toBe(true);
  });

  it("admits only terminals of its own group when told the relay's sameClaims", async () => {
    const a = terminal();
    await a.api.peers.start(
      ...(await startArgs('till-a', relay, { claims: { shop: 7 }, sameClaims: ['shop'] })),
    );
    const other = terminal();
    const { port } = await other.api.peers.start(
      ...(await startArgs('till-b', relay, { claims: { shop: 8 } })),
    );
    const error = await a.api.peers.pair(`127.0.0.1:${port}`).catch((e: Error & { code?: string }) => e);
    expect(error).toMatchObject({
      code: 'lan_peer_refused',
      message: expect.stringMatching(/not a peer of this terminal/),
    });
    const same = terminal();
    const at = await same.api.peers.start(...(await startArgs('till-c', relay, { claims: { shop: 7 } })));
    expect(await a.api.peers.pair(`127.0.0.1:${at.port}`)).toMatchObject({ replica: replicaOf('till-c') });

    const lost = terminal();
    await expect(
      lost.api.peers.start(
        ...(await startArgs('till-d', relay, { claims: { shop: 7 }, sameClaims: ['storeId'] })),
      ),
    ).rejects.toMatchObject({ code: 'lan_identity_invalid' });
  });

  it('refuses malformed arguments in the preload and again in main, before anything runs', async () => {
    const a = terminal();
    const [options, prove] = await startArgs('till-a');
    const peers = a.api.peers as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    for (const [method, args] of [
      ['start', [{ replica: A }, prove]],
      ['start', [{ ...options, extra: 1 }, prove]],
      ['start', [{ ...options, identity: { ...options.identity, publicKey: 'AAAA' } }, prove]],
      ['start', [options, 'not a function']],
      ['signal', ['till-b', 42]],
      ['signal', ['till-b', 'x'.repeat(20_000)]],
      ['setRoster', [[{ replica: 'till-b', addresses: 'not a list' }]]],
      ['pair', [{ toString: () => '1.2.3.4:5' }]],
    ] as const)
      await expect(peers[method]!(...args)).rejects.toMatchObject({ code: 'ipc_bad_arguments' });
    for (const [channel, args] of [
      ['loam-desktop:peers-start', [A, 'store']],
      ['loam-desktop:peers-start', [{ replica: A, storeHash: 'store-1' }]],
      ['loam-desktop:peers-proof', [1, 'short']],
      ['loam-desktop:peers-proof', [-1, null]],
      ['loam-desktop:peers-signal', ['till-b']],
      ['loam-desktop:peers-list', ['x']],
    ] as const)
      expect(await a.router.handle(channel, { url: `${APP_ORIGIN}/` }, args)).toMatchObject({
        ok: false,
        code: 'ipc_bad_arguments',
      });
    expect(
      await a.router.handle('loam-desktop:peers-list', { url: 'https://evil.example/' }, []),
    ).toMatchObject({
      code: 'ipc_sender_refused',
    });
    await expect(a.api.peers.pair('127.0.0.1:1')).rejects.toMatchObject({ code: 'lan_peers_not_started' });
    await a.api.peers.start(options, prove);
    expect(await a.router.handle('loam-desktop:peers-proof', { url: `${APP_ORIGIN}/` }, [99, null])).toEqual({
      ok: true,
      value: false,
    });
    await expect(a.api.peers.pair('nowhere')).rejects.toMatchObject({ code: 'lan_address_invalid' });
  });
});
