/**
 * Serves {@link DbRequest}s against one open `Engine`: single writes as idempotent one-write transactions,
 * reads, transaction sessions whose callback runs on the other side of a worker or tab boundary, and sync calls
 * (handed to the worker's sync host).
 *
 * A session is one engine transaction kept open while its caller sends `tx` calls: the engine's callback waits
 * for `commit` (its result becomes the transaction's result, recorded under the `requestId`), `rollback`, or
 * `idleMs` without a call (then it is rolled back and later calls fail with `transaction_expired`). While a
 * session is open the engine holds the database, so every other request waits behind it.
 */
import type { Engine, EngineWrites } from '@loam/store';
import { DbWorkerError, DbWorkerErrorCode, SyncNotConfiguredError } from './errors';
import {
  type BeginResult,
  type DbRequest,
  type DbRequestHandler,
  type ReadOp,
  type SyncOp,
  TRANSACTION_IDLE_MS,
  type TxOp,
} from './protocol';

/** Options of {@link createRequestHandler}. */
export interface RequestHandlerOptions {
  /** Roll a session back after this long without a call. Default {@link TRANSACTION_IDLE_MS}. */
  readonly idleMs?: number;
  /** Serves `sync` requests (see `sync-host.ts`); without it they reject with `sync_not_configured`. */
  readonly sync?: (op: SyncOp) => Promise<unknown>;
}

/** A request handler plus what its owner needs to shut it down. */
export interface RequestHandler {
  /** Serves a request that may be resent (from a follower tab): writes are recorded under their `requestId`. */
  readonly handle: DbRequestHandler;
  /**
   * Serves a request that is never resent (the leader tab's own, over Comlink, dies with its worker): a single
   * write skips recording its `requestId`, which saves a read and a write per commit. Everything else is as
   * {@link handle}; transactions still honour their `requestId` (callers may reuse it on purpose).
   */
  readonly handleOnce: DbRequestHandler;
  /** Sessions currently open. */
  openSessions(): number;
  /** Rolls back every open session (before the engine closes). */
  abortAll(): void;
}

interface Session {
  readonly tx: EngineWrites;
  readonly finish: (result: { ok: true; value: unknown } | { ok: false; error: unknown }) => void;
  outcome: Promise<unknown>;
  timer: ReturnType<typeof setTimeout> | undefined;
}

class RolledBack extends Error {}

async function runTxOp(tx: EngineWrites, op: TxOp): Promise<unknown> {
  if (op.kind === 'get') return (await tx.get(op.collection, op.id)) ?? null;
  if (op.kind === 'find') return await tx.find(op.query);
  return await tx.write(op);
}

async function runRead(engine: Engine, op: ReadOp): Promise<unknown> {
  switch (op.kind) {
    case 'get':
      return (await engine.get(op.collection, op.id)) ?? null;
    case 'find':
      return await engine.find(op.query);
    case 'aggregate':
      return await engine.aggregate(op.spec);
    case 'sql':
      return await engine.sql(op.sql, op.params);
  }
}

/** Creates the handler serving `engine`. */
export function createRequestHandler(engine: Engine, options: RequestHandlerOptions = {}): RequestHandler {
  const idleMs = options.idleMs ?? TRANSACTION_IDLE_MS;
  const sessions = new Map<string, Session>();
  const expired = new Set<string>();
  let nextTx = 0;
  const txPrefix = Math.random().toString(36).slice(2, 10);

  function touch(txId: string, session: Session): void {
    if (session.timer !== undefined) clearTimeout(session.timer);
    session.timer = setTimeout(() => {
      sessions.delete(txId);
      expired.add(txId);
      session.finish({
        ok: false,
        error: new DbWorkerError(
          DbWorkerErrorCode.transactionExpired,
          `The transaction was idle for ${idleMs} ms and was rolled back: keep transaction callbacks short and do not await other database calls inside them`,
        ),
      });
    }, idleMs);
  }

  function session(txId: string): Session {
    const found = sessions.get(txId);
    if (found) return found;
    if (expired.has(txId)) {
      throw new DbWorkerError(
        DbWorkerErrorCode.transactionExpired,
        'The transaction was idle too long and was rolled back; run it again',
      );
    }
    throw new DbWorkerError(
      DbWorkerErrorCode.transactionUnknown,
      'This transaction is not open on this worker (it finished, or began on a previous leader tab)',
    );
  }

  async function begin(requestId: string): Promise<BeginResult> {
    const txId = `${txPrefix}-${++nextTx}`;
    let started: (() => void) | undefined;
    const startedPromise = new Promise<void>((resolve) => {
      started = resolve;
    });
    const outcome = engine.transaction(
      (tx) =>
        new Promise<unknown>((resolve, reject) => {
          const s: Session = {
            tx,
            finish: (result) => (result.ok ? resolve(result.value) : reject(result.error)),
            outcome: Promise.resolve(null),
            timer: undefined,
          };
          sessions.set(txId, s);
          touch(txId, s);
          started?.();
        }),
      { requestId },
    );
    outcome.catch(() => undefined);
    const first = await Promise.race([
      startedPromise.then(() => ({ started: true }) as const),
      outcome.then((result) => ({ started: false, result }) as const),
    ]);
    const s = sessions.get(txId);
    if (first.started && s) {
      s.outcome = outcome;
      return { committed: false, txId };
    }
    return { committed: true, result: first.started ? null : first.result };
  }

  async function end(txId: string, result: { ok: true; value: unknown } | { ok: false }): Promise<unknown> {
    const s = session(txId);
    sessions.delete(txId);
    if (s.timer !== undefined) clearTimeout(s.timer);
    if (result.ok) {
      s.finish(result);
      return await s.outcome;
    }
    s.finish({ ok: false, error: new RolledBack() });
    await s.outcome.catch((error: unknown) => {
      if (!(error instanceof RolledBack)) throw error;
    });
    return null;
  }

  const handle: DbRequestHandler = async (request: DbRequest) => {
    switch (request.type) {
      case 'write':
        return await engine.transaction((tx) => tx.writeAll(request.intents), {
          requestId: request.requestId,
        });
      case 'read':
        return await runRead(engine, request.op);
      case 'begin':
        return await begin(request.requestId);
      case 'tx': {
        const s = session(request.txId);
        touch(request.txId, s);
        return await runTxOp(s.tx, request.op);
      }
      case 'commit':
        return await end(request.txId, { ok: true, value: request.result });
      case 'rollback':
        return await end(request.txId, { ok: false });
      case 'sync':
        if (!options.sync) throw new SyncNotConfiguredError();
        return await options.sync(request.op);
    }
  };

  const handleOnce: DbRequestHandler = async (request: DbRequest) =>
    request.type === 'write' ? await engine.writeAll(request.intents) : await handle(request);

  return {
    handle,
    handleOnce,
    openSessions: () => sessions.size,
    abortAll() {
      for (const [txId, s] of sessions) {
        if (s.timer !== undefined) clearTimeout(s.timer);
        sessions.delete(txId);
        s.finish({ ok: false, error: new RolledBack() });
      }
    },
  };
}
