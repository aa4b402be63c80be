/**
 * One device connection speaking the sync protocol (`@loam/sync`'s `messages.ts`) over a WebSocket.
 *
 * Invariants:
 * 1. **Hello first.** Nothing but `hello` is accepted until `welcome` is sent; a bad token, protocol or schema
 *    version, a replica bound to another user or too many connections end the session with a fatal `error`.
 * 2. **Frames are checked before anything else.** A frame that does not decode (malformed, truncated, oversized,
 *    unknown type) or a batch over the limit is a fatal `error`; nothing of it is stored or forwarded.
 * 3. **Acks are durable.** `ack` is sent after the relay committed the batch. Each refused op is named in
 *    `ack.refused`, then a `docs` frame (cursor 0) gives the document's authoritative state in `replace` mode, or
 *    `removed` when the user may not read it (or it does not exist).
 * 4. **Downloads are serialised.** Initial sets, resumes, fan-out of commits and view recomputations run one at a
 *    time in the order they were queued, so every `docs` frame's cursor is one the device is complete through: a
 *    frame's cursor is the commit's version (when newer than any cursor sent before, else 0); `synced` carries
 *    the version the session is complete through. A subscription takes part in fan-out only from the moment its
 *    initial set is read.
 * 5. **Only readable data leaves.** Every snapshot is `redactDocState` of the stored state with the user's readable
 *    fields; a document is sent only when it matches a subscription's filter AND the role's read filter
 *    (`authorizeQuery`); subscriptions that filter on unreadable fields are refused (`subscription_denied`).
 */
import {
  type Access,
  createAccess,
  type DocState,
  decodeOps,
  encodeDocSnapshot,
  evaluateFilter,
  type Filter,
  grantsField,
  materialize,
  type Op,
  OpDecodeError,
  redactDocState,
} from '@loam/core';
import { collectionSql, columnOf, compileFilter } from '@loam/store';
import {
  type ClientMessage,
  type DocSnapshotFrame,
  decodeClientMessage,
  encodeMessage,
  PROTOCOL_VERSION,
  ProtocolError,
  type ServerMessage,
  type Subscription,
} from '@loam/sync';
import type WebSocket from 'ws';
import type { Identity, Verifier } from '../auth/auth';
import type { LimitsConfig } from '../config/config';
import { AuthError, ServerErrorCode } from '../errors';
import type { Metrics } from '../metrics/metrics';
import type { ServerStore } from '../storage/server-store';
import type { Commit, CommittedChange, Relay } from './relay';

/** Docs per `docs` frame when streaming a set. */
export const DOCS_PER_FRAME = 256;
const HELLO_TIMEOUT_MS = 10_000;

/** Everything a session needs from the server. */
export interface SessionContext {
  readonly relay: Relay;
  readonly store: ServerStore;
  readonly verifier: Verifier;
  readonly metrics: Metrics;
  readonly limits: LimitsConfig;
  readonly historyHorizon: () => Promise<number>;
  /** Counts the user's open sessions; returns false (and counts nothing) when the limit is reached. */
  readonly admit: (user: string) => boolean;
  readonly release: (user: string) => void;
  readonly now: () => number;
}

/** A live session. */
export interface Session {
  /** Called for every commit, in order. */
  onCommit(commit: Commit): void;
  /** The user, once signed in. */
  user(): string | undefined;
}

interface ActiveSub {
  readonly id: string;
  readonly collection: string;
  readonly userFilter: Filter | undefined;
  /** The user's filter ANDed with the role's read filter. */
  filter: Filter;
  active: boolean;
}

type Task = () => void | Promise<void>;

const snapshotCache = new WeakMap<DocState, Map<string, Uint8Array>>();
const frameCache = new WeakMap<Commit, Map<string, { frame: Uint8Array; entries: number } | null>>();

function fieldsKey(access: Access): string {
  return access.readableFields === '*' ? '*' : access.readableFields.join('\u0000');
}

/** The redacted snapshot of a state for one access (cached per state and readable-field set). */
function snapshotOf(state: DocState, access: Access): Uint8Array {
  const key = fieldsKey(access);
  let perState = snapshotCache.get(state);
  if (!perState) {
    perState = new Map();
    snapshotCache.set(state, perState);
  }
  let bytes = perState.get(key);
  if (!bytes) {
    const fields = access.readableFields;
    bytes = encodeDocSnapshot(redactDocState(state, (path) => grantsField(fields, path)));
    perState.set(key, bytes);
  }
  return bytes;
}

function toBytes(data: WebSocket.RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

/** Attaches the protocol to an accepted WebSocket. */
export function createSession(ws: WebSocket, ctx: SessionContext): Session {
  const { relay, store, metrics, limits } = ctx;
  const schema = relay.schema;
  let phase: 'hello' | 'ready' | 'closed' = 'hello';
  let identity: Identity | undefined;
  let replica: Parameters<Relay['push']>[0]['replica'] | undefined;
  let admitted = false;
  const subs = new Map<string, ActiveSub>();
  let accessOf = new Map<string, Access>();
  let viewKey: string | undefined;
  let watermark = 0;
  let sentCursor = 0;
  const closed = () => phase === 'closed';
  const tasks: Task[] = [];
  let running = false;
  let inbound: Promise<void> = Promise.resolve();
  let expiry: ReturnType<typeof setTimeout> | undefined;
  let expiresAt: number | undefined;
  const helloTimer = setTimeout(
    () => fail(ServerErrorCode.protocolOrder, 'No hello received in time'),
    HELLO_TIMEOUT_MS,
  );

  const access = (collection: string): Access => {
    let a = accessOf.get(collection);
    if (!a) {
      a = createAccess(relay.rules, identity?.claims ?? {}, collection);
      accessOf.set(collection, a);
    }
    return a;
  };

  const send = (message: ServerMessage) => {
    if (phase === 'closed' || ws.readyState !== ws.OPEN) return;
    ws.send(encodeMessage(message));
  };
  const sendAndWait = (bytes: Uint8Array) =>
    new Promise<void>((resolve) => {
      if (phase === 'closed' || ws.readyState !== ws.OPEN) resolve();
      else ws.send(bytes, () => resolve());
    });

  function fail(code: string, message: string) {
    metrics.error(code);
    send({ t: 'error', code, message, fatal: true });
    shutdown();
    ws.close(1008, code);
  }

  const softError = (code: string, message: string, sub?: string) => {
    metrics.error(code);
    send({ t: 'error', code, message, fatal: false, ...(sub !== undefined ? { sub } : {}) });
  };

  function shutdown() {
    if (phase === 'closed') return;
    phase = 'closed';
    clearTimeout(helloTimer);
    if (expiry) clearTimeout(expiry);
    tasks.length = 0;
    if (admitted && identity) ctx.release(identity.user);
    admitted = false;
  }

  const enqueue = (task: Task) => {
    tasks.push(task);
    if (!running) void pump();
  };
  async function pump() {
    running = true;
    try {
      while (tasks.length > 0 && phase !== 'closed') {
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

  /** Authorises a subscription under the current claims; sends `subscription_denied` and returns null if refused. */
  const authorize = (sub: Subscription): ActiveSub | null => {
    const { collection, filter } = sub.query;
    if (!Object.hasOwn(schema.collections, collection)) {
      softError(ServerErrorCode.subscriptionDenied, `Unknown collection "${collection}"`, sub.id);
      return null;
    }
    const decision = access(collection).authorizeQuery({ collection, ...(filter ? { filter } : {}) });
    if (!decision.ok) {
      softError(ServerErrorCode.subscriptionDenied, `${decision.code}: ${decision.reason}`, sub.id);
      return null;
    }
    const full = decision.query.filter ?? { op: 'true' };
    try {
      compileFilter(full, columnOf(collectionSql(collection, schema.collections[collection]!)));
    } catch (error) {
      softError(ServerErrorCode.subscriptionDenied, (error as Error).message, sub.id);
      return null;
    }
    return { id: sub.id, collection, userFilter: filter, filter: full, active: false };
  };

  const computeViewKey = () => {
    const parts: string[] = [];
    for (const s of [...subs.values()].filter((x) => x.active).sort((a, b) => (a.id < b.id ? -1 : 1))) {
      parts.push(`${s.collection}|${JSON.stringify(s.filter)}|${fieldsKey(access(s.collection))}`);
    }
    return parts.sort().join('\n');
  };
  const invalidateView = () => {
    viewKey = undefined;
  };

  const frameCursor = (version: number) => {
    if (version > sentCursor) {
      sentCursor = version;
      return version;
    }
    return 0;
  };

  const docsFrames = async (
    docs: DocSnapshotFrame[],
    removed: { collection: string; id: string }[],
    extra: { sub?: string; total?: number; sentBefore?: number } = {},
  ) => {
    let i = 0;
    let j = 0;
    while (i < docs.length || j < removed.length) {
      const chunk = docs.slice(i, i + DOCS_PER_FRAME);
      const gone = removed.slice(j, j + DOCS_PER_FRAME - chunk.length);
      i += chunk.length;
      j += gone.length;
      metrics.docsOut(chunk.length + gone.length);
      await sendAndWait(
        encodeMessage({
          t: 'docs',
          cursor: 0,
          docs: chunk,
          removed: gone,
          ...(extra.sub !== undefined ? { sub: extra.sub } : {}),
          ...(extra.total !== undefined
            ? { progress: { sent: (extra.sentBefore ?? 0) + i, total: extra.total } }
            : {}),
        }),
      );
    }
  };

  /** Streams a subscription's whole set, then `synced`. */
  const initialSet = async (sub: ActiveSub, mode: 'merge' | 'replace') => {
    if (subs.get(sub.id) !== sub) return;
    sub.active = true;
    invalidateView();
    const a = access(sub.collection);
    const total = await store.countDocs(sub.collection, sub.filter);
    let sent = 0;
    let afterId: string | undefined;
    for (;;) {
      const page = await store.findDocs(sub.collection, sub.filter, {
        limit: DOCS_PER_FRAME,
        ...(afterId !== undefined ? { afterId } : {}),
      });
      if (phase === 'closed') return;
      if (page.length === 0 && sent > 0) break;
      const docs: DocSnapshotFrame[] = page.map((d) => ({
        collection: sub.collection,
        id: d.id,
        state: snapshotOf(d.state, a),
        mode,
      }));
      await docsFrames(docs, [], {
        sub: sub.id,
        total: Math.max(total, sent + docs.length),
        sentBefore: sent,
      });
      sent += docs.length;
      if (page.length < DOCS_PER_FRAME) break;
      afterId = page[page.length - 1]!.id;
    }
    send({ t: 'synced', sub: sub.id, cursor: watermark });
  };

  /** Sends what changed since `cursor` in the collections of the session's subscriptions. */
  const resume = async (cursor: number) => {
    const bySub = [...subs.values()];
    for (const s of bySub) s.active = true;
    invalidateView();
    const version = relay.version();
    const collections = [...new Set(bySub.map((s) => s.collection))];
    for (const collection of collections) {
      const a = access(collection);
      const mine = bySub.filter((s) => s.collection === collection);
      const rows = await store.changedSince(collection, cursor);
      const docs: DocSnapshotFrame[] = [];
      const removed: { collection: string; id: string }[] = [];
      const def = schema.collections[collection]!;
      for (const row of rows) {
        if (row.live) {
          const doc = materialize(def, row.id, row.state);
          if (doc && mine.some((s) => evaluateFilter(s.filter, doc)))
            docs.push({ collection, id: row.id, state: snapshotOf(row.state, a), mode: 'merge' });
          else removed.push({ collection, id: row.id });
        } else if (row.state.deleted) {
          docs.push({ collection, id: row.id, state: snapshotOf(row.state, a), mode: 'merge' });
        }
      }
      await docsFrames(docs, removed);
    }
    watermark = Math.max(watermark, version);
    sentCursor = Math.max(sentCursor, version);
    for (const s of bySub) send({ t: 'synced', sub: s.id, cursor: watermark });
  };

  const fanOut = (commit: Commit) => {
    const active = [...subs.values()].filter((s) => s.active);
    if (active.length > 0) {
      if (viewKey === undefined) viewKey = computeViewKey();
      const cursor = commit.version > sentCursor ? commit.version : 0;
      const key = `${cursor}\n${viewKey}`;
      let perCommit = frameCache.get(commit);
      if (!perCommit) {
        perCommit = new Map();
        frameCache.set(commit, perCommit);
      }
      let frame = perCommit.get(key);
      if (frame === undefined) {
        frame = buildFanOut(commit, active, cursor);
        perCommit.set(key, frame);
      }
      if (frame && phase !== 'closed' && ws.readyState === ws.OPEN) {
        frameCursor(commit.version);
        metrics.docsOut(frame.entries);
        ws.send(frame.frame);
      }
    }
    watermark = Math.max(watermark, commit.version);
  };

  const buildFanOut = (
    commit: Commit,
    active: ActiveSub[],
    cursor: number,
  ): { frame: Uint8Array; entries: number } | null => {
    const docs: DocSnapshotFrame[] = [];
    const removed: { collection: string; id: string }[] = [];
    for (const change of commit.changes) {
      const mine = active.filter((s) => s.collection === change.collection);
      if (mine.length === 0) continue;
      if (isIn(change, mine, 'after')) {
        docs.push({
          collection: change.collection,
          id: change.id,
          state: snapshotOf(change.after, access(change.collection)),
          mode: 'merge',
        });
      } else if (isIn(change, mine, 'before')) {
        if (change.after.deleted)
          docs.push({
            collection: change.collection,
            id: change.id,
            state: snapshotOf(change.after, access(change.collection)),
            mode: 'merge',
          });
        else removed.push({ collection: change.collection, id: change.id });
      }
    }
    if (docs.length === 0 && removed.length === 0) return null;
    return {
      frame: encodeMessage({ t: 'docs', cursor, docs, removed }),
      entries: docs.length + removed.length,
    };
  };

  const isIn = (change: CommittedChange, mine: ActiveSub[], which: 'before' | 'after') => {
    const doc = which === 'after' ? change.afterDoc : change.beforeDoc;
    return doc !== undefined && mine.some((s) => evaluateFilter(s.filter, doc));
  };

  /** After new claims: documents no longer readable leave, documents whose readable fields changed are replaced. */
  const recompute = async (next: Identity) => {
    const oldSubs = new Map([...subs.values()].map((s) => [s.id, { ...s }]));
    const oldAccess = accessOf;
    identity = next;
    accessOf = new Map();
    for (const [id, s] of subs) {
      const again = authorize({
        id,
        query: { collection: s.collection, ...(s.userFilter ? { filter: s.userFilter } : {}) },
      });
      if (!again) subs.delete(id);
      else s.filter = again.filter;
    }
    invalidateView();
    const collections = new Set([...oldSubs.values()].map((s) => s.collection));
    for (const collection of collections) {
      const before = new Set<string>();
      for (const s of oldSubs.values()) {
        if (s.collection !== collection || !s.active) continue;
        for (const d of await allDocs(collection, s.filter)) before.add(d.id);
      }
      const after = new Map<string, DocState>();
      for (const s of subs.values()) {
        if (s.collection !== collection || !s.active) continue;
        for (const d of await allDocs(collection, s.filter)) after.set(d.id, d.state);
      }
      const a = access(collection);
      const old = oldAccess.get(collection);
      const fieldsChanged = !old || fieldsKey(old) !== fieldsKey(a);
      const docs: DocSnapshotFrame[] = [];
      for (const [id, state] of after) {
        if (fieldsChanged) docs.push({ collection, id, state: snapshotOf(state, a), mode: 'replace' });
        else if (!before.has(id)) docs.push({ collection, id, state: snapshotOf(state, a), mode: 'merge' });
      }
      const removed = [...before].filter((id) => !after.has(id)).map((id) => ({ collection, id }));
      await docsFrames(docs, removed);
    }
  };

  const allDocs = async (collection: string, filter: Filter) => {
    const out: { id: string; state: DocState }[] = [];
    let afterId: string | undefined;
    for (;;) {
      const page = await store.findDocs(collection, filter, {
        limit: 1000,
        ...(afterId !== undefined ? { afterId } : {}),
      });
      out.push(...page);
      if (page.length < 1000) return out;
      afterId = page[page.length - 1]!.id;
    }
  };

  const onHello = async (m: ClientMessage & { t: 'hello' }) => {
    if (m.protocol !== PROTOCOL_VERSION)
      return fail(
        'protocol_version',
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
    if (closed()) return;
    replica = m.replica;
    clearTimeout(helloTimer);
    expiresAt = who.expiresAt;
    armExpiry();
    await relay.reach(m.cursor);
    const version = relay.version();
    const horizon = await ctx.historyHorizon();
    const reset = m.cursor > 0 && (m.cursor < horizon || m.cursor > version);
    phase = 'ready';
    send({
      t: 'welcome',
      protocol: PROTOCOL_VERSION,
      server: relay.replica,
      cursor: version,
      reset,
      user: who.user,
    });
    for (const s of m.subs) {
      const sub = authorize(s);
      if (sub) subs.set(sub.id, sub);
    }
    if (m.cursor === 0 || reset) {
      enqueue(() => {
        watermark = relay.version();
      });
      for (const sub of subs.values()) enqueue(() => initialSet(sub, reset ? 'replace' : 'merge'));
    } else {
      enqueue(() => resume(m.cursor));
    }
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
      return fail('frame_invalid', `Batch ${m.batch}: ${(error as Error).message}`);
    }
    metrics.opsIn(ops.length);
    const outcome = await ctx.relay.push({ replica: replica!, claims: identity!.claims, ops });
    send({ t: 'ack', batch: m.batch, accepted: outcome.accepted, refused: outcome.refused });
    metrics.ackLatency((performance.now() - started) / 1000);
    for (const r of outcome.refused) metrics.refusal(r.code);
    if (outcome.refusedDocs.length === 0) return;
    const docs: DocSnapshotFrame[] = [];
    const removed: { collection: string; id: string }[] = [];
    for (const { collection, id } of outcome.refusedDocs) {
      const stored = Object.hasOwn(schema.collections, collection)
        ? await store.getDoc(collection, id)
        : undefined;
      const doc = stored?.live ? materialize(schema.collections[collection]!, id, stored.state) : undefined;
      const a = Object.hasOwn(schema.collections, collection) ? access(collection) : undefined;
      if (stored && doc && a?.canRead(doc).allowed)
        docs.push({ collection, id, state: snapshotOf(stored.state, a), mode: 'replace' });
      else removed.push({ collection, id });
    }
    metrics.docsOut(docs.length + removed.length);
    send({ t: 'docs', cursor: 0, docs, removed });
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
    if (JSON.stringify(sortedClaims(next.claims)) === JSON.stringify(sortedClaims(identity.claims))) {
      identity = next;
      return;
    }
    enqueue(() => recompute(next));
  };

  const handle = async (m: ClientMessage) => {
    if (phase === 'closed') return;
    if (m.t === 'ping') return send({ t: 'pong' });
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
      case 'subscribe': {
        const sub = authorize(m.sub);
        if (!sub) return;
        subs.set(sub.id, sub);
        invalidateView();
        enqueue(() => initialSet(sub, 'merge'));
        return;
      }
      case 'unsubscribe':
        subs.delete(m.id);
        invalidateView();
        return;
      case 'auth':
        return onAuth(m);
    }
  };

  ws.on('message', (data, isBinary) => {
    if (phase === 'closed') return;
    let message: ClientMessage;
    try {
      if (!isBinary)
        throw new ProtocolError(
          'frame_invalid',
          'Text frames are not part of the protocol: send binary frames',
        );
      message = decodeClientMessage(toBytes(data), limits.frameBytes);
    } catch (error) {
      const code = error instanceof ProtocolError ? error.code : 'frame_invalid';
      return fail(code, (error as Error).message);
    }
    inbound = inbound
      .then(() => handle(message))
      .catch((error: unknown) =>
        fail(ServerErrorCode.storage, `The server failed: ${(error as Error).message}`),
      );
  });
  ws.on('close', shutdown);
  ws.on('error', shutdown);

  return {
    onCommit(commit) {
      if (phase !== 'ready') return;
      if (!running && tasks.length === 0) fanOut(commit);
      else enqueue(() => fanOut(commit));
    },
    user: () => identity?.user,
  };
}

function sortedClaims(claims: Record<string, unknown>): [string, unknown][] {
  return Object.entries(claims)
    .filter(([k]) => k !== 'exp' && k !== 'iat' && k !== 'nbf' && k !== 'jti')
    .sort(([a], [b]) => (a < b ? -1 : 1));
}
