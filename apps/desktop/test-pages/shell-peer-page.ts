/**
 * A till of `shell-peers.browser.test.ts`: the app's side of LAN peering inside the desktop shell, with the shell
 * emulated. It opens a real database (`@loam/client`, certified by the relay `?sync=` with `?token=` at sign-in,
 * peering only over links the shell signals: `dial: false`), builds `window.loamDesktop` with the real preload
 * code (`createDesktopApi`) over the `loamDesktopInvoke` binding the test installs (which runs the real IPC router
 * and peer service in Node, as main would; main's events arrive through `__loamDesktopEvent`), and links to LAN
 * peers with `startLanPeering`, which hands each WebRTC link to `db.peers.connect`. Not part of the app.
 */
import { openDatabase, type PeerView } from '@loam/client';
import { createDesktopApi } from '../src/preload/desktop-api';
import { type LanPeering, startLanPeering } from '../src/renderer/lan-peering';
import type { LanPeerEvent } from '../src/shared/contract';
import { shellShopRules, shellShopSchema } from './shell-shop';

declare const loamDesktopInvoke: (channel: string, args: unknown[]) => Promise<unknown>;

const params = new URL(location.href).searchParams;
const token = params.get('token');
const events = new Set<(event: unknown) => void>();
(globalThis as unknown as { __loamDesktopEvent: (e: unknown) => void }).__loamDesktopEvent = (event) => {
  for (const l of events) l(event);
};
const desktop = createDesktopApi(
  (channel, ...args) => loamDesktopInvoke(channel, args),
  (listener) => {
    events.add(listener);
    return () => events.delete(listener);
  },
);
const db = await openDatabase({
  name: params.get('db') ?? 'till',
  schema: shellShopSchema,
  sync: { url: params.get('sync') ?? 'ws://127.0.0.1:9/', getToken: async () => token },
  peers: { rules: shellShopRules, dial: false, keepAliveMs: 250 },
});
const sales = db.collection('sales');
let items: string[] = [];
sales.watch({ sort: [{ field: 'item', dir: 'asc' }] }, (docs) => {
  items = docs.map((d) => d.item);
});
let peers: PeerView[] = [];
db.peers.onChange((list) => {
  peers = list;
});
let peering: LanPeering | undefined;
const lanEvents: LanPeerEvent[] = [];
desktop.peers.onEvent((event) => {
  if (event.t !== 'signal') lanEvents.push(event);
});

const page = {
  /** Whether the relay certified this till's device key (it signed in once). */
  certified: async () => (await db.peers.identity()) !== undefined,
  /** Starts LAN peering as the app does at boot; resolves with main's LAN signaling port. */
  async startLan(storeHash: string) {
    peering = await startLanPeering({
      desktop: desktop.peers,
      db: db.peers,
      webrtc: await import('@loam/sync/webrtc'),
      storeHash,
      sameClaims: ['shop'],
      keepAliveMs: 250,
    });
    return peering.port;
  },
  lanPeers: () => desktop.peers.list(),
  /** Main's events other than signals, in order. */
  lanEvents: () => lanEvents,
  peers: () => peers,
  sell: async (item: string) => {
    await sales.insert({ item, qty: 1 });
  },
  sales: () => items,
};

export type ShellPeerPage = typeof page;
(globalThis as unknown as { __shellPeerPage: ShellPeerPage }).__shellPeerPage = page;
