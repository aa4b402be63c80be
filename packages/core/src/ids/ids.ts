/**
 * Identifiers, as branded strings so that a replica id cannot be passed where a document id is expected.
 *
 * - `ReplicaId`: 16 characters of `[0-9a-z]`, random, one per database file (a device, a tab's leader worker,
 *   a server-side client). Fixed length and alphabet make it safe to append to an encoded timestamp.
 * - `OpId`: `<replica>:<seq>`, `seq` a positive safe integer that only grows on its replica; unique forever.
 * - `DocId`: any 1–128 character string without control characters. Loam generates UUIDv7 (time-ordered, so
 *   new documents land at the end of the primary-key index), but apps may bring their own ids (e.g. a SKU).
 */
import { IdError } from '../errors';

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** The id of a replica (a database file): 16 characters of `[0-9a-z]`. */
export type ReplicaId = Brand<string, 'ReplicaId'>;
/** The id of an op, `<replica>:<seq>`: unique forever. */
export type OpId = Brand<string, 'OpId'>;
/** The id of a document: 1–128 characters without control characters (Loam makes UUIDv7s). */
export type DocId = Brand<string, 'DocId'>;

/** A source of uniformly distributed floats in [0, 1); injectable so tests are reproducible. */
export type Random = () => number;

const REPLICA_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
const REPLICA_RE = /^[0-9a-z]{16}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const DOC_ID_RE = /^[^\u0000-\u001f\u007f]{1,128}$/;

/** Creates a new random replica id. */
export function createReplicaId(random: Random = Math.random): ReplicaId {
  let id = '';
  for (let i = 0; i < 16; i++) id += REPLICA_ALPHABET[Math.floor(random() * 36)];
  return id as ReplicaId;
}

/** True when `value` is a well-formed replica id. */
export function isReplicaId(value: unknown): value is ReplicaId {
  return typeof value === 'string' && REPLICA_RE.test(value);
}

/** Checks and brands a replica id; throws `IdError` otherwise. */
export function asReplicaId(value: string): ReplicaId {
  if (!isReplicaId(value))
    throw new IdError(`Not a replica id (16 characters of 0-9a-z): ${JSON.stringify(value)}`);
  return value;
}

/** Builds the op id of the `seq`-th operation of `replica`. */
export function createOpId(replica: ReplicaId, seq: number): OpId {
  if (!Number.isSafeInteger(seq) || seq < 1)
    throw new IdError(`Op sequence must be a positive integer, got ${seq}`);
  return `${replica}:${seq}` as OpId;
}

/** Splits an op id into its replica and sequence number; throws `IdError` if malformed. */
export function parseOpId(id: string): { replica: ReplicaId; seq: number } {
  const colon = id.indexOf(':');
  const replica = id.slice(0, colon);
  const seq = Number(id.slice(colon + 1));
  if (
    colon !== 16 ||
    !isReplicaId(replica) ||
    !Number.isSafeInteger(seq) ||
    seq < 1 ||
    String(seq) !== id.slice(17)
  ) {
    throw new IdError(`Not an op id (<replica>:<seq>): ${JSON.stringify(id)}`);
  }
  return { replica, seq };
}

/** True when `value` is acceptable as a document id. */
export function isDocId(value: unknown): value is DocId {
  return typeof value === 'string' && DOC_ID_RE.test(value) && value.isWellFormed();
}

/** Checks and brands a document id; throws `IdError` otherwise. */
export function asDocId(value: string): DocId {
  if (!isDocId(value)) {
    throw new IdError(
      `Not a document id (1-128 characters, no control characters): ${JSON.stringify(value)}`,
    );
  }
  return value;
}

const HEX = '0123456789abcdef';
/** Two hex digits per byte value. */
const BYTE_HEX = Array.from({ length: 256 }, (_, b) => (HEX[b >> 4] as string) + HEX[b & 15]);
/** Random bytes drawn from the platform's CSPRNG a pool at a time (one `getRandomValues` per ~1600 ids). */
const POOL_BYTES = 16 * 1024;
const RANDOM_BYTES_PER_ID = 10;
let pool: Uint8Array | undefined;
let poolAt = POOL_BYTES;
/** The hex of the last millisecond an id was made in, `xxxxxxxx-xxxx` (UUIDv7's first two groups). */
let lastMs = -1;
let lastMsHex = '';

/**
 * Drops the random bytes drawn ahead for ids, so that the next id draws afresh from `crypto.getRandomValues`: for a
 * run that seeds it (the real-stack fuzzer), whose ids must not depend on what earlier runs left in the pool.
 */
export function discardIdRandomPool(): void {
  poolAt = POOL_BYTES;
}

/** The first two groups of a UUIDv7 made at `ms`. */
function msGroups(ms: number): string {
  if (ms !== lastMs) {
    const hex = ms.toString(16).padStart(12, '0').slice(-12);
    lastMs = ms;
    lastMsHex = `${hex.slice(0, 8)}-${hex.slice(8, 12)}`;
  }
  return lastMsHex;
}

/**
 * Generates a UUIDv7 (RFC 9562): 48 bits of Unix milliseconds then 74 random bits. Ids created later sort
 * later as strings (to the millisecond), which keeps inserts at the end of SQLite's primary-key b-tree.
 *
 * Without `random`, the 74 bits come from `crypto.getRandomValues` (drawn in pools, so an id costs a few string
 * concatenations): ids made by different replicas in the same millisecond collide with probability ~2^-74 per pair.
 * A `random` source (tests) is sampled once per hex digit instead.
 */
export function createDocId(now: () => number = Date.now, random?: Random): DocId {
  const ms = Math.max(0, Math.floor(now()));
  if (random) {
    let hex = '7';
    for (let i = 0; i < 3; i++) hex += HEX[Math.floor(random() * 16)];
    hex += HEX[8 + Math.floor(random() * 4)];
    for (let i = 0; i < 15; i++) hex += HEX[Math.floor(random() * 16)];
    return `${msGroups(ms)}-${hex.slice(0, 4)}-${hex.slice(4, 8)}-${hex.slice(8)}` as DocId;
  }
  if (!pool || poolAt + RANDOM_BYTES_PER_ID > POOL_BYTES) {
    pool ??= new Uint8Array(POOL_BYTES);
    globalThis.crypto.getRandomValues(pool);
    poolAt = 0;
  }
  const b = pool;
  const i = poolAt;
  poolAt += RANDOM_BYTES_PER_ID;
  const b1 = b[i + 1] as number;
  // 12 bits (version group), 2 (variant digit), 12, 48: 74 random bits.
  return `${msGroups(ms)}-7${BYTE_HEX[b[i] as number]}${HEX[b1 >> 4]}-${HEX[8 | (b1 & 3)]}${
    BYTE_HEX[b[i + 2] as number]
  }${HEX[(b[i + 3] as number) & 15]}-${BYTE_HEX[b[i + 4] as number]}${BYTE_HEX[b[i + 5] as number]}${
    BYTE_HEX[b[i + 6] as number]
  }${BYTE_HEX[b[i + 7] as number]}${BYTE_HEX[b[i + 8] as number]}${BYTE_HEX[b[i + 9] as number]}` as DocId;
}
