/**
 * The content digest a store keeps with each op id, so an id reused with other content (a device restored from
 * an older copy of its database) is told apart from a re-sent op.
 */
import { createHash } from 'node:crypto';
import { createOpId, encodeOps, type Op, parseOpId } from '@loam/core';

/** 16 bytes of SHA-256 over the op's encoding (`encodeOps([op])`): equal for the same op sent again. */
export function opDigest(op: Op): Uint8Array {
  return new Uint8Array(
    createHash('sha256')
      .update(encodeOps([op]))
      .digest()
      .subarray(0, 16),
  );
}

/**
 * 16 bytes of SHA-256 over the op's content without its sequence number: equal for one write sent under two ids
 * (renumbered after a conflict, then renumbered again by another copy of the same database).
 */
export function contentDigest(op: Op): Uint8Array {
  return opDigest({ ...op, id: createOpId(parseOpId(op.id).replica, 1) });
}

/** Whether two digests are equal; a missing one (an id recorded before digests were kept) matches anything. */
export function sameDigest(a: Uint8Array | null | undefined, b: Uint8Array): boolean {
  if (!a) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
