/**
 * Inside the desktop shell, the till also peers with the store's other tills over the shop's LAN with no server:
 * the shell's main process finds them (mDNS, the relay's roster) and carries their signaling, and each WebRTC link
 * goes to this till's database (`keepLanPeering` of `@loam/desktop/renderer`). In a browser there is no
 * `window.loamDesktop` and nothing happens (links are then signaled through the relay only).
 */
import type { LoamDesktopPeers } from '@loam/desktop/renderer';
import { PEER_GROUP_CLAIMS } from '../shop/terminal';
import type { ShopDatabase } from './shop-database';

/** Starts LAN peering when running inside the desktop shell; returns the function that stops it. */
export async function peerOnDesktopLan(db: ShopDatabase, storeId: string | number): Promise<() => void> {
  const desktop = (globalThis as { loamDesktop?: { peers?: LoamDesktopPeers } }).loamDesktop?.peers;
  if (!desktop) return () => undefined;
  const [{ keepLanPeering, storeHashOf }, webrtc] = await Promise.all([
    import('@loam/desktop/renderer'),
    import('@loam/sync/webrtc'),
  ]);
  return keepLanPeering({
    desktop,
    db: db.peers,
    webrtc,
    storeHash: await storeHashOf(storeId),
    sameClaims: PEER_GROUP_CLAIMS,
    onError: (error) => console.warn(`LAN peering: ${(error as Error).message}`),
  });
}
