/**
 * Peers (the store's other tills this one syncs with directly) in a cashier's words: which till, and whether it is
 * connected now or when it was last heard from.
 */
import type { PeerView } from '../app/shop-database';

/**
 * The till a device's user or a refused write's author names (`<store>/terminal-2` → `Till 2`); otherwise the
 * text itself, shortened.
 */
export function tillName(user: string | undefined): string {
  const till = user?.match(/terminal-(\d+)/)?.[1];
  if (till) return `Till ${till}`;
  return user ? user.slice(0, 24) : 'Another till';
}

const timeFormat = new Intl.DateTimeFormat('en-GB', {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** One peer: its name and a line saying whether it is connected (or since when it is not). */
export function describePeer(peer: PeerView): { name: string; text: string; connected: boolean } {
  const name = tillName(peer.user);
  const seen = peer.lastSeen > 0 ? `last seen ${timeFormat.format(peer.lastSeen)}` : 'not seen yet';
  switch (peer.state) {
    case 'live':
      return { name, text: 'connected', connected: true };
    case 'syncing':
      return { name, text: 'connected, catching up', connected: true };
    case 'authenticating':
      return { name, text: 'connecting…', connected: false };
    case 'refused':
      return { name, text: `not trusted: ${peer.refusal?.reason ?? 'refused'}`, connected: false };
    default:
      return { name, text: seen, connected: false };
  }
}
