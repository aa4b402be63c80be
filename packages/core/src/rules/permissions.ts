/**
 * What a device may do, as the relay tells it: for each collection, the role that applies to the device's token
 * (and the claims its placeholders read). A device evaluates them with the same {@link createAccess} code the
 * relay runs, so an app can hide an action the relay would refuse; the relay still checks every write.
 *
 * Invariants:
 * 1. **Only the applying role travels.** {@link permissionsFor} keeps, per collection, the role the relay resolved
 *    for these claims, without its `applyWhen` (already decided); roles of other users, and collections the user
 *    has no role in, are left out (no access, as on the relay).
 * 2. **Same answer as the relay.** `checkPermission(permissionsFor(rules, claims), c, w)` equals
 *    `createAccess(rules, claims, c).checkWrite(w)` for every write `w`.
 */
import { createAccess, resolveRole } from './access';
import type { Claims, Role, Rules, WriteDecision, WriteRequest } from './rules';

/** The rules that apply to one token, and its claims. Plain data (JSON / MessagePack). */
export interface Permissions {
  /** Per collection, the one role that applies, without `applyWhen`. */
  readonly rules: Rules;
  /** The token's verified claims (what `%%user.<claim>` placeholders read). */
  readonly claims: Claims;
}

/** The permissions of the user with `claims` under `rules` (see the module invariants). */
export function permissionsFor(rules: Rules, claims: Claims): Permissions {
  const applying: Record<string, { roles: Role[] }> = {};
  for (const collection of Object.keys(rules)) {
    const role = resolveRole(rules, claims, collection);
    if (!role) continue;
    const { applyWhen: _decided, ...rest } = role;
    applying[collection] = { roles: [rest] };
  }
  return { rules: applying, claims };
}

/** Checks `write` to `collection` against `permissions`, as the relay would (first failure reported). */
export function checkPermission(
  permissions: Permissions,
  collection: string,
  write: WriteRequest,
): WriteDecision {
  return createAccess(permissions.rules, permissions.claims, collection).checkWrite(write);
}
