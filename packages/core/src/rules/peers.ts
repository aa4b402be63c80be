/**
 * Which signed-in devices may peer with each other: the `peers` rules. The relay evaluates them before it forwards
 * a signaling message between two sessions and when it builds a device's roster; the same function will let a
 * device judge a peer's certificate claims offline.
 *
 * A device may peer when its claims match `applyWhen` (absent: always) and every claim named in `sameClaims` is a
 * string, a finite number or a boolean. Two such devices may peer when those claims are equal on both: with
 * `sameClaims: ['storeId']`, the tills of one shop peer with each other and with no other shop's. An empty
 * `sameClaims` puts every device that matches `applyWhen` in one group. No `peers` rules: nobody peers.
 */
import { RulesError } from '../errors';
import type { Filter } from '../query/ast';
import { evaluateFilter } from '../query/evaluate';
import { validateFieldPath, validateFilter } from '../query/validate';
import { getField, isWellFormedString } from '../query/values';
import type { Claims } from './rules';

/** The `peers` rules (see the module documentation). */
export interface PeerRules {
  /** Claim paths that must be present and equal on both devices, e.g. `['storeId']`. */
  readonly sameClaims: readonly string[];
  /** A filter over the claims a device must match to peer at all; no placeholders. */
  readonly applyWhen?: Filter;
}

function isScalar(value: unknown): value is string | number | boolean {
  if (typeof value === 'string') return isWellFormedString(value);
  return typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * The peer group of a device: a key equal for exactly the devices it may peer with, or `undefined` when it may
 * peer with nobody (no rules, `applyWhen` does not match, a `sameClaims` claim missing or not a scalar).
 */
export function peerGroup(rules: PeerRules | undefined, claims: Claims): string | undefined {
  if (!rules) return undefined;
  if (rules.applyWhen !== undefined && !evaluateFilter(rules.applyWhen, claims)) return undefined;
  const values: (string | number | boolean)[] = [];
  for (const path of rules.sameClaims) {
    const value = getField(claims, path);
    if (!isScalar(value)) return undefined;
    values.push(value);
  }
  return JSON.stringify(values);
}

/** Whether two devices, by their claims, may peer with each other. */
export function mayPeer(rules: PeerRules | undefined, a: Claims, b: Claims): boolean {
  const group = peerGroup(rules, a);
  return group !== undefined && group === peerGroup(rules, b);
}

/** Reads `peers` rules from JSON; throws `RulesError` naming the first problem. */
export function validatePeerRules(input: unknown): PeerRules {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new RulesError('peers: expected an object with "sameClaims"');
  const o = input as Record<string, unknown>;
  for (const key of Object.keys(o))
    if (key !== 'sameClaims' && key !== 'applyWhen')
      throw new RulesError(`peers.${key}: unknown key (known: sameClaims, applyWhen)`);
  if (!Array.isArray(o.sameClaims))
    throw new RulesError('peers.sameClaims: expected an array of claim paths');
  const sameClaims = o.sameClaims.map((path, i) => {
    try {
      return validateFieldPath(path);
    } catch (error) {
      throw new RulesError(`peers.sameClaims[${i}]: ${(error as Error).message}`);
    }
  });
  if (o.applyWhen === undefined) return { sameClaims };
  let applyWhen: Filter;
  try {
    applyWhen = validateFilter(o.applyWhen);
  } catch (error) {
    throw new RulesError(`peers.applyWhen: ${(error as Error).message}`);
  }
  if (JSON.stringify(applyWhen).includes('"%%'))
    throw new RulesError(
      'peers.applyWhen: placeholders are not allowed here (its fields already are claims)',
    );
  return { sameClaims, applyWhen };
}
