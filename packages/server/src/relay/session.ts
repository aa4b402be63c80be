/**
 * (Over 400 lines: the dispatch of every relay message in one place, with the hello that decides resume or reset; forwarding and certificates are
 * in `devices/`.)
 *
 * One device connection speaking the sync protocol (`@loam/sync`'s `messages.ts`) over a {@link Transport}: the
 * dispatch of its messages. What the user sees is in `views.ts`, what is sent down in `downloads.ts`.
 *
 * Invariants:
 * 1. **Hello first.** Nothing but `hello` is accepted until `welcome` is sent, in frames of at most
 *    `limits.preHelloFrameBytes`; `hello` must arrive within `limits.handshakeTimeoutMs` (the time the relay takes
 *    to answer it does not count: after a restart, a thousand devices say hello at once); a bad token, protocol or schema version, a
 *    replica bound to another user or too many connections end the session with a fatal `error`.
 * 2. **Frames are checked before anything else.** A frame that does not decode (malformed, truncated, oversized,
 *    unknown type, text) or a batch over the limit is a fatal `error`; nothing of it is stored or forwarded.
 * 3. **Acks are durable.** `ack` is sent after the relay committed the batch. Each refused op is named in
 *    `ack.refused`, then a `docs` frame (cursor 0) gives the document's authoritative state in `replace` mode, or
 *    `removed` when the user may not read it (or it does not exist). A create or write the batch lost to a delete
 *    of its incarnation (accepted, changing nothing, so no commit reports it) is answered by the tombstone, in
 *    `merge` mode, just before the `ack`. An op whose id the relay holds with other
 *    content is answered `op_id_reused` the same way (never acknowledged).
 * 4. **A resume costs no more than a reset.** A returning device resumes from its cursor, unless the documents
 *    changed since in its collections exceed four times its views' documents (plus `RESUME_FLOOR`): then
 *    `welcome` says `reset` and it is sent its whole sets (see `resendIsCheaper`).
 * 5. **Downloads are serialised.** Initial sets, resumes, fan-out of commits and view recomputations run one at a
 *    time in the order they were queued (see `downloads.ts` for the cursors this guarantees).
 * 6. **Only readable data leaves** (see `views.ts`).
 * 7. **A bad subscription costs only itself.** A malformed collection name (`subscription_invalid`), one
 *    subscription over `limits.subscriptionsPerConnection` (`too_many_subscriptions`) or one the rules refuse
 *    (`subscription_denied`) is answered with a non-fatal `error` naming it; the connection stays.
 * 8. **Bad frames cost their user.** A signed-in connection ended by a frame refused as malformed, too deep or too
 *    large is a strike against its user; a user over `limits.badFramesPerMinute` strikes is refused at hello with
 *    `too_many_bad_frames` until its cooldown ends (`limits/bad-frames.ts`).
 */
import {
  createDocState,
  decodeOps,
  encodeDocSnapshot,
  materialize,
  type Op,
  OpDecodeError,
  permissionsFor,
} from '@loam/core';
import {
  type ClientMessage,
  type DocSnapshotFrame,
  decodeClientMessage,
  encodeMessage,
  isCollectionName,
  PROTOCOL_VERSION,
  ProtocolError,
  type ServerMessage,
  type Transport,
} from '@loam/sync';
import type { Identity, Verifier } from '../auth/auth';
import type { LimitsConfig } from '../config/config';
import type { Devices } from '../devices/devices';
import { acceptForwarded } from '../devices/forwarding';
import { AuthError, ServerErrorCode } from '../errors';
import type { Metrics } from '../metrics/metrics';
import type { ServerStore } from '../storage/server-store';
import { createSessionDownloads, type SessionDownloads } from './downloads';
import type { Commit, Relay } from './relay';
import type { SignalingHub, SignalingMember } from './signaling';
import { type ActiveSub, createSessionViews, type Removal, type SessionViews, snapshotFormat } from './views';

export { DOCS_PER_FRAME } from './downloads';

/** Documents changed since a device's cursor under which a resume is always chosen over a client reset. */
const RESUME_FLOOR = 1000;

/** Refusals of a frame a signed-in connection sent: each is a strike against its user (invariant 8). */
const BAD_FRAME_CODES: ReadonlySet<string> = new Set([
  ServerErrorCode.frameInvalid,
  ServerErrorCode.frameTooDeep,
  ServerErrorCode.frameTooLarge,
]);

/** WebSocket close code of a session ended by a fatal error (policy violation). */
const FATAL_CLOSE_CODE = 1008;

/** Everything a session needs from the server. */
export interface SessionContext {
  readonly relay: Relay;
  readonly store: ServerStore;
  readonly verifier: Verifier;
  readonly metrics: Metrics;
  /** Signaling between peers (`signaling.ts`). */
  readonly signaling: SignalingHub;
  readonly limits: LimitsConfig;
  readonly historyHorizon: () => Promise<number>;
  /** Counts the user's open sessions; returns false (and counts nothing) when the limit is reached. */
  readonly admit: (user: string) => boolean;
  readonly release: (user: string) => void;
  readonly now: () => number;
  /** A signed-in connection of `user` ends on a refused frame (invariant 8). */
  readonly badFrame?: (user: string) => void;
  /** Ms left of `user`'s cooldown for refused frames (0: may sign in). */
  readonly coolingDown?: (user: string) => number;
  /** Called once `welcome` is sent: frames up to `limits.frameBytes` are accepted from then on. */
  readonly signedIn?: () => void;
  /** The device authority: certificates for sessions whose hello carries a device key. */
  readonly devices: Devices;
  /** Largest accepted lead of a forwarded op's timestamp over the relay's clock (ms). */
  readonly maxClockDriftMs: number;
  /**
   * The session's subscriptions changed (`undefined`: they are being recomputed, send every commit; empty: the
   * session ended): the fan-out index (`fan-out-index.ts`) sends it only the commits they may concern.
   */
  readonly viewsChanged?: (subs: readonly ActiveSub[] | undefined) => void;
}

/** A live session. */
export interface Session {
  /** Called for every commit, in order. */
  onCommit(commit: Commit): void;
  /** The user, once signed in. */
  user(): string | undefined;
  /** Sends a new revocation list. */
  onRevocations(list: { readonly bytes: Uint8Array; readonly signature: Uint8Array }): void;
}

type Task = () => void | Promise<void>;

/** Error messages quote what they refuse; the protocol caps a message's length (4,096 characters). */
const bounded = (message: string) => (message.length > 1000 ? `${message.slice(0, 1000)}…` : message);

function sortedClaims(claims: Record<string, unknown>): [string, unknown][] {
  return Object.entries(claims)
    .filter(([k]) => k !== 'exp' && k !== 'iat' && k !== 'nbf' && k !== 'jti')
    .sort(([a], [b]) => (a < b ? -1 : 1));
}

/** Attaches the protocol to an accepted connection. */
export function createSession(transport: Transport, ctx: SessionContext): Session {
  const { relay, store, metrics, limits } = ctx;
  const schema = relay.schema;
  let phase: 'hello' | 'ready' | 'closed' = 'hello';
  let identity: Identity | undefined;
  let replica: Parameters<Relay['push']>[0]['replica'] | undefined;
  let admitted = false;
  let views: SessionViews | undefined;
  let downloads: SessionDownloads | undefined;
  let peer: SignalingMember | undefined;
  const tasks: Task[] = [];
  let running = false;
  let inbound: Promise<void> = Promise.resolve();
  let expiry: ReturnType<typeof setTimeout> | undefined;
  let expiresAt: number | undefined;
  let device: Uint8Array | undefined;
  let renewal: ReturnType<typeof setTimeout> | undefined;
  /** The certificate last issued in this session (for the roster), until the claims change. */
  let issued: { bytes: Uint8Array; signature: Uint8Array } | undefined;
  let helloArrived = false;
  // Decided after the next read of the sockets: a relay whose event loop was busy past the timeout (a reconnect
  // storm on a loaded machine) runs expired timers before it reads the hello frames that arrived in time.
  const helloTimer = setTimeout(
    () =>
      setImmediate(() => {
        if (!helloArrived && !closed())
          fail(ServerErrorCode.handshakeTimeout, `No hello received within ${limits.handshakeTimeoutMs} ms`);
      }),
    limits.handshakeTimeoutMs,
  );
  const closed = () => phase === 'closed';
  const viewsChanged = () => {
    if (!closed() && views) ctx.viewsChanged?.([...views.subs.values()]);
  };

  const send = (message: ServerMessage) => {
    if (!closed()) transport.send(encodeMessage(message));
  };

  function fail(code: string, message: string) {
    if (phase === 'ready' && identity && BAD_FRAME_CODES.has(code)) ctx.badFrame?.(identity.user);
    metrics.error(code);
    send({ t: 'error', code, message: bounded(message), fatal: true });
    shutdown();
    transport.close(FATAL_CLOSE_CODE, code);
  }

  const softError = (code: string, message: string, sub?: string) => {
    metrics.error(code);
    send({
      t: 'error',
      code,
      message: bounded(message),
      fatal: false,
      ...(sub !== undefined ? { sub } : {}),
    });
  };

  function shutdown() {
    if (closed()) return;
    phase = 'closed';
    clearTimeout(helloTimer);
    if (expiry) clearTimeout(expiry);
    if (renewal) clearTimeout(renewal);
    tasks.length = 0;
    if (views) ctx.viewsChanged?.([]);
    if (admitted && identity) ctx.release(identity.user);
    admitted = false;
    peer?.leave();
  }

  const enqueue = (task: Task) => {
    tasks.push(task);
    if (!running) void pump();
  };
  async function pump() {
    running = true;
    try {
      while (tasks.length > 0 && !closed()) {
        const task = tasks.shift() as Task;
        try {
          const r = task();
          if (r) await r;
        } catch (error) {
          fail(ServerErrorCode.storage, `The server could not send your data: ${(error as Error).message}`);
        }
      }
    } finally {
      running = false;
    }
  }

  const armExpiry = () => {
    if (expiry) clearTimeout(expiry);
    expiry = undefined;
    if (expiresAt === undefined) return;
    const delay = Math.min(Math.max(0, expiresAt - ctx.now()), 2 ** 31 - 1);
    expiry = setTimeout(
      () => fail(ServerErrorCode.authExpired, 'The token has expired: reconnect with a fresh one'),
      delay,
    );
  };

  /**
   * Issues this device a certificate for the current claims and sends it; renews it when half its validity has
   * passed, while the session lasts.
   */
  const certify = async () => {
    if (renewal) clearTimeout(renewal);
    renewal = undefined;
    if (!device || !identity || !replica || closed()) return;
    const signed = await ctx.devices.issue({
      replica,
      publicKey: device,
      user: identity.user,
      claims: identity.claims,
    });
    if (!signed || closed()) return;
    send({ t: 'certificate', cert: signed.bytes, sig: signed.signature, relayKey: ctx.devices.publicKey });
    issued = { bytes: signed.bytes, signature: signed.signature };
    peer?.certified(signed.bytes, signed.signature);
    const delay = Math.min(Math.max(1000, (signed.cert.expires - ctx.now()) / 2), 2 ** 31 - 1);
    renewal = setTimeout(() => enqueue(certify), delay);
  };

  /** Adds a subscription under the current claims, or tells the device it is refused. */
  const admitSub = (sub: Parameters<SessionViews['authorize']>[0]) => {
    const v = views as SessionViews;
    if (!isCollectionName(sub.query.collection)) {
      softError(
        ServerErrorCode.subscriptionInvalid,
        `${JSON.stringify(sub.query.collection.slice(0, 80))} is not a collection name`,
        sub.id,
      );
      return undefined;
    }
    if (!v.subs.has(sub.id) && v.subs.size >= limits.subscriptionsPerConnection) {
      softError(
        ServerErrorCode.tooManySubscriptions,
        `This connection already holds ${v.subs.size} subscriptions (limit ${limits.subscriptionsPerConnection}): unsubscribe first`,
        sub.id,
      );
      return undefined;
    }
    const active = v.authorize(sub);
    if ('denied' in active) {
      softError(ServerErrorCode.subscriptionDenied, active.denied, sub.id);
      return undefined;
    }
    v.subs.set(active.id, active);
    v.invalidate();
    viewsChanged();
    return active;
  };

  const onHello = async (m: ClientMessage & { t: 'hello' }) => {
    clearTimeout(helloTimer);
    if (m.protocol !== PROTOCOL_VERSION)
      return fail(
        ServerErrorCode.protocolVersion,
        `Protocol version ${m.protocol} is not supported (this server speaks ${PROTOCOL_VERSION})`,
      );
    if (m.schemaVersion !== schema.version) {
      return fail(
        ServerErrorCode.schemaMismatch,
        `The app's schema version ${m.schemaVersion} differs from the server's ${schema.version}: update the app or the server's schema file`,
      );
    }
    let who: Identity;
    try {
      who = await ctx.verifier.verify(m.token, m.replica);
    } catch (error) {
      if (error instanceof AuthError) return fail(error.code, error.message);
      throw error;
    }
    if (closed()) return;
    const cooling = ctx.coolingDown?.(who.user) ?? 0;
    if (cooling > 0)
      return fail(
        ServerErrorCode.tooManyBadFrames,
        `Connections of user ${who.user} sent more frames the relay refused than ${limits.badFramesPerMinute} a minute: sign-in refused for ${Math.ceil(cooling / 1000)} s`,
      );
    if (!ctx.admit(who.user))
      return fail(
        ServerErrorCode.limitExceeded,
        `Too many connections for user ${who.user} (limit ${limits.connectionsPerUser})`,
      );
    admitted = true;
    identity = who;
    if (!(await store.claimReplica(m.replica, who.user)))
      return fail(
        ServerErrorCode.replicaMismatch,
        `Replica ${m.replica} belongs to another user: create a new replica id`,
      );
    const replicaSeq = await store.replicaSeq(m.replica);
    if (closed()) return;
    replica = m.replica;
    expiresAt = who.expiresAt;
    armExpiry();
    await relay.reach(m.cursor);
    const version = relay.version();
    const horizon = await ctx.historyHorizon();
    let reset = m.cursor > 0 && (m.cursor < horizon || m.cursor > version);
    // Counted, not kept: commits landing before this session is ready must be in what the resume reads.
    if (m.cursor > 0 && !reset) reset = await resendIsCheaper(m.subs, who, m.cursor);
    if (closed()) return;
    phase = 'ready';
    ctx.signedIn?.();
    views = createSessionViews(schema, relay.rules, who.claims, snapshotFormat(m.snapshots));
    downloads = createSessionDownloads({ transport, open: () => !closed(), store, views, metrics });
    const d = downloads;
    send({
      t: 'welcome',
      protocol: PROTOCOL_VERSION,
      server: relay.replica,
      cursor: version,
      reset,
      user: who.user,
      replicaSeq,
    });
    send({ t: 'permissions', ...permissionsFor(relay.rules, who.claims) });
    device = m.device;
    await certify();
    const revocations = ctx.devices.revocations();
    send({ t: 'revocations', list: revocations.bytes, sig: revocations.signature });
    joinPeers();
    const subs = m.subs.flatMap((s) => admitSub(s) ?? []);
    if (m.cursor === 0 || reset) {
      enqueue(() => d.startAt(relay.version()));
      for (const sub of subs) enqueue(() => d.initialSet(sub, reset ? 'replace' : 'merge'));
    } else {
      enqueue(() => d.resume(m.cursor, relay.version()));
    }
  };

  /**
   * What a resume from `cursor` would read: every document of the subscribed collections changed since, in any
   * view (each one outside the device's views is sent as a removal: it may have left them). When that is more than
   * four times the views' documents, plus {@link RESUME_FLOOR}, `reset`: the device is sent its whole sets
   * instead (a client reset). After a relay restart under load, 1,000 resuming terminals were otherwise each sent
   * the whole shop chain's changes since their cursors as removals (10 M entries, and the drain never ended).
   * Counted on the version index, and only up to the threshold: nothing is read or decoded here, the resume reads
   * the documents once (each hello of a reconnect storm reading them all twice kept the relay busy for minutes).
   */
  const resendIsCheaper = async (
    subs: readonly Parameters<SessionViews['authorize']>[0][],
    who: Identity,
    cursor: number,
  ): Promise<boolean> => {
    const probe = createSessionViews(schema, relay.rules, who.claims);
    const collections = new Set<string>();
    let docs = 0;
    for (const sub of subs) {
      if (!isCollectionName(sub.query.collection)) continue;
      const active = probe.authorize(sub);
      if ('denied' in active) continue;
      collections.add(active.collection);
      docs += await store.countDocs(active.collection, active.filter);
    }
    const threshold = RESUME_FLOOR + 4 * docs;
    let changes = 0;
    for (const collection of collections) {
      changes += await store.countChangedSince(collection, cursor, threshold + 1 - changes);
      if (changes > threshold) return true;
    }
    return false;
  };

  /** Joins (again) the device's peer group under its current claims; see `signaling.ts`. */
  const joinPeers = () => {
    peer?.leave();
    peer = ctx.signaling.join({ replica: replica!, user: identity!.user, claims: identity!.claims, send });
    if (issued) peer?.certified(issued.bytes, issued.signature);
  };

  /**
   * The authoritative state of the documents of refused ops, for the device to revert to. A deleted document goes
   * back as its tombstone (its epoch, deleted, no fields), not as a removal: the device must keep knowing that
   * incarnation ended, or an older op of it that a peer brings later (a create still in a peer's log) would bring
   * the document back there alone.
   */
  const authoritative = async (docsOf: readonly Removal[]) => {
    const v = views as SessionViews;
    const docs: DocSnapshotFrame[] = [];
    const removed: Removal[] = [];
    for (const { collection, id } of docsOf) {
      const known = Object.hasOwn(schema.collections, collection);
      const stored = known ? await store.getDoc(collection, id) : undefined;
      const doc = stored?.live ? materialize(schema.collections[collection]!, id, stored.state) : undefined;
      if (stored && doc && v.access(collection).canRead(doc).allowed)
        docs.push({ collection, id, state: v.snapshot(collection, stored.state), mode: 'replace' });
      else if (stored?.state.deleted) {
        const { epoch } = stored.state;
        const tombstone = encodeDocSnapshot({ ...createDocState(), epoch, created: true, deleted: true });
        docs.push({ collection, id, state: tombstone, mode: 'replace' });
      } else removed.push({ collection, id });
    }
    metrics.docsOut(docs.length + removed.length);
    return { docs, removed };
  };

  const onPush = async (m: ClientMessage & { t: 'push' }) => {
    const started = performance.now();
    let ops: Op[];
    try {
      ops = decodeOps(m.ops, { maxBytes: limits.frameBytes, maxOps: limits.opsPerBatch });
    } catch (error) {
      if (error instanceof OpDecodeError && error.reason === 'oversized')
        return fail(
          ServerErrorCode.limitExceeded,
          `Batch ${m.batch}: ${error.message} (limit ${limits.opsPerBatch} ops)`,
        );
      if (error instanceof OpDecodeError && error.reason === 'too_deep')
        return fail(ServerErrorCode.frameTooDeep, `Batch ${m.batch}: ${error.message}`);
      return fail(ServerErrorCode.frameInvalid, `Batch ${m.batch}: ${(error as Error).message}`);
    }
    metrics.opsIn(ops.length);
    const outcome = await relay.push({ replica: replica!, claims: identity!.claims, ops });
    // Before the ack: a tombstone merges whatever the device still has pending, and if the link drops here the
    // device pushes the create again and hears of the delete then.
    if (outcome.lostCreates.length > 0) {
      const docs = outcome.lostCreates.map(({ collection, id, epoch }) => ({
        collection,
        id,
        state: encodeDocSnapshot({ ...createDocState(), epoch, created: true, deleted: true }),
        mode: 'merge' as const,
      }));
      metrics.docsOut(docs.length);
      send({ t: 'docs', cursor: 0, docs, removed: [] });
    }
    // The corrections ride in the ack: sent apart, a link dropping between the two left the refused writes standing.
    const corrections = outcome.refusedDocs.length > 0 ? await authoritative(outcome.refusedDocs) : undefined;
    send({
      t: 'ack',
      batch: m.batch,
      accepted: outcome.accepted,
      refused: outcome.refused,
      ...(corrections ? { corrections } : {}),
    });
    metrics.ackLatency((performance.now() - started) / 1000);
    for (const r of outcome.refused) metrics.refusal(r.code);
  };

  const onForward = async (m: ClientMessage & { t: 'forward' }) => {
    const result = await acceptForwarded({
      relay,
      devices: ctx.devices,
      maxSkewMs: ctx.maxClockDriftMs,
      maxBytes: limits.frameBytes,
      maxOps: limits.opsPerBatch,
      txs: m.txs,
    });
    // As in the ack: the corrections ride in the answer, so that no dropped link leaves the refused writes standing.
    const corrections = result.refusedDocs.length > 0 ? await authoritative(result.refusedDocs) : undefined;
    send({ t: 'forwarded', batch: m.batch, txs: result.txs, ...(corrections ? { corrections } : {}) });
    for (const r of result.txs) if (r.code) metrics.refusal(r.code);
  };

  const onAuth = async (m: ClientMessage & { t: 'auth' }) => {
    let next: Identity;
    try {
      next = await ctx.verifier.verify(m.token, replica!);
    } catch (error) {
      if (error instanceof AuthError) return fail(error.code, error.message);
      throw error;
    }
    if (!identity || next.user !== identity.user)
      return fail(
        ServerErrorCode.authInvalid,
        `The new token is for user ${next.user}, not ${identity?.user}: reconnect`,
      );
    expiresAt = next.expiresAt;
    armExpiry();
    const same = JSON.stringify(sortedClaims(next.claims)) === JSON.stringify(sortedClaims(identity.claims));
    identity = next;
    if (same) return;
    send({ t: 'permissions', ...permissionsFor(relay.rules, next.claims) });
    issued = undefined;
    enqueue(certify);
    joinPeers();
    // Every commit until the views are recomputed under the new claims (their filters may change).
    ctx.viewsChanged?.(undefined);
    enqueue(async () => {
      const d = downloads as SessionDownloads;
      const { denied, changes } = await (views as SessionViews).recompute(next.claims, d.allDocs);
      viewsChanged();
      for (const { id, reason } of denied) softError(ServerErrorCode.subscriptionDenied, reason, id);
      for (const { docs, removed } of changes) await d.send(docs, removed);
    });
  };

  const handle = async (m: ClientMessage) => {
    if (closed()) return;
    if (phase === 'hello') {
      if (m.t !== 'hello')
        return fail(ServerErrorCode.protocolOrder, `Expected hello first, received ${m.t}`);
      return onHello(m);
    }
    switch (m.t) {
      case 'hello':
        return fail(ServerErrorCode.protocolOrder, 'hello was already received on this connection');
      case 'push':
        return onPush(m);
      case 'forward':
        return onForward(m);
      case 'subscribe': {
        const sub = admitSub(m.sub);
        const d = downloads as SessionDownloads;
        if (sub) enqueue(() => d.initialSet(sub, 'merge'));
        return;
      }
      case 'unsubscribe':
        views?.subs.delete(m.id);
        views?.invalidate();
        viewsChanged();
        return;
      case 'auth':
        return onAuth(m);
      case 'announce':
        return peer?.announce(m.addresses);
      case 'signal':
        if (!peer?.forward(m.to, m.data))
          softError(
            ServerErrorCode.peerUnreachable,
            `Peer ${m.to} is not online on this relay, or you may not peer with it: nothing was forwarded`,
          );
        return;
    }
  };

  transport.onFrame((frame) => {
    if (closed()) return;
    if (phase === 'hello' && frame.length > limits.preHelloFrameBytes)
      return fail(
        ServerErrorCode.frameTooLarge,
        `A frame of ${frame.length} bytes before hello exceeds the limit of ${limits.preHelloFrameBytes}`,
      );
    let message: ClientMessage;
    try {
      message = decodeClientMessage(frame, limits.frameBytes);
    } catch (error) {
      const code = error instanceof ProtocolError ? error.code : ServerErrorCode.frameInvalid;
      return fail(code, (error as Error).message);
    }
    if (message.t === 'hello') helloArrived = true;
    // Answered at once, not behind the session's queue: a device whose push waits on a busy relay is still connected,
    // and reconnecting (its ping timing out) would only add a hello to the relay's work.
    if (message.t === 'ping') return send({ t: 'pong' });
    inbound = inbound
      .then(() => handle(message))
      .catch((error: unknown) =>
        fail(ServerErrorCode.storage, `The server failed: ${(error as Error).message}`),
      );
  });
  transport.onError((error) => {
    if (error instanceof ProtocolError) fail(error.code, error.message);
  });
  transport.onClose(shutdown);

  return {
    onCommit(commit) {
      if (phase !== 'ready') return;
      const d = downloads as SessionDownloads;
      if (!running && tasks.length === 0) d.fanOut(commit);
      else enqueue(() => d.fanOut(commit));
    },
    user: () => identity?.user,
    onRevocations(list) {
      if (phase === 'ready') send({ t: 'revocations', list: list.bytes, sig: list.signature });
    },
  };
}
