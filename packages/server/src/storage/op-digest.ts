/**
 * The content digest a store keeps with each op id, so an id reused with other content (a device restored from
 * an older copy of its database) is told apart from a re-sent op.
 */
import { hash } from 'node:crypto';
import { createOpId, encodeOps, type Op, parseOpId } from '@loam/core';

const sha16 = (bytes: Uint8Array) => new Uint8Array(hash('sha256', bytes, 'buffer').subarray(0, 16));

/** 16 bytes of SHA-256 over the op's encoding (`encodeOps([op])`): equal for the same op sent again. */
export function opDigest(op: Op): Uint8Array {
  return sha16(encodeOps([op]));
}

/**
 * 16 bytes of SHA-256 over the op's content without its sequence number: equal for one write sent under two ids
 * (renumbered after a conflict, then renumbered again by another copy of the same database).
 */
export function contentDigest(op: Op): Uint8Array {
  return opDigest({ ...op, id: createOpId(parseOpId(op.id).replica, 1) });
}

/** An op's {@link opDigest} and {@link contentDigest}. */
export interface OpDigests {
  readonly op: Uint8Array;
  readonly content: Uint8Array;
}

/** Bytes a MessagePack unsigned integer or float takes, from its first byte (undefined: not one). */
function numberBytes(first: number): number | undefined {
  if (first < 0x80) return 1;
  return ({ 204: 2, 205: 3, 206: 5, 207: 9, 203: 9 } as Record<number, number>)[first];
}

/**
 * Both digests of an op from one encoding (a store hashes every op it is sent twice): the content's encoding is
 * the op's with its sequence number, the tuple's third element, written as 1. Falls back to encoding twice when
 * the bytes are not laid out as expected.
 */
export function opDigests(op: Op): OpDigests {
  const bytes = encodeOps([op]);
  // [format version, 0x91 (one op), tuple header (fixarray), kind (fixint), replica (str), seq, …]
  let at = 4;
  const head = bytes[at] as number;
  if ((head & 0xe0) === 0xa0) at += 1 + (head & 0x1f);
  else if (head === 0xd9) at += 2 + (bytes[at + 1] as number);
  else at = -1;
  const seqBytes = at > 0 && at < bytes.length ? numberBytes(bytes[at] as number) : undefined;
  if (bytes[1] !== 0x91 || ((bytes[2] as number) & 0xf0) !== 0x90 || seqBytes === undefined)
    return { op: sha16(bytes), content: contentDigest(op) };
  const content = new Uint8Array(bytes.length - seqBytes + 1);
  content.set(bytes.subarray(0, at));
  content[at] = 1;
  content.set(bytes.subarray(at + seqBytes), at + 1);
  return { op: sha16(bytes), content: sha16(content) };
}

/** Whether two digests are equal; a missing one (an id recorded before digests were kept) matches anything. */
export function sameDigest(a: Uint8Array | null | undefined, b: Uint8Array): boolean {
  if (!a) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
