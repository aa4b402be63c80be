/**
 * Encoding of protocol messages: a version byte, then a MessagePack map. Decoding is total and bounded: any input
 * yields a well-formed message of the expected direction or a `ProtocolError` (`frame_invalid`, `frame_too_large`,
 * `frame_too_deep`, `protocol_version`), in time and memory proportional to the frame's size (nesting is refused
 * beyond a fixed depth before anything is decoded).
 *
 * (Over 400 lines: one total decoder per message type of both directions, side by side, so that a field added to
 * `messages.ts` is checked in one place; splitting by direction would split the shared field checkers from their
 * users.)
 */

import { isReplicaId, type Rules, validateFilter, validateRules } from '@loam/core';
import { ProtocolError, SyncErrorCode } from '../errors';
import { encodeFrame, type FrameFault, openFrame } from './frame';
import {
  type ClientMessage,
  type Corrections,
  type DocSnapshotFrame,
  MAX_PEER_ADDRESSES,
  MAX_SIGNAL_CHARS,
  type Message,
  PROTOCOL_VERSION,
  type Refusal,
  type RosterPeer,
  type ServerMessage,
  type Subscription,
} from './messages';

/** Most transactions in one `forward` frame. */
export const MAX_FORWARDED_TXS = 256;

/** Default largest frame, in bytes (the server's `limits.frameBytes` overrides it). */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** Encodes a message as one frame. */
export function encodeMessage(message: Message): Uint8Array {
  return encodeFrame(PROTOCOL_VERSION, message);
}

function invalid(message: string): never {
  throw new ProtocolError(SyncErrorCode.frameInvalid, message);
}

type Obj = Record<string, unknown>;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function obj(v: unknown, at: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array)
    invalid(`${at}: expected a map`);
  return v as Obj;
}
function str(v: unknown, at: string, max = 4096): string {
  if (typeof v !== 'string' || v.length > max)
    invalid(`${at}: expected a string of at most ${max} characters`);
  return v;
}
function int(v: unknown, at: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) invalid(`${at}: expected a non-negative integer`);
  return v as number;
}
function bool(v: unknown, at: string): boolean {
  if (typeof v !== 'boolean') invalid(`${at}: expected a boolean`);
  return v;
}
function bytes(v: unknown, at: string): Uint8Array {
  if (!(v instanceof Uint8Array)) invalid(`${at}: expected binary data`);
  return v;
}
function sized(v: unknown, at: string, length: number): Uint8Array {
  const b = bytes(v, at);
  if (b.length !== length) invalid(`${at}: expected ${length} bytes`);
  return b;
}
function arr(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) invalid(`${at}: expected an array`);
  return v;
}
/**
 * A subscription's collection name is checked by the relay, not here: a malformed name refuses that subscription
 * (`subscription_invalid`), not the whole frame.
 */
function subscriptionCollection(v: unknown, at: string): string {
  return str(v, at, 256);
}
/** Whether `name` is a well-formed collection name. */
export function isCollectionName(name: string): boolean {
  return NAME_RE.test(name);
}
function collection(v: unknown, at: string): string {
  const s = str(v, at, 63);
  if (!NAME_RE.test(s)) invalid(`${at}: not a collection name`);
  return s;
}
function onlyKeys(o: Obj, keys: readonly string[], at: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) invalid(`${at}: unexpected field "${k}"`);
}

function replica(v: unknown, at: string) {
  if (!isReplicaId(v)) invalid(`${at}: not a replica id`);
  return v;
}
function addresses(v: unknown, at: string): string[] {
  const list = arr(v, at);
  if (list.length > MAX_PEER_ADDRESSES) invalid(`${at}: at most ${MAX_PEER_ADDRESSES} addresses`);
  return list.map((a, i) => str(a, `${at}[${i}]`, 300));
}
function rosterPeer(v: unknown, at: string): RosterPeer {
  const o = obj(v, at);
  onlyKeys(o, ['replica', 'user', 'online', 'addresses', 'lastSeen', 'certificate', 'certificateSig'], at);
  if ((o.certificate === undefined) !== (o.certificateSig === undefined))
    invalid(`${at}: certificate and certificateSig go together`);
  return {
    replica: replica(o.replica, `${at}.replica`),
    user: str(o.user, `${at}.user`, 256),
    online: bool(o.online, `${at}.online`),
    addresses: addresses(o.addresses, `${at}.addresses`),
    lastSeen: int(o.lastSeen, `${at}.lastSeen`),
    ...(o.certificate === undefined
      ? {}
      : {
          certificate: bytes(o.certificate, `${at}.certificate`),
          certificateSig: sized(o.certificateSig, `${at}.certificateSig`, 64),
        }),
  };
}

function subscription(v: unknown, at: string): Subscription {
  const o = obj(v, at);
  onlyKeys(o, ['id', 'query'], at);
  const q = obj(o.query, `${at}.query`);
  onlyKeys(q, ['collection', 'filter'], `${at}.query`);
  let filter: import('@loam/core').Filter | undefined;
  if (q.filter !== undefined) {
    try {
      filter = validateFilter(q.filter);
    } catch (cause) {
      throw new ProtocolError(SyncErrorCode.frameInvalid, `${at}.query.filter: ${(cause as Error).message}`, {
        cause,
      });
    }
  }
  return {
    id: str(o.id, `${at}.id`, 128),
    query: {
      collection: subscriptionCollection(q.collection, `${at}.query.collection`),
      ...(filter ? { filter } : {}),
    },
  };
}

function clientMessage(o: Obj): ClientMessage {
  switch (o.t) {
    case 'hello': {
      onlyKeys(
        o,
        ['t', 'protocol', 'replica', 'token', 'schemaVersion', 'cursor', 'subs', 'device', 'snapshots'],
        'hello',
      );
      if (!isReplicaId(o.replica)) invalid('hello.replica: not a replica id');
      return {
        t: 'hello',
        protocol: int(o.protocol, 'hello.protocol'),
        replica: o.replica,
        token: o.token === null ? null : str(o.token, 'hello.token', 16_384),
        schemaVersion: int(o.schemaVersion, 'hello.schemaVersion'),
        cursor: int(o.cursor, 'hello.cursor'),
        subs: arr(o.subs, 'hello.subs').map((s, i) => subscription(s, `hello.subs[${i}]`)),
        ...(o.device === undefined ? {} : { device: sized(o.device, 'hello.device', 32) }),
        ...(o.snapshots === undefined ? {} : { snapshots: int(o.snapshots, 'hello.snapshots') }),
      };
    }
    case 'push':
      onlyKeys(o, ['t', 'batch', 'ops'], 'push');
      return { t: 'push', batch: int(o.batch, 'push.batch'), ops: bytes(o.ops, 'push.ops') };
    case 'forward': {
      onlyKeys(o, ['t', 'batch', 'txs'], 'forward');
      const txs = arr(o.txs, 'forward.txs');
      if (txs.length > MAX_FORWARDED_TXS) invalid(`forward.txs: more than ${MAX_FORWARDED_TXS} transactions`);
      return {
        t: 'forward',
        batch: int(o.batch, 'forward.batch'),
        txs: txs.map((v, i) => {
          const at = `forward.txs[${i}]`;
          const tx = obj(v, at);
          onlyKeys(tx, ['ops', 'sig', 'cert', 'certSig'], at);
          return {
            ops: bytes(tx.ops, `${at}.ops`),
            sig: sized(tx.sig, `${at}.sig`, 64),
            cert: bytes(tx.cert, `${at}.cert`),
            certSig: sized(tx.certSig, `${at}.certSig`, 64),
          };
        }),
      };
    }
    case 'subscribe':
      onlyKeys(o, ['t', 'sub'], 'subscribe');
      return { t: 'subscribe', sub: subscription(o.sub, 'subscribe.sub') };
    case 'unsubscribe':
      onlyKeys(o, ['t', 'id'], 'unsubscribe');
      return { t: 'unsubscribe', id: str(o.id, 'unsubscribe.id', 128) };
    case 'auth':
      onlyKeys(o, ['t', 'token'], 'auth');
      return { t: 'auth', token: str(o.token, 'auth.token', 16_384) };
    case 'ping':
      onlyKeys(o, ['t'], 'ping');
      return { t: 'ping' };
    case 'announce':
      onlyKeys(o, ['t', 'addresses'], 'announce');
      return { t: 'announce', addresses: addresses(o.addresses, 'announce.addresses') };
    case 'signal':
      onlyKeys(o, ['t', 'to', 'data'], 'signal');
      return {
        t: 'signal',
        to: replica(o.to, 'signal.to'),
        data: str(o.data, 'signal.data', MAX_SIGNAL_CHARS),
      };
    default:
      return invalid(`unknown client message type ${JSON.stringify(o.t)}`);
  }
}

function snapshot(v: unknown, at: string): DocSnapshotFrame {
  const o = obj(v, at);
  onlyKeys(o, ['collection', 'id', 'state', 'mode'], at);
  if (o.mode !== 'merge' && o.mode !== 'replace') invalid(`${at}.mode: expected merge or replace`);
  return {
    collection: collection(o.collection, `${at}.collection`),
    id: str(o.id, `${at}.id`, 128),
    state: bytes(o.state, `${at}.state`),
    mode: o.mode,
  };
}

/** An optional `corrections` field (of `ack` or `forwarded`), spread into the message. */
function corrections(v: unknown, at: string): { corrections?: Corrections } {
  if (v === undefined) return {};
  const fixes = obj(v, at);
  onlyKeys(fixes, ['docs', 'removed'], at);
  return {
    corrections: {
      docs: arr(fixes.docs, `${at}.docs`).map((d, i) => snapshot(d, `${at}.docs[${i}]`)),
      removed: removals(fixes.removed, `${at}.removed`),
    },
  };
}

function removals(v: unknown, at: string): { collection: string; id: string }[] {
  return arr(v, at).map((item, i) => {
    const r = obj(item, `${at}[${i}]`);
    onlyKeys(r, ['collection', 'id'], `${at}[${i}]`);
    return {
      collection: collection(r.collection, `${at}[${i}].collection`),
      id: str(r.id, `${at}[${i}].id`, 128),
    };
  });
}

function refusal(v: unknown, at: string): Refusal {
  const o = obj(v, at);
  onlyKeys(o, ['op', 'collection', 'doc', 'code', 'reason'], at);
  return {
    op: str(o.op, `${at}.op`, 64),
    collection: str(o.collection, `${at}.collection`, 63),
    doc: str(o.doc, `${at}.doc`, 128),
    code: str(o.code, `${at}.code`, 64),
    reason: str(o.reason, `${at}.reason`),
  };
}

function permissionRules(v: unknown): Rules {
  try {
    return validateRules(obj(v, 'permissions.rules'));
  } catch (cause) {
    if (cause instanceof ProtocolError) throw cause;
    throw new ProtocolError(SyncErrorCode.frameInvalid, `permissions.rules: ${(cause as Error).message}`, {
      cause,
    });
  }
}

function serverMessage(o: Obj): ServerMessage {
  switch (o.t) {
    case 'welcome':
      onlyKeys(o, ['t', 'protocol', 'server', 'cursor', 'reset', 'user', 'replicaSeq'], 'welcome');
      if (!isReplicaId(o.server)) invalid('welcome.server: not a replica id');
      return {
        t: 'welcome',
        protocol: int(o.protocol, 'welcome.protocol'),
        server: o.server,
        cursor: int(o.cursor, 'welcome.cursor'),
        reset: bool(o.reset, 'welcome.reset'),
        user: str(o.user, 'welcome.user', 256),
        ...(o.replicaSeq === undefined ? {} : { replicaSeq: int(o.replicaSeq, 'welcome.replicaSeq') }),
      };
    case 'ack': {
      onlyKeys(o, ['t', 'batch', 'accepted', 'refused', 'corrections'], 'ack');
      return {
        t: 'ack',
        batch: int(o.batch, 'ack.batch'),
        accepted: arr(o.accepted, 'ack.accepted').map((v, i) => str(v, `ack.accepted[${i}]`, 64)),
        refused: arr(o.refused, 'ack.refused').map((v, i) => refusal(v, `ack.refused[${i}]`)),
        ...corrections(o.corrections, 'ack.corrections'),
      };
    }
    case 'docs': {
      onlyKeys(o, ['t', 'cursor', 'docs', 'removed', 'sub', 'progress'], 'docs');
      const progress = o.progress === undefined ? undefined : obj(o.progress, 'docs.progress');
      return {
        t: 'docs',
        cursor: int(o.cursor, 'docs.cursor'),
        docs: arr(o.docs, 'docs.docs').map((v, i) => snapshot(v, `docs.docs[${i}]`)),
        removed: removals(o.removed, 'docs.removed'),
        ...(o.sub === undefined ? {} : { sub: str(o.sub, 'docs.sub', 128) }),
        ...(progress
          ? {
              progress: {
                sent: int(progress.sent, 'docs.progress.sent'),
                total: int(progress.total, 'docs.progress.total'),
              },
            }
          : {}),
      };
    }
    case 'synced':
      onlyKeys(o, ['t', 'sub', 'cursor'], 'synced');
      return { t: 'synced', sub: str(o.sub, 'synced.sub', 128), cursor: int(o.cursor, 'synced.cursor') };
    case 'permissions':
      onlyKeys(o, ['t', 'rules', 'claims'], 'permissions');
      return {
        t: 'permissions',
        rules: permissionRules(o.rules),
        claims: obj(o.claims, 'permissions.claims'),
      };
    case 'forwarded':
      onlyKeys(o, ['t', 'batch', 'txs', 'corrections'], 'forwarded');
      return {
        t: 'forwarded',
        batch: int(o.batch, 'forwarded.batch'),
        txs: arr(o.txs, 'forwarded.txs').map((v, i) => {
          const at = `forwarded.txs[${i}]`;
          const tx = obj(v, at);
          onlyKeys(tx, ['replica', 'seq', 'code', 'reason', 'ops'], at);
          if (!isReplicaId(tx.replica)) invalid(`${at}.replica: not a replica id`);
          return {
            replica: tx.replica,
            seq: int(tx.seq, `${at}.seq`),
            ...(tx.code === undefined ? {} : { code: str(tx.code, `${at}.code`, 64) }),
            ...(tx.reason === undefined ? {} : { reason: str(tx.reason, `${at}.reason`) }),
            ...(tx.ops === undefined
              ? {}
              : { ops: arr(tx.ops, `${at}.ops`).map((op, k) => str(op, `${at}.ops[${k}]`, 128)) }),
          };
        }),
        ...corrections(o.corrections, 'forwarded.corrections'),
      };
    case 'certificate':
      onlyKeys(o, ['t', 'cert', 'sig', 'relayKey'], 'certificate');
      return {
        t: 'certificate',
        cert: bytes(o.cert, 'certificate.cert'),
        sig: sized(o.sig, 'certificate.sig', 64),
        relayKey: sized(o.relayKey, 'certificate.relayKey', 32),
      };
    case 'revocations':
      onlyKeys(o, ['t', 'list', 'sig'], 'revocations');
      return {
        t: 'revocations',
        list: bytes(o.list, 'revocations.list'),
        sig: sized(o.sig, 'revocations.sig', 64),
      };
    case 'pong':
      onlyKeys(o, ['t'], 'pong');
      return { t: 'pong' };
    case 'roster':
      onlyKeys(o, ['t', 'peers'], 'roster');
      return {
        t: 'roster',
        peers: arr(o.peers, 'roster.peers').map((p, i) => rosterPeer(p, `roster.peers[${i}]`)),
      };
    case 'signal':
      onlyKeys(o, ['t', 'from', 'data'], 'signal');
      return {
        t: 'signal',
        from: replica(o.from, 'signal.from'),
        data: str(o.data, 'signal.data', MAX_SIGNAL_CHARS),
      };
    case 'error':
      onlyKeys(o, ['t', 'code', 'message', 'fatal', 'sub'], 'error');
      return {
        t: 'error',
        code: str(o.code, 'error.code', 64),
        message: str(o.message, 'error.message'),
        fatal: bool(o.fatal, 'error.fatal'),
        ...(o.sub === undefined ? {} : { sub: str(o.sub, 'error.sub', 128) }),
      };
    default:
      return invalid(`unknown server message type ${JSON.stringify(o.t)}`);
  }
}

/** The relay protocol's error for a frame refused before its body was read (see `frame.ts`). */
function refuseFrame(fault: FrameFault): never {
  switch (fault.kind) {
    case 'too_large':
      throw new ProtocolError(
        SyncErrorCode.frameTooLarge,
        `Frame of ${fault.bytes} bytes exceeds the limit of ${fault.limit}`,
      );
    case 'version':
      throw new ProtocolError(
        SyncErrorCode.protocolVersion,
        `Protocol version ${fault.version} is not supported (this build speaks ${PROTOCOL_VERSION})`,
      );
    case 'too_deep':
      throw new ProtocolError(SyncErrorCode.frameTooDeep, `Frame ${fault.cause.message}`, {
        cause: fault.cause,
      });
    case 'invalid':
      throw new ProtocolError(
        SyncErrorCode.frameInvalid,
        fault.detail,
        fault.cause === undefined ? undefined : { cause: fault.cause },
      );
  }
}

function decodeFrame(frame: Uint8Array, maxBytes: number): Obj {
  return obj(openFrame(frame, PROTOCOL_VERSION, maxBytes, refuseFrame), 'message');
}

/** Decodes a frame sent by a client (what the server receives). */
export function decodeClientMessage(frame: Uint8Array, maxBytes = DEFAULT_MAX_FRAME_BYTES): ClientMessage {
  return clientMessage(decodeFrame(frame, maxBytes));
}

/** Decodes a frame sent by the server (what a client receives). */
export function decodeServerMessage(frame: Uint8Array, maxBytes = DEFAULT_MAX_FRAME_BYTES): ServerMessage {
  return serverMessage(decodeFrame(frame, maxBytes));
}
