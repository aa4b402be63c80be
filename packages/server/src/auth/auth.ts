/**
 * Token verification with `jose`.
 *
 * Invariants:
 * 1. Algorithms are pinned to the configured keys: `HS256` only when a secret is configured, and each public key
 *    (or JWKS entry) only for its own `alg`. `alg: none`, and an HS256 token "signed" with a public key, are
 *    refused before any signature check.
 * 2. A token naming a `kid` is verified with that key only; an unknown `kid` is refused (`auth_invalid`).
 * 3. `exp` is required and checked, and so are `iss` and `aud` when configured. An expired token is
 *    `auth_expired`; every other failure is `auth_invalid`; no token without anonymous sign-in is
 *    `auth_required`.
 * 4. The user id is the `sub` claim (a non-empty string). An anonymous user is `anon:<replica>`, with claims
 *    `{ sub, anonymous: true }`.
 */
import type { Claims, ReplicaId } from '@loam/core';
import {
  type CryptoKey,
  createLocalJWKSet,
  errors,
  importSPKI,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  jwtVerify,
} from 'jose';
import type { AuthConfig } from '../config/config';
import { AuthError, ServerErrorCode } from '../errors';

/** Who a connection acts as. */
export interface Identity {
  /** The user id (`sub`, or `anon:<replica>`). */
  readonly user: string;
  /** The verified claims (rules choose roles and substitute placeholders from them). */
  readonly claims: Claims;
  /** When the token expires (Unix ms); undefined for anonymous sessions. */
  readonly expiresAt?: number;
}

/** Verifies tokens against the configured keys. */
export interface Verifier {
  /** The algorithms tokens may use. */
  readonly algorithms: readonly string[];
  /** Resolves a token (or null for anonymous sign-in) to an identity; throws `AuthError`. */
  verify(token: string | null, replica: ReplicaId): Promise<Identity>;
}

interface KeyEntry {
  readonly kid?: string;
  readonly alg: string;
  readonly key: CryptoKey | Uint8Array;
}

/** Creates a verifier; rejects with `AuthError` (`auth_invalid`) if a configured key cannot be imported. */
export async function createVerifier(config: AuthConfig, now: () => number = Date.now): Promise<Verifier> {
  const entries: KeyEntry[] = [];
  if (config.hs256Secret !== undefined)
    entries.push({ alg: 'HS256', key: new TextEncoder().encode(config.hs256Secret) });
  for (const k of config.publicKeys) {
    try {
      entries.push({
        ...(k.kid !== undefined ? { kid: k.kid } : {}),
        alg: k.alg,
        key: await importSPKI(k.pem, k.alg),
      });
    } catch (cause) {
      throw new AuthError(ServerErrorCode.authInvalid, `Cannot import public key ${k.kid ?? k.alg}`, {
        cause,
      });
    }
  }
  const jwks = config.jwks ? createLocalJWKSet(config.jwks as unknown as JSONWebKeySet) : undefined;
  const jwksAlgs = (config.jwks?.keys ?? []).map((k) => k.alg as string);
  const jwksKids = new Set((config.jwks?.keys ?? []).map((k) => k.kid).filter((k) => typeof k === 'string'));
  const algorithms = [...new Set([...entries.map((e) => e.alg), ...jwksAlgs])];

  const resolveKey = async (header: JWSHeaderParameters, token: Parameters<NonNullable<typeof jwks>>[1]) => {
    const alg = header.alg;
    if (header.kid !== undefined) {
      const entry = entries.find((e) => e.kid === header.kid);
      if (entry) {
        if (entry.alg !== alg)
          throw new AuthError(
            ServerErrorCode.authInvalid,
            `Key "${header.kid}" is for ${entry.alg}, not ${alg}`,
          );
        return entry.key;
      }
      if (jwks && jwksKids.has(header.kid)) return jwks(header, token);
      throw new AuthError(ServerErrorCode.authInvalid, `Unknown key id (kid) "${header.kid}"`);
    }
    const candidates = entries.filter((e) => e.alg === alg && e.kid === undefined);
    if (candidates.length === 1) return candidates[0]!.key;
    if (jwks && jwksAlgs.includes(alg as string)) return jwks(header, token);
    throw new AuthError(
      ServerErrorCode.authInvalid,
      `The token names no key id (kid) and no single ${alg} key applies`,
    );
  };

  return {
    algorithms,
    async verify(token, replica) {
      if (token === null) {
        if (!config.anonymous)
          throw new AuthError(ServerErrorCode.authRequired, 'A token is required: anonymous sign-in is off');
        const user = `anon:${replica}`;
        return { user, claims: { sub: user, anonymous: true } };
      }
      if (algorithms.length === 0)
        throw new AuthError(
          ServerErrorCode.authInvalid,
          'This server accepts anonymous sign-in only: send no token',
        );
      try {
        const { payload } = await jwtVerify(token, resolveKey, {
          algorithms,
          requiredClaims: ['exp', 'sub'],
          currentDate: new Date(now()),
          ...(config.issuer !== undefined ? { issuer: config.issuer } : {}),
          ...(config.audience !== undefined ? { audience: config.audience } : {}),
        });
        if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.startsWith('anon:'))
          throw new AuthError(ServerErrorCode.authInvalid, 'The token\'s "sub" claim must be a user id');
        return { user: payload.sub, claims: payload as Claims, expiresAt: (payload.exp as number) * 1000 };
      } catch (cause) {
        if (cause instanceof AuthError) throw cause;
        if (cause instanceof errors.JWTExpired)
          throw new AuthError(ServerErrorCode.authExpired, 'The token has expired: refresh it', { cause });
        const message = cause instanceof Error ? cause.message : String(cause);
        throw new AuthError(ServerErrorCode.authInvalid, `Invalid token: ${message}`, { cause });
      }
    },
  };
}
