/**
 * Encoding of peer messages (see `peer-messages.ts`). Decoding is total and bounded: any input yields a
 * well-formed message or a `PeerError` (`frame_invalid`, `frame_too_large`, `protocol_version`), in time and
 * memory proportional to the frame's size.
 */
import { isReplicaId } from '@loam/core';
import { PeerError, PeerErrorCode } from '../errors';
import { encodeFrame, type FrameFault, openFrame } from '../protocol/frame';
import { PeerCloseCode } from './peer-info';
import {
  MAX_TXS_PER_BATCH,
  MAX_VECTOR_ENTRIES,
  PEER_PROTOCOL_VERSION,
  type PeerMessage,
  type PeerTx,
} from './peer-messages';

/** Encodes a peer message as one frame. */
export function encodePeerMessage(message: PeerMessage): Uint8Array {
  return encodeFrame(PEER_PROTOCOL_VERSION, message);
}

type Obj = Record<string, unknown>;
const CLOSE_CODES: readonly string[] = Object.values(PeerCloseCode);

function invalid(message: string): never {
  throw new PeerError(PeerErrorCode.frameInvalid, message);
}
function obj(v: unknown, at: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array)
    invalid(`${at}: expected a map`);
  return v as Obj;
}
function only(o: Obj, keys: readonly string[], at: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) invalid(`${at}: unexpected field "${k}"`);
}
function int(v: unknown, at: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) invalid(`${at}: expected a non-negative integer`);
  return v as number;
}
function bytes(v: unknown, at: string, length?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) invalid(`${at}: expected binary data`);
  if (length !== undefined && v.length !== length) invalid(`${at}: expected ${length} bytes`);
  return v;
}
function str(v: unknown, at: string, max: number): string {
  if (typeof v !== 'string' || v.length > max)
    invalid(`${at}: expected a string of at most ${max} characters`);
  return v;
}
function replica(v: unknown, at: string) {
  if (!isReplicaId(v)) invalid(`${at}: not a replica id`);
  return v;
}

function tx(v: unknown, at: string): PeerTx {
  const o = obj(v, at);
  only(o, ['r', 's', 'ops', 'sig', 'h'], at);
  const s = int(o.s, `${at}.s`);
  if (s < 1) invalid(`${at}.s: expected a positive sequence number`);
  const h = o.h === undefined ? undefined : int(o.h, `${at}.h`);
  if (h !== undefined && h >= s) invalid(`${at}.h: expected a prefix below the transaction`);
  return {
    r: replica(o.r, `${at}.r`),
    s,
    ops: bytes(o.ops, `${at}.ops`),
    sig: bytes(o.sig, `${at}.sig`, 64),
    ...(h === undefined ? {} : { h }),
  };
}

function message(o: Obj): PeerMessage {
  switch (o.t) {
    case 'hello': {
      only(o, ['t', 'protocol', 'replica', 'cert', 'certSig', 'nonce', 'rules', 'revocations'], 'hello');
      const rev = o.revocations === undefined ? undefined : obj(o.revocations, 'hello.revocations');
      if (rev) only(rev, ['list', 'sig'], 'hello.revocations');
      return {
        t: 'hello',
        protocol: int(o.protocol, 'hello.protocol'),
        replica: replica(o.replica, 'hello.replica'),
        cert: bytes(o.cert, 'hello.cert'),
        certSig: bytes(o.certSig, 'hello.certSig', 64),
        nonce: bytes(o.nonce, 'hello.nonce', 32),
        rules: int(o.rules, 'hello.rules'),
        ...(rev
          ? {
              revocations: {
                list: bytes(rev.list, 'hello.revocations.list'),
                sig: bytes(rev.sig, 'hello.revocations.sig', 64),
              },
            }
          : {}),
      };
    }
    case 'proof':
      only(o, ['t', 'sig'], 'proof');
      return { t: 'proof', sig: bytes(o.sig, 'proof.sig', 64) };
    case 'vector': {
      only(o, ['t', 'v'], 'vector');
      const v = obj(o.v, 'vector.v');
      const entries = Object.entries(v);
      if (entries.length > MAX_VECTOR_ENTRIES) invalid(`vector.v: more than ${MAX_VECTOR_ENTRIES} replicas`);
      const out: Record<string, number> = {};
      for (const [k, seq] of entries) out[replica(k, 'vector.v key')] = int(seq, `vector.v.${k}`);
      return { t: 'vector', v: out };
    }
    case 'cert':
      only(o, ['t', 'cert', 'sig'], 'cert');
      return { t: 'cert', cert: bytes(o.cert, 'cert.cert'), sig: bytes(o.sig, 'cert.sig', 64) };
    case 'txs': {
      only(o, ['t', 'batch', 'items'], 'txs');
      if (!Array.isArray(o.items)) invalid('txs.items: expected an array');
      if (o.items.length > MAX_TXS_PER_BATCH)
        invalid(`txs.items: more than ${MAX_TXS_PER_BATCH} transactions`);
      return {
        t: 'txs',
        batch: int(o.batch, 'txs.batch'),
        items: o.items.map((v, i) => tx(v, `txs.items[${i}]`)),
      };
    }
    case 'ack':
      only(o, ['t', 'batch'], 'ack');
      return { t: 'ack', batch: int(o.batch, 'ack.batch') };
    case 'live':
      only(o, ['t'], 'live');
      return { t: 'live' };
    case 'revocations':
      only(o, ['t', 'list', 'sig'], 'revocations');
      return {
        t: 'revocations',
        list: bytes(o.list, 'revocations.list'),
        sig: bytes(o.sig, 'revocations.sig', 64),
      };
    case 'refused':
      only(o, ['t', 'code', 'reason'], 'refused');
      return {
        t: 'refused',
        code: str(o.code, 'refused.code', 64),
        reason: str(o.reason, 'refused.reason', 4096),
      };
    case 'bye': {
      only(o, ['t', 'code', 'reason'], 'bye');
      const code = str(o.code, 'bye.code', 64);
      if (!CLOSE_CODES.includes(code)) invalid(`bye.code: ${JSON.stringify(code)} is not a close code`);
      return { t: 'bye', code: code as PeerCloseCode, reason: str(o.reason, 'bye.reason', 4096) };
    }
    default:
      return invalid(`unknown peer message type ${JSON.stringify(o.t)}`);
  }
}

/** The peer protocol's error for a frame refused before its body was read (see `protocol/frame.ts`). */
function refuseFrame(fault: FrameFault): never {
  switch (fault.kind) {
    case 'too_large':
      throw new PeerError(
        PeerErrorCode.frameTooLarge,
        `Frame of ${fault.bytes} bytes exceeds the limit of ${fault.limit}`,
      );
    case 'version':
      throw new PeerError(
        PeerErrorCode.protocolVersion,
        `Peer protocol version ${fault.version} is not supported (this build speaks ${PEER_PROTOCOL_VERSION})`,
      );
    case 'too_deep':
      return invalid(`Frame is not valid MessagePack: ${fault.cause.message}`);
    case 'invalid':
      return invalid(fault.detail);
  }
}

/** Decodes one frame from a peer. */
export function decodePeerMessage(frame: Uint8Array, maxBytes: number): PeerMessage {
  return message(obj(openFrame(frame, PEER_PROTOCOL_VERSION, maxBytes, refuseFrame), 'message'));
}
