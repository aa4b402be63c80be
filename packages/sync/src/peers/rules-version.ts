/**
 * The version stamped on device certificates and compared in the peer `hello`: a number that changes when the
 * rules change (FNV-1a of their JSON), computed the same way by the relay and by every replica.
 */
import type { Rules } from '@loam/core';

/** The version of `rules`. */
export function rulesVersion(rules: Rules): number {
  let h = 0x811c9dc5;
  for (const ch of JSON.stringify(rules)) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
