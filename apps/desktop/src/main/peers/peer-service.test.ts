import { afterEach, describe, expect, it } from 'vitest';
import { createDesktopApi } from '../../preload/desktop-api';
import type { LanPeerEvent } from '../../shared/contract';
import { createIpcRouter } from '../ipc';
import { APP_ORIGIN } from '../origin';
import { createPeerService, type PeerService } from './peer-service';

const services: PeerService[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) await s.stop();
});

/** A terminal's `window.loamDesktop` wired to a real router and peer service in this process (mDNS off). */
function terminal() {
  const events: LanPeerEvent[] = [];
  const listeners = new Set<(e: unknown) => void>();
  const service = createPeerService({
    emit: (event) => {
      for (const l of listeners) l(event);
    },
    lan: { mdns: false, host: '127.0.0.1' },
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
  it('pairs two terminals by address and carries their signals as events', async () => {
    const a = terminal();
    const b = terminal();
    await a.api.peers.start({ replica: 'till-a', storeHash: 'store-1' });
    const { port } = await b.api.peers.start({ replica: 'till-b', storeHash: 'store-1' });
    expect(await a.api.peers.pair(`127.0.0.1:${port}`)).toMatchObject({ replica: 'till-b' });
    await expect.poll(() => b.events.filter((e) => e.t === 'connected')).toHaveLength(1);
    expect(b.events[0]).toMatchObject({ t: 'connected', replica: 'till-a', via: 'inbound' });
    expect(await b.api.peers.list()).toEqual([expect.objectContaining({ replica: 'till-a' })]);

    expect(await a.api.peers.signal('till-b', '{"type":"offer"}')).toBe(true);
    expect(await a.api.peers.signal('till-z', '{"type":"offer"}')).toBe(false);
    await expect
      .poll(() => b.events.filter((e) => e.t === 'signal'))
      .toEqual([{ t: 'signal', from: 'till-a', data: '{"type":"offer"}' }]);

    await a.api.peers.start({ replica: 'till-a2', storeHash: 'store-1' });
    await expect
      .poll(() => b.events.some((e) => e.t === 'disconnected' && e.replica === 'till-a'))
      .toBe(true);
  });

  it('refuses malformed arguments in the preload and again in main, before anything runs', async () => {
    const a = terminal();
    const peers = a.api.peers as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    for (const [method, args] of [
      ['start', [{ replica: 'till-a' }]],
      ['start', [{ replica: 'till-a', storeHash: 's', extra: 1 }]],
      ['signal', ['till-b', 42]],
      ['signal', ['till-b', 'x'.repeat(20_000)]],
      ['setRoster', [[{ replica: 'till-b', addresses: 'not a list' }]]],
      ['pair', [{ toString: () => '1.2.3.4:5' }]],
    ] as const)
      await expect(peers[method]!(...args)).rejects.toMatchObject({ code: 'ipc_bad_arguments' });
    for (const [channel, args] of [
      ['loam-desktop:peers-start', ['till-a', 'store']],
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
    await a.api.peers.start({ replica: 'till-a', storeHash: 'store-1' });
    await expect(a.api.peers.pair('nowhere')).rejects.toMatchObject({ code: 'lan_address_invalid' });
  });
});
