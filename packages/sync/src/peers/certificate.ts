/**
 * Device certificates and revocation lists: what the relay signs so that peers can check each other offline.
 * Client, peer and relay verify them with this one module.
 *
 * A certificate binds a replica's public key to the user, claims and rules version it signed in with:
 * `{serial, replica, publicKey, user, claims, rulesVersion, notBefore, expires}` (ms since epoch). The revocation
 * list names replicas whose certificates no longer count: `{version, issuedAt, replicas}`; a higher version
 * replaces a lower one.
 *
 * Wire form: the signed *bytes* travel, never a re-encoding. `bytes` is a MessagePack array
 * `[FORMAT, serial, replica, publicKey, user, claims, rulesVersion, notBefore, expires]` (resp.
 * `[FORMAT, version, issuedAt, replicas]`); `signature` is the relay's Ed25519 signature of a context label
 * followed by `bytes`, so a signature made for one kind of message is never valid for another.
 *
 * Decoding is total: any input yields a well-formed value or a `PeerError` (`cert_invalid`).
 */
import { type Claims, decodeBoundedMsgpack, isReplicaId, type ReplicaId } from '@loam/core';
import { Encoder } from '@msgpack/msgpack';
import { PeerError, PeerErrorCode } from '../errors';
import { hex, PUBLIC_KEY_BYTES, SIGNATURE_BYTES, sign, verify } from './keys';

const FORMAT = 1;
const CERT_CONTEXT = new TextEncoder().encode('loam/device-certificate/1\u0000');
const REVOCATION_CONTEXT = new TextEncoder().encode('loam/revocation-list/1\u0000');
const MAX_CERT_BYTES = 16 * 1024;
const MAX_REVOCATION_BYTES = 1024 * 1024;
const encoder = new Encoder({ ignoreUndefined: true });

/** What a device certificate says. */
export interface DeviceCertificate {
  /** Unique per certificate the relay issued; grows. */
  readonly serial: number;
  readonly replica: ReplicaId;
  /** The device's Ed25519 public key (32 raw bytes). */
  readonly publicKey: Uint8Array;
  readonly user: string;
  /** The claims of the token the device signed in with: what peers judge the device's writes by. */
  readonly claims: Claims;
  /** The version of the rules the relay ran when it issued the certificate. */
  readonly rulesVersion: number;
  readonly notBefore: number;
  readonly expires: number;
}

/** A certificate as it travels: the signed bytes, the relay's signature, and what the bytes say. */
export interface SignedCertificate {
  readonly bytes: Uint8Array;
  readonly signature: Uint8Array;
  readonly cert: DeviceCertificate;
}

/** The relay's list of revoked devices. */
export interface RevocationList {
  readonly version: number;
  readonly issuedAt: number;
  readonly replicas: readonly ReplicaId[];
}

/** A revocation list as it travels (signed bytes, signature, content). */
export interface SignedRevocationList {
  readonly bytes: Uint8Array;
  readonly signature: Uint8Array;
  readonly list: RevocationList;
}

/** The outcome of a check: valid, or a stable code and a reason a person can act on. */
export type Verdict<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: PeerErrorCode; readonly reason: string };

/** What a verifier trusts: the relay's public key, the time, and the revocations it knows. */
export interface Trust {
  readonly relayKey: Uint8Array;
  readonly now: () => number;
  /** Replicas whose certificates are revoked. */
  readonly revoked: (replica: ReplicaId) => boolean;
}

function labelled(context: Uint8Array, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(context.length + bytes.length);
  out.set(context);
  out.set(bytes, context.length);
  return out;
}

function bad(message: string): never {
  throw new PeerError(PeerErrorCode.certInvalid, message);
}

function parseArray(bytes: unknown, max: number, what: string): unknown[] {
  if (!(bytes instanceof Uint8Array) || bytes.length > max) bad(`${what}: expected at most ${max} bytes`);
  let body: unknown;
  try {
    body = decodeBoundedMsgpack(bytes);
  } catch (error) {
    bad(`${what}: not valid MessagePack (${(error as Error).message})`);
  }
  if (!Array.isArray(body) || body[0] !== FORMAT) bad(`${what}: unknown format`);
  return body;
}

const isTime = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** Reads a certificate's bytes (no signature check). Throws `PeerError` (`cert_invalid`) when malformed. */
export function decodeCertificate(bytes: Uint8Array): DeviceCertificate {
  const a = parseArray(bytes, MAX_CERT_BYTES, 'certificate');
  const [, serial, replica, publicKey, user, claims, rulesVersion, notBefore, expires] = a;
  if (a.length !== 9) bad('certificate: wrong number of fields');
  if (!isTime(serial)) bad('certificate.serial: expected a non-negative integer');
  if (!isReplicaId(replica)) bad('certificate.replica: not a replica id');
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES)
    bad('certificate.publicKey: expected 32 bytes');
  if (typeof user !== 'string' || user.length > 256) bad('certificate.user: expected a string');
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims) || claims instanceof Uint8Array)
    bad('certificate.claims: expected a map');
  if (!isTime(rulesVersion)) bad('certificate.rulesVersion: expected a non-negative integer');
  if (!isTime(notBefore) || !isTime(expires) || expires < notBefore)
    bad('certificate validity: expected notBefore <= expires');
  return { serial, replica, publicKey, user, claims: claims as Claims, rulesVersion, notBefore, expires };
}

/** Signs a certificate with the relay's key. */
export async function issueCertificate(
  relayKey: CryptoKey,
  cert: DeviceCertificate,
): Promise<SignedCertificate> {
  const bytes = encoder.encode([
    FORMAT,
    cert.serial,
    cert.replica,
    cert.publicKey,
    cert.user,
    cert.claims,
    cert.rulesVersion,
    cert.notBefore,
    cert.expires,
  ]);
  return {
    bytes,
    signature: await sign(relayKey, labelled(CERT_CONTEXT, bytes)),
    cert: decodeCertificate(bytes),
  };
}

/** Reads a certificate as it travels (bytes and signature), without checking the signature. */
export function readSignedCertificate(bytes: Uint8Array, signature: Uint8Array): SignedCertificate {
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES)
    bad('certificate signature: expected 64 bytes');
  return { bytes, signature, cert: decodeCertificate(bytes) };
}

/**
 * Certificates whose relay signature checked out, by their bytes, signature and relay key (a certificate travels
 * with every forwarded transaction and is read afresh from each frame: it is checked once, not once per frame).
 * Bounded: emptied when full.
 */
const signatureChecked = new Set<string>();
/** The same, by certificate object (the common case: a session's authors), skipping the key's hex. */
const objectChecked = new WeakMap<SignedCertificate, Uint8Array>();
const MAX_CHECKED = 4096;

const checkedKey = (signed: SignedCertificate, relayKey: Uint8Array) =>
  `${hex(relayKey)}:${hex(signed.signature)}:${hex(signed.bytes)}`;

/**
 * Checks a certificate: signed by the trusted relay key, within its validity at `trust.now()`, not revoked.
 * `graceMs` widens the validity window by the clock skew a peer's clock may have. The signature of given
 * certificate bytes is checked once per relay key; validity and revocation are checked on every call.
 */
export async function verifyCertificate(
  signed: SignedCertificate,
  trust: Trust,
  graceMs = 0,
): Promise<Verdict<DeviceCertificate>> {
  const { cert } = signed;
  const byObject = objectChecked.get(signed);
  const key = byObject === trust.relayKey ? undefined : checkedKey(signed, trust.relayKey);
  const signatureOk =
    key === undefined ||
    signatureChecked.has(key) ||
    (await verify(trust.relayKey, signed.signature, labelled(CERT_CONTEXT, signed.bytes)));
  if (signatureOk) {
    if (signatureChecked.size >= MAX_CHECKED) signatureChecked.clear();
    if (key !== undefined) signatureChecked.add(key);
    objectChecked.set(signed, trust.relayKey);
  } else
    return {
      ok: false,
      code: PeerErrorCode.certInvalid,
      reason: `The certificate of replica ${cert.replica} is not signed by this relay's key`,
    };
  const now = trust.now();
  if (now + graceMs < cert.notBefore)
    return {
      ok: false,
      code: PeerErrorCode.certNotYetValid,
      reason: `The certificate of replica ${cert.replica} is not valid before ${new Date(cert.notBefore).toISOString()}`,
    };
  if (now - graceMs > cert.expires)
    return {
      ok: false,
      code: PeerErrorCode.certExpired,
      reason: `The certificate of replica ${cert.replica} expired at ${new Date(cert.expires).toISOString()}: the device must sign in to the relay again`,
    };
  if (trust.revoked(cert.replica))
    return {
      ok: false,
      code: PeerErrorCode.certRevoked,
      reason: `Replica ${cert.replica} (user ${cert.user}) was revoked by the relay`,
    };
  return { ok: true, value: cert };
}

/** Signs a revocation list with the relay's key. */
export async function issueRevocationList(
  relayKey: CryptoKey,
  list: RevocationList,
): Promise<SignedRevocationList> {
  const bytes = encoder.encode([FORMAT, list.version, list.issuedAt, [...list.replicas]]);
  return {
    bytes,
    signature: await sign(relayKey, labelled(REVOCATION_CONTEXT, bytes)),
    list: decodeRevocationList(bytes),
  };
}

/** Reads a revocation list's bytes (no signature check). Throws `PeerError` (`cert_invalid`) when malformed. */
export function decodeRevocationList(bytes: Uint8Array): RevocationList {
  const a = parseArray(bytes, MAX_REVOCATION_BYTES, 'revocation list');
  const [, version, issuedAt, replicas] = a;
  if (a.length !== 4 || !isTime(version) || !isTime(issuedAt) || !Array.isArray(replicas))
    bad('revocation list: malformed');
  for (const r of replicas) if (!isReplicaId(r)) bad('revocation list: not a replica id');
  return { version, issuedAt, replicas: replicas as ReplicaId[] };
}

/**
 * Reads and checks a revocation list as it travels: undefined unless it is well formed and signed by `relayKey`.
 */
export async function verifyRevocationList(
  bytes: Uint8Array,
  signature: Uint8Array,
  relayKey: Uint8Array,
): Promise<SignedRevocationList | undefined> {
  let list: RevocationList;
  try {
    list = decodeRevocationList(bytes);
  } catch {
    return undefined;
  }
  if (!(await verify(relayKey, signature, labelled(REVOCATION_CONTEXT, bytes)))) return undefined;
  return { bytes, signature, list };
}

/** A short, stable fingerprint of a certificate (hex of its serial and first key bytes), for logs and discovery. */
export function certificateFingerprint(cert: DeviceCertificate): string {
  return `${cert.serial}-${hex(cert.publicKey.subarray(0, 8))}`;
}
