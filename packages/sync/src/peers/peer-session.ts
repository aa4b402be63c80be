/**
 * (Over 400 lines: one connection's state machine, kept in one file so that the order of its checks reads top to
 * bottom; what it decides is in `peer-judge.ts`, what it reports in `peer-info.ts`.)
 *
 * One peer connection speaking the peer protocol (`peer-messages.ts`) over a {@link Transport}: mutual
 * authentication, anti-entropy, live pushes, and the checks of `peer-judge.ts` on everything received.
 *
 * States (`PeerState`): `authenticating` (hellos and proofs) → `syncing` (vectors exchanged, backlogs streaming)
 * → `live` (both backlogs sent) → `closed`; or `refused` (with the code and reason) from any of them.
 *
 * Invariants:
 * 1. **Authenticated first.** Nothing but `hello` then `proof` is accepted before both sides proved their
 *    certificate key; a certificate not signed by this replica's relay key, expired, revoked (by the newest list
 *    either side holds), of another replica than the hello's, or judged by other rules ends the session with
 *    `refused` and its reason.
 * 2. **Frames are checked before anything else.** A frame that does not decode ends the session (`refused`);
 *    nothing of it is applied.
 * 3. **Nothing unchecked is applied or forwarded.** A transaction is applied and logged (so it may be forwarded)
 *    only when `judgeIncoming` accepts it; a refused one is recorded in the refused-writes log with its author and
 *    reason; an authentic one, either way, is counted in the vector so it is not asked for again.
 *    - *Waiting.* One the judge defers (it touches a document this replica does not hold yet) waits in memory and
 *      is judged again once that document is held (looked at after each change of this replica's log). Its
 *      author's later transactions that touch a document one of its waiting ones touches wait behind them
 *      (same-document order); the others are judged at once, and counted above the hole the waiting one leaves:
 *      ```
 *      author's txs   1    2      3     4      2 lacks d1: waits; 3 touches t as 2 does: waits behind it;
 *      documents      t    d1,t   t     d2     4 is applied now, held above the hole (prefix stays 1);
 *      taken          ✓    …      …     ✓      d1 arrives: 2 then 3 apply, and the prefix absorbs 4
 *      ```
 *    - *Prefix.* What this link vouches for of an author, and the store's prefix rises to, is the highest seq taken
 *      of it, at most the sender's own prefix when it sent it above a hole (`h`), and below the author's oldest
 *      waiting transaction. The prefix is what peers are told: they re-send from the hole, and a transaction already
 *      held (`peerHeld`) is dropped unannounced (not a refusal).
 *    - *Bound.* Beyond `MAX_WAITING` the author's waiting transactions are dropped and its later ones not read,
 *      left for the next connection's anti-entropy (the prefix never moved past them).
 * 4. **Only readable data leaves** (`readableBy` of the other's certificate claims); transactions go in seq order
 *    per replica, at most `window` batches of at most `batchTxs` unacknowledged. One this replica holds above a
 *    hole goes with its prefix (`h`); when its log takes a transaction below what it already sent of that replica
 *    (a hole filled), it sends again from there.
 * 5. **Ending is not refusing.** `close()`, and this replica's database closed under a running session (a store
 *    call rejected with `storage_closed`), end it with `bye` and a {@link PeerCloseCode}: state `closed` with a
 *    `closeReason` on both sides, never a refusal of the peer or a frame fault; nothing that arrives after is read.
 */
import { decodeOps, type Op, parseOpId, type Rules } from '@loam/core';
import { PeerError, PeerErrorCode } from '../errors';
import type { SyncStore } from '../port/sync-store';
import type { Transport } from '../transport/transport';
import {
  readSignedCertificate,
  type SignedCertificate,
  type SignedRevocationList,
  type Trust,
  verifyCertificate,
  verifyRevocationList,
} from './certificate';
import { type PeerCredentials, saveRevocations } from './credentials';
import { type SigningKeys, sign, verify } from './keys';
import { decodePeerMessage, encodePeerMessage } from './peer-codec';
import { PeerCloseCode, type PeerInfo, type PeerTxRefusal } from './peer-info';
import { createPeerJudge } from './peer-judge';
import { PEER_PROTOCOL_VERSION, type PeerMessage, type PeerTx } from './peer-messages';
import { rulesVersion } from './rules-version';

/**
 * A received transaction that waits (invariant 3), with the documents it touches (`collection\0id`) and, when the
 * judge deferred it, the one it lacks (`missing`, set on each judgment).
 */
interface Waiting {
  readonly item: PeerTx;
  docs: readonly string[];
  missing?: { readonly collection: string; readonly id: string } | undefined;
}

/** The documents `item` touches; none when its ops do not decode (the judge refuses it). */
function docsOf(item: PeerTx): string[] {
  try {
    const ops = decodeOps(item.ops, { maxBytes: item.ops.length, maxOps: Number.MAX_SAFE_INTEGER });
    return [...new Set(ops.map((op) => `${op.collection}\u0000${op.doc}`))];
  } catch {
    return [];
  }
}

/** Options of {@link createPeerSession}. */
export interface PeerSessionOptions {
  readonly store: SyncStore;
  readonly keys: SigningKeys;
  readonly credentials: () => Promise<PeerCredentials | undefined>;
  readonly rules: Rules;
  readonly now: () => number;
  readonly maxSkewMs: number;
  readonly maxFrameBytes: number;
  readonly batchTxs: number;
  /** Approximate largest `txs` frame, bytes (a single larger transaction goes alone). */
  readonly batchBytes: number;
  readonly window: number;
  readonly onChange: (info: PeerInfo) => void;
  readonly onRefusedTx: (refusal: PeerTxRefusal) => void;
}

/** A live peer connection. */
export interface PeerSession {
  info(): PeerInfo;
  /** Ends the connection. */
  close(): void;
}

const AUTH_CONTEXT = new TextEncoder().encode('loam/peer-auth/1\u0000');
/** Most transactions a session keeps waiting for state this replica lacks (see invariant 3). */
const MAX_WAITING = 1024;
/** The code a closed {@link SyncStore} rejects every call with (its contract). */
const STORE_CLOSED = 'storage_closed';
/** Transport close code of a session ended by a refusal. */
const REFUSED_CLOSE_CODE = 4001;

/** What `prover` signs to prove its key to `verifier`, who sent `nonce`. */
export function challenge(nonce: Uint8Array, prover: string, verifier: string): Uint8Array {
  const tail = new TextEncoder().encode(`${prover}\u0000${verifier}`);
  const out = new Uint8Array(AUTH_CONTEXT.length + nonce.length + tail.length);
  out.set(AUTH_CONTEXT);
  out.set(nonce, AUTH_CONTEXT.length);
  out.set(tail, AUTH_CONTEXT.length + nonce.length);
  return out;
}

/** Attaches the peer protocol to a transport (open or about to open). */
export function createPeerSession(transport: Transport, options: PeerSessionOptions): PeerSession {
  const { store, keys, now } = options;
  const me = store.replica;
  const nonce = crypto.getRandomValues(new Uint8Array(32));
  let info: PeerInfo = {
    replica: undefined,
    user: undefined,
    state: 'authenticating',
    lastSeen: 0,
    opsSent: 0,
    opsReceived: 0,
    txsRefused: 0,
  };
  let phase: 'hello' | 'proof' | 'ready' | 'done' = 'hello';
  let credentials: PeerCredentials | undefined;
  let revocations: SignedRevocationList | undefined;
  let theirCert: SignedCertificate | undefined;
  let theirs: Record<string, number> | undefined;
  /** The vector the peer announced. */
  let announced: Readonly<Record<string, number>> = {};
  const authors = new Map<string, SignedCertificate>();
  const certsSent = new Set<number>();
  let inflight = 0;
  let batch = 0;
  let pumping = false;
  let again = false;
  let sentLive = false;
  let theyAreLive = false;
  let inbound: Promise<unknown> = Promise.resolve();
  /** Author → its received transactions that wait, in arrival order, with the documents they touch (invariant 3). */
  const waiting = new Map<string, Waiting[]>();
  /** Authors whose transactions this session no longer takes (too many waited). */
  const stalled = new Set<string>();
  let waitingCount = 0;
  /** Author → the highest seq this link vouches for of what was taken (invariant 3). */
  const streamed = new Map<string, number>();
  /** Authors of transactions dropped as already held: their prefix may rise (`advance`). */
  const heldFrom = new Set<string>();
  /** Key of the peer transaction this session is applying (its own log notice is not a filled hole). */
  let applying: string | undefined;
  /** Transactions logged while the pump reads a batch and moves `theirs` past it (invariant 4). */
  let lateLogged: { readonly replica: string; readonly seq: number }[] | undefined;

  const update = (patch: Partial<PeerInfo>) => {
    info = { ...info, ...patch };
    options.onChange(info);
  };
  const trust = (): Trust => {
    const revoked = new Set(revocations?.list.replicas ?? []);
    return { relayKey: (credentials as PeerCredentials).relayKey, now, revoked: (r) => revoked.has(r) };
  };
  const judge = createPeerJudge({
    schema: store.schema,
    rules: options.rules,
    store,
    trust,
    maxSkewMs: options.maxSkewMs,
    maxBytes: options.maxFrameBytes,
  });
  const send = (message: PeerMessage) => {
    if (phase !== 'done') transport.send(encodePeerMessage(message));
  };

  const end = (patch: Pick<PeerInfo, 'state' | 'refusal' | 'closeReason'>) => {
    if (phase === 'done') return;
    phase = 'done';
    unsubscribe();
    update(patch);
  };
  const refuse = (code: string, reason: string) => {
    if (phase === 'done') return;
    send({ t: 'refused', code, reason });
    end({ state: 'refused', refusal: { code, reason, by: 'us' } });
    transport.close(REFUSED_CLOSE_CODE, code);
  };
  /** Ends the session for a reason of this side's own (invariant 5): a `bye`, not a refusal. */
  const quit = (code: PeerCloseCode, reason: string) => {
    if (phase === 'done') return;
    send({ t: 'bye', code, reason });
    end({ state: 'closed', closeReason: { code, reason, by: 'us' } });
    transport.close(1000, code);
  };

  /** Takes a revocation list when the relay key signed it and it is newer than the one held. */
  const adoptRevocations = async (list: Uint8Array, sig: Uint8Array) => {
    const relayKey = (credentials as PeerCredentials).relayKey;
    const checked = await verifyRevocationList(list, sig, relayKey);
    if (!checked || (revocations && revocations.list.version >= checked.list.version)) return false;
    revocations = checked;
    await saveRevocations(store, relayKey, { list, sig });
    return true;
  };

  const certificateFor = (replica: string, logged?: { bytes: Uint8Array; signature: Uint8Array }) =>
    logged
      ? readSignedCertificate(logged.bytes, logged.signature)
      : replica === me
        ? (credentials as PeerCredentials).certificate
        : undefined;

  /**
   * Takes this device's renewed certificate once the held one is past half its validity (when the relay renews
   * it), so that the session's own transactions travel with a certificate the peer still accepts.
   */
  const refreshCredentials = async () => {
    const held = (credentials as PeerCredentials).certificate.cert;
    if (now() < held.notBefore + (held.expires - held.notBefore) / 2) return;
    credentials = (await options.credentials()) ?? credentials;
  };

  const pump = async () => {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        if (phase === 'ready') await refreshCredentials();
        while (phase === 'ready' && theirs && inflight < options.window) {
          lateLogged = [];
          const txs = await store.peerTransactions(theirs, options.batchTxs);
          if (txs.length === 0 || phase !== 'ready') break;
          const items: PeerTx[] = [];
          let count = 0;
          let bytes = 0;
          for (const t of txs) {
            if (items.length > 0 && bytes + t.ops.length > options.batchBytes) break;
            theirs[t.replica] = Math.max(theirs[t.replica] ?? 0, t.seq);
            const cert = certificateFor(t.replica, t.certificate);
            const ops: Op[] = decodeOps(t.ops, { maxBytes: t.ops.length, maxOps: Number.MAX_SAFE_INTEGER });
            if (!cert || !(await judge.readableBy((theirCert as SignedCertificate).cert.claims, ops)))
              continue;
            if (!certsSent.has(cert.cert.serial)) {
              certsSent.add(cert.cert.serial);
              send({ t: 'cert', cert: cert.bytes, sig: cert.signature });
            }
            items.push({
              r: t.replica,
              s: t.seq,
              ops: t.ops,
              sig: t.signature,
              ...(t.prefix === undefined ? {} : { h: t.prefix }),
            });
            count += ops.length;
            bytes += t.ops.length + 100;
          }
          // One logged meanwhile below what this batch moved `theirs` past is not in the batch: it goes next.
          for (const l of lateLogged) if (l.seq <= (theirs[l.replica] ?? 0)) theirs[l.replica] = l.seq - 1;
          lateLogged = undefined;
          if (items.length > 0) {
            inflight++;
            send({ t: 'txs', batch: ++batch, items });
            update({ opsSent: info.opsSent + count });
            await transport.flushed?.();
          }
        }
        if (phase === 'ready' && !sentLive && inflight === 0) {
          sentLive = true;
          send({ t: 'live' });
          if (theyAreLive) update({ state: 'live' });
        }
      } while (again && phase === 'ready');
    } finally {
      lateLogged = undefined;
      pumping = false;
    }
  };
  const unsubscribe = store.onPeerLog((logged) => {
    // A transaction logged below what was already sent of its replica (a hole here filled): send again from it.
    if (
      theirs &&
      `${logged.replica}:${logged.seq}` !== applying &&
      logged.seq > (announced[logged.replica] ?? 0)
    ) {
      if (logged.seq <= (theirs[logged.replica] ?? 0)) theirs[logged.replica] = logged.seq - 1;
      lateLogged?.push(logged);
    }
    void pump().catch(failed);
    if (waiting.size > 0) inbound = inbound.then(retryWaiting).catch(failed);
  });

  /**
   * What this link vouches for of `author` (invariant 3): the highest seq taken, below its oldest waiting
   * transaction other than `except`.
   */
  const through = (author: string, except?: PeerTx) => {
    let prefix = streamed.get(author) ?? 0;
    for (const w of waiting.get(author) ?? []) if (w.item !== except) prefix = Math.min(prefix, w.item.s - 1);
    return prefix;
  };

  /** Raises the prefixes of authors whose transactions were dropped as already held (nothing else counted them). */
  const advance = async () => {
    if (heldFrom.size === 0 || phase !== 'ready') return;
    const prefixes: Record<string, number> = {};
    for (const author of heldFrom) if (!stalled.has(author)) prefixes[author] = through(author);
    heldFrom.clear();
    await store.advancePeerVector(prefixes);
  };

  /**
   * Judges the waiting transactions again, each author's in arrival order (one touching a document an earlier
   * waiting one touches stays behind it), until none moves.
   */
  const retryWaiting = async () => {
    let moved = true;
    while (moved && phase === 'ready') {
      moved = false;
      for (const [author, queue] of [...waiting]) {
        const blocked = new Set<string>();
        for (const w of [...queue]) {
          if (phase !== 'ready') return;
          // Judging again (a signature check) is pointless while the document it lacks is still not held.
          const lacking = w.missing && !(await store.docState(w.missing.collection, w.missing.id));
          if (!lacking && !w.docs.some((d) => blocked.has(d)) && (await take(w)) === 'taken') {
            queue.splice(queue.indexOf(w), 1);
            waitingCount--;
            moved = true;
          } else for (const d of w.docs) blocked.add(d);
        }
        if (queue.length === 0) waiting.delete(author);
      }
    }
    await advance();
  };

  const receiveTxs = async (items: readonly PeerTx[]) => {
    for (const item of items) {
      const cert = authors.get(item.r);
      if (cert && !stalled.has(item.r)) judge.verifyAhead({ ops: item.ops, signature: item.sig }, cert);
    }
    for (const item of items) {
      if (stalled.has(item.r)) continue;
      const queue = waiting.get(item.r);
      if (queue?.some((w) => w.item.s === item.s)) continue;
      const docs = queue ? docsOf(item) : undefined;
      const behind = queue?.some((w) => w.docs.some((d) => docs?.includes(d)));
      const w: Waiting = { item, docs: docs ?? [] };
      if (!behind && (await take(w)) === 'taken') continue;
      if (waitingCount >= MAX_WAITING) {
        waitingCount -= queue?.length ?? 0;
        waiting.delete(item.r);
        stalled.add(item.r);
        continue;
      }
      if (!docs) w.docs = docsOf(item);
      const held = waiting.get(item.r);
      if (held) held.push(w);
      else waiting.set(item.r, [w]);
      waitingCount++;
    }
    await retryWaiting();
  };

  /** Marks `item` taken on this link: the seq it vouches for (invariant 3) joins `streamed`. */
  const taken = (item: PeerTx, last: number) => {
    const vouched = Math.min(last, item.h ?? Number.MAX_SAFE_INTEGER);
    streamed.set(item.r, Math.max(streamed.get(item.r) ?? 0, vouched));
    // The peer holds it, and (its prefix) everything before it, or before `h` when it holds it above a hole.
    if (theirs) theirs[item.r] = Math.max(theirs[item.r] ?? 0, Math.min(item.s, item.h ?? item.s));
  };

  /**
   * Judges one received transaction; drops it (already held), applies it, refuses it, or says it must wait (and
   * notes the document it lacks in `w`).
   */
  const take = async (w: Waiting): Promise<'taken' | 'waits'> => {
    const { item } = w;
    if (await store.peerHeld(item.r, item.s)) {
      taken(item, item.s);
      heldFrom.add(item.r);
      return 'taken';
    }
    const cert = authors.get(item.r);
    const verdict = cert
      ? await judge.judgeIncoming({ replica: item.r, seq: item.s, ops: item.ops, signature: item.sig }, cert)
      : ({
          ok: false,
          code: PeerErrorCode.certInvalid,
          reason: `No certificate of replica ${item.r} was sent before its transaction`,
          authentic: false,
          ops: [],
        } as const);
    if (!verdict.ok && verdict.deferred) {
      w.missing = verdict.missing;
      return 'waits';
    }
    const last = verdict.ops.at(-1);
    if (last && (verdict.ok || verdict.authentic)) taken(item, parseOpId(last.id).seq);
    if (verdict.ok) {
      applying = `${item.r}:${item.s}`;
      const applied = await store
        .applyPeerTransaction(
          {
            replica: item.r,
            seq: item.s,
            ops: item.ops,
            signature: item.sig,
            certificate: {
              bytes: (cert as SignedCertificate).bytes,
              signature: (cert as SignedCertificate).signature,
            },
          },
          verdict.ops,
          through(item.r, item),
        )
        .finally(() => {
          applying = undefined;
        });
      // Not applied: held already (another link took it meanwhile), dropped as the check above would have.
      if (applied) update({ opsReceived: info.opsReceived + verdict.ops.length });
      return 'taken';
    }
    const author = cert ? `${cert.cert.user} (${cert.cert.replica})` : item.r;
    const at = now();
    const refusals = verdict.ops.map((op) => ({
      op: op.id,
      collection: op.collection,
      doc: op.doc,
      code: verdict.code,
      reason: verdict.reason,
      at,
      author,
    }));
    const recorded = await store.refusePeerTransaction(
      refusals,
      verdict.authentic && last
        ? { replica: item.r, seq: item.s, last: parseOpId(last.id).seq, prefix: through(item.r, item) }
        : undefined,
    );
    if (!recorded) return 'taken';
    update({ txsRefused: info.txsRefused + 1 });
    options.onRefusedTx({
      from: info.replica,
      replica: item.r,
      seq: item.s,
      code: verdict.code,
      reason: verdict.reason,
    });
    return 'taken';
  };

  const onHello = async (m: PeerMessage & { t: 'hello' }) => {
    if (m.protocol !== PEER_PROTOCOL_VERSION)
      return refuse(
        PeerErrorCode.protocolVersion,
        `Peer protocol ${m.protocol} is not ${PEER_PROTOCOL_VERSION}`,
      );
    if (m.rules !== rulesVersion(options.rules))
      return refuse(
        'rules_mismatch',
        'The peer judges writes by other rules than this replica: update the app',
      );
    let signed: SignedCertificate;
    try {
      signed = readSignedCertificate(m.cert, m.certSig);
    } catch (error) {
      return refuse(PeerErrorCode.certInvalid, (error as Error).message);
    }
    if (signed.cert.replica !== m.replica)
      return refuse(
        PeerErrorCode.certInvalid,
        `The certificate is replica ${signed.cert.replica}'s, not ${m.replica}'s`,
      );
    if (m.revocations) await adoptRevocations(m.revocations.list, m.revocations.sig);
    const checked = await verifyCertificate(signed, trust(), options.maxSkewMs);
    if (!checked.ok) return refuse(checked.code, checked.reason);
    theirCert = signed;
    authors.set(m.replica, signed);
    update({ replica: m.replica, user: signed.cert.user });
    phase = 'proof';
    send({ t: 'proof', sig: await sign(keys.privateKey, challenge(m.nonce, me, m.replica)) });
  };

  const handle = async (m: PeerMessage) => {
    if (phase === 'done') return;
    if (m.t === 'refused') {
      end({ state: 'refused', refusal: { code: m.code, reason: m.reason, by: 'peer' } });
      transport.close(REFUSED_CLOSE_CODE, m.code);
      return;
    }
    if (m.t === 'bye') {
      end({ state: 'closed', closeReason: { code: m.code, reason: m.reason, by: 'peer' } });
      transport.close(1000, m.code);
      return;
    }
    if (phase === 'hello') {
      if (m.t !== 'hello')
        return refuse(PeerErrorCode.protocolOrder, `Expected hello first, received ${m.t}`);
      return onHello(m);
    }
    if (phase === 'proof') {
      if (m.t !== 'proof') return refuse(PeerErrorCode.protocolOrder, `Expected proof, received ${m.t}`);
      const cert = (theirCert as SignedCertificate).cert;
      if (!(await verify(cert.publicKey, m.sig, challenge(nonce, cert.replica, me))))
        return refuse(
          PeerErrorCode.authFailed,
          `Replica ${cert.replica} did not prove it holds its certificate's key`,
        );
      phase = 'ready';
      update({ state: 'syncing' });
      send({ t: 'vector', v: await store.peerVector() });
      return;
    }
    switch (m.t) {
      case 'vector':
        announced = m.v;
        theirs = { ...m.v };
        return pump();
      case 'cert': {
        let signed: SignedCertificate;
        try {
          signed = readSignedCertificate(m.cert, m.sig);
        } catch (error) {
          return refuse(PeerErrorCode.certInvalid, (error as Error).message);
        }
        authors.set(signed.cert.replica, signed);
        return;
      }
      case 'txs':
        await receiveTxs(m.items);
        send({ t: 'ack', batch: m.batch });
        return;
      case 'ack':
        inflight = Math.max(0, inflight - 1);
        return pump();
      case 'live':
        theyAreLive = true;
        if (sentLive) update({ state: 'live' });
        return;
      case 'revocations':
        if (
          (await adoptRevocations(m.list, m.sig)) &&
          trust().revoked((theirCert as SignedCertificate).cert.replica)
        )
          refuse(PeerErrorCode.certRevoked, `Replica ${info.replica} was revoked by the relay`);
        return;
      default:
        return refuse(PeerErrorCode.protocolOrder, `${m.t} is not expected now`);
    }
  };

  function failed(error: unknown) {
    if (phase === 'done') return;
    if ((error as { code?: unknown } | undefined)?.code === STORE_CLOSED)
      return quit(PeerCloseCode.databaseClosed, `The database of replica ${me} was closed`);
    const code = error instanceof PeerError ? error.code : PeerErrorCode.frameInvalid;
    refuse(code, (error as Error).message);
  }

  const start = async () => {
    credentials = await options.credentials();
    if (!credentials) {
      phase = 'done';
      update({
        state: 'refused',
        refusal: {
          code: PeerErrorCode.noCertificate,
          reason: 'This replica has no device certificate yet: connect to the relay once to get one',
          by: 'us',
        },
      });
      transport.close(REFUSED_CLOSE_CODE, PeerErrorCode.noCertificate);
      return;
    }
    revocations = credentials.revocations;
    const { certificate } = credentials;
    send({
      t: 'hello',
      protocol: PEER_PROTOCOL_VERSION,
      replica: me,
      cert: certificate.bytes,
      certSig: certificate.signature,
      nonce,
      rules: rulesVersion(options.rules),
      ...(revocations ? { revocations: { list: revocations.bytes, sig: revocations.signature } } : {}),
    });
  };

  transport.onOpen(() => {
    inbound = inbound.then(start).catch(failed);
  });
  transport.onFrame((frame) => {
    if (phase === 'done') return;
    update({ lastSeen: now() });
    let message: PeerMessage;
    try {
      message = decodePeerMessage(frame, options.maxFrameBytes);
    } catch (error) {
      return failed(error);
    }
    inbound = inbound.then(() => handle(message)).catch(failed);
  });
  // After the frames that arrived before it: a peer's `refused` (and its reason) comes just before its close.
  transport.onClose(() => {
    inbound = inbound.then(() => end({ state: 'closed' })).catch(failed);
  });

  return {
    info: () => info,
    close() {
      quit(PeerCloseCode.closed, `Replica ${me} closed the connection`);
    },
  };
}
