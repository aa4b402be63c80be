/**
 * Till numbers: a store's terminals are numbered 1 to 99. Anything else is not a till (never silently Till 1).
 */

/** The largest till number. */
export const MAX_TERMINAL = 99;

/** The canonical till number of `value` (`'07'` → `'7'`), or `undefined` when it is not a number from 1 to 99. */
export function parseTerminal(value: string | null | undefined): string | undefined {
  if (typeof value !== 'string' || !/^\d{1,2}$/.test(value.trim())) return undefined;
  const n = Number(value.trim());
  return n >= 1 && n <= MAX_TERMINAL ? String(n) : undefined;
}

/**
 * The claims the shop's relay groups peering tills by (its `peers.sameClaims`): tills of one store peer, through
 * the relay's signaling and on the LAN, and no others.
 */
export const PEER_GROUP_CLAIMS: readonly string[] = ['storeId'];
