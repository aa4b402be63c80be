/**
 * Development sign-in for the demo: signs the HS256 token a terminal presents to the relay. A real deployment
 * gets these from its own identity provider; the relay only checks the signature and the claims.
 */
import { SignJWT } from 'jose';

/** Issuer and audience the demo relay is configured with. */
export const DEV_ISSUER = 'loam-pos-dev';
export const DEV_AUDIENCE = 'loam-relay';

/** Who a terminal token is for. */
export interface TerminalClaims {
  readonly storeId: string;
  readonly terminal: string;
  readonly cashier: string;
}

/** How long a terminal token lasts, seconds. */
export const TOKEN_TTL_SECONDS = 12 * 3600;

/**
 * A token with `sub` = `<storeId>/terminal-<n>`, `role: 'cashier'`, `storeId`, `cashier` and `terminal` claims,
 * valid for {@link TOKEN_TTL_SECONDS}; `secret` is the relay's `auth.hs256Secret`.
 */
export async function signTerminalToken(
  secret: string,
  claims: TerminalClaims,
  now: () => number = Date.now,
): Promise<{ token: string; expiresAt: number }> {
  const issuedAt = Math.floor(now() / 1000);
  const expiresAt = issuedAt + TOKEN_TTL_SECONDS;
  const token = await new SignJWT({
    role: 'cashier',
    storeId: claims.storeId,
    terminal: claims.terminal,
    cashier: claims.cashier,
  })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(`${claims.storeId}/terminal-${claims.terminal}`)
    .setIssuer(DEV_ISSUER)
    .setAudience(DEV_AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .sign(new TextEncoder().encode(secret));
  return { token, expiresAt: expiresAt * 1000 };
}
