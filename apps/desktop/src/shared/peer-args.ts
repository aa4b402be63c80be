/**
 * The arguments of the peers IPC channels, checked in full: by the preload before anything is sent, and again by
 * main, which trusts nothing the renderer sends. Imports nothing but the contract, so both bundles can include it.
 */
import {
  IpcChannel,
  type PeersIdentity,
  type PeersStartOptions,
  type RosterAddressesInput,
} from './contract';

/** Largest signaling message, characters. */
export const MAX_SIGNAL_CHARS = 16_384;
const MAX_ROSTER = 256;
const MAX_ADDRESSES = 16;
/** Largest certificate, base64url characters (16 KiB of bytes). */
const MAX_CERTIFICATE_CHARS = 21_846;
/** Largest revocation list, base64url characters (256 KiB of bytes). */
const MAX_REVOCATIONS_CHARS = 349_526;
/** base64url of 32 bytes (a key, a digest) and of 64 bytes (a signature), unpadded. */
export const KEY_CHARS = 43;
export const SIGNATURE_CHARS = 86;

/** The checked arguments of each peers channel. */
export type PeerArgs =
  | { readonly channel: typeof IpcChannel.peersStart; readonly options: PeersStartOptions }
  | { readonly channel: typeof IpcChannel.peersRoster; readonly peers: readonly RosterAddressesInput[] }
  | { readonly channel: typeof IpcChannel.peersPair; readonly address: string }
  | { readonly channel: typeof IpcChannel.peersSignal; readonly to: string; readonly data: string }
  | { readonly channel: typeof IpcChannel.peersList }
  | {
      readonly channel: typeof IpcChannel.peersProof;
      readonly id: number;
      readonly signature: string | null;
    };

const isText = (v: unknown, max: number): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= max;
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const only = (o: Record<string, unknown>, keys: readonly string[]) =>
  Object.keys(o).every((k) => keys.includes(k));
/** True for unpadded base64url of at most `max` characters (exactly `max` when `exact`). */
export const isBase64Url = (v: unknown, max: number, exact = false): v is string =>
  typeof v === 'string' &&
  v.length > 0 &&
  (exact ? v.length === max : v.length <= max) &&
  /^[A-Za-z0-9_-]+$/.test(v);

function readIdentity(v: unknown): PeersIdentity | string {
  const shape = 'identity: expected {publicKey, certificate, certificateSignature, relayKey, revocations?}';
  if (
    !isRecord(v) ||
    !only(v, ['publicKey', 'certificate', 'certificateSignature', 'relayKey', 'revocations'])
  )
    return shape;
  if (!isBase64Url(v.publicKey, KEY_CHARS, true) || !isBase64Url(v.relayKey, KEY_CHARS, true))
    return 'identity: publicKey and relayKey must be 32 bytes in base64url';
  if (
    !isBase64Url(v.certificate, MAX_CERTIFICATE_CHARS) ||
    !isBase64Url(v.certificateSignature, SIGNATURE_CHARS, true)
  )
    return 'identity: certificate (at most 16 KiB) and certificateSignature (64 bytes) must be base64url';
  const identity = {
    publicKey: v.publicKey,
    certificate: v.certificate,
    certificateSignature: v.certificateSignature,
    relayKey: v.relayKey,
  };
  if (v.revocations === undefined) return identity;
  const r = v.revocations;
  if (
    !isRecord(r) ||
    !only(r, ['list', 'signature']) ||
    !isBase64Url(r.list, MAX_REVOCATIONS_CHARS) ||
    !isBase64Url(r.signature, SIGNATURE_CHARS, true)
  )
    return 'identity.revocations: expected {list, signature} in base64url (at most 256 KiB)';
  return { ...identity, revocations: { list: r.list, signature: r.signature } };
}

/** Checks the arguments of a peers channel; a string says what is wrong. */
export function readPeerArgs(channel: string, args: readonly unknown[]): PeerArgs | string {
  switch (channel) {
    case IpcChannel.peersStart: {
      const o = args[0];
      if (args.length !== 1 || !isRecord(o) || !only(o, ['replica', 'storeHash', 'identity', 'sameClaims']))
        return 'expected one object {replica, storeHash, identity, sameClaims?}';
      if (
        o.sameClaims !== undefined &&
        (!Array.isArray(o.sameClaims) ||
          o.sameClaims.length > 16 ||
          !o.sameClaims.every((c) => isText(c, 128)))
      )
        return 'sameClaims: expected at most 16 claim paths';
      if (!isText(o.replica, 64) || !isText(o.storeHash, 128))
        return 'replica and storeHash must be non-empty strings (at most 64 and 128 characters)';
      const identity = readIdentity(o.identity);
      if (typeof identity === 'string') return identity;
      return {
        channel,
        options: {
          replica: o.replica,
          storeHash: o.storeHash,
          identity,
          ...(o.sameClaims ? { sameClaims: [...(o.sameClaims as string[])] } : {}),
        },
      };
    }
    case IpcChannel.peersRoster: {
      const list = args[0];
      if (args.length !== 1 || !Array.isArray(list) || list.length > MAX_ROSTER)
        return `expected one array of at most ${MAX_ROSTER} roster entries`;
      const peers: RosterAddressesInput[] = [];
      for (const p of list) {
        if (
          !isRecord(p) ||
          !only(p, ['replica', 'addresses', 'certificate', 'certificateSignature']) ||
          !isText(p.replica, 64)
        )
          return 'bad roster entry';
        if ((p.certificate === undefined) !== (p.certificateSignature === undefined))
          return 'a roster entry has both certificate and certificateSignature, or neither';
        if (
          p.certificate !== undefined &&
          (!isBase64Url(p.certificate, MAX_CERTIFICATE_CHARS) ||
            !isBase64Url(p.certificateSignature, SIGNATURE_CHARS, true))
        )
          return 'a roster certificate (at most 16 KiB) and its signature (64 bytes) must be base64url';
        if (
          !Array.isArray(p.addresses) ||
          p.addresses.length > MAX_ADDRESSES ||
          !p.addresses.every((a) => isText(a, 300))
        )
          return `a roster entry has at most ${MAX_ADDRESSES} addresses, each a string`;
        peers.push({
          replica: p.replica,
          addresses: [...(p.addresses as string[])],
          ...(typeof p.certificate === 'string' && typeof p.certificateSignature === 'string'
            ? { certificate: p.certificate, certificateSignature: p.certificateSignature }
            : {}),
        });
      }
      return { channel, peers };
    }
    case IpcChannel.peersPair:
      return args.length === 1 && isText(args[0], 300)
        ? { channel, address: args[0] }
        : 'expected one address string';
    case IpcChannel.peersSignal:
      return args.length === 2 && isText(args[0], 64) && isText(args[1], MAX_SIGNAL_CHARS)
        ? { channel, to: args[0], data: args[1] }
        : `expected a replica and a signaling message of at most ${MAX_SIGNAL_CHARS} characters`;
    case IpcChannel.peersList:
      return args.length === 0 ? { channel } : 'takes no arguments';
    case IpcChannel.peersProof: {
      const [id, signature] = args;
      return args.length === 2 &&
        Number.isSafeInteger(id) &&
        (id as number) > 0 &&
        (signature === null || isBase64Url(signature, SIGNATURE_CHARS, true))
        ? { channel, id: id as number, signature }
        : 'expected a request id and a 64-byte signature in base64url (or null)';
    }
    default:
      return 'not a peers channel';
  }
}
