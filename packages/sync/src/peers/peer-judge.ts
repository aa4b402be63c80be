/**
 * What a replica decides about a transaction a peer sent, and about sending one to a peer. The same checks the
 * relay runs, against this replica's local state, offline:
 *
 * Receiving (`judgeIncoming`), in order, the first failure being the verdict:
 * 1. the author's certificate, signature, ops' replica and clock skew (`verifyTransaction`); its key
 *    (replica, seq) is its first op's id. A failure here means the transaction is not authentic.
 * 2. each op against the schema (`checkOpSchema`) and the author's claims (`judgeOp` of `@loam/core`), applied
 *    in order to copies of the local documents. A transaction is signed as a whole, so it is refused as a whole.
 *    An op on a document (or an incarnation of it) this replica does not hold cannot be judged here: the author
 *    wrote it on state this replica has not received yet (from the relay, or a transaction the author's peer
 *    never logged). Such a transaction is `deferred`, neither applied nor refused, to be judged once that state
 *    arrives (or settled by the relay); the verdict names the document it lacks (`missing`). The session keeps it
 *    waiting, and with it only its author's later transactions on the documents it touches
 *    (`peer-session.ts`, invariant 3): the others are judged now, and the store holds them above the hole it
 *    leaves in the vector (`PeerLogPort`).
 *
 * Sending (`readableBy`): a transaction leaves only when the reader may read every field it writes and every
 * document it touches, as this replica last held that incarnation live: as it is now, or, when a logged transaction
 * deleted it, as it was just before (`lastLiveDoc`): the relay too sends a delete to a device that had the
 * document in view. A delete op carries no values (its id, timestamp, document and incarnation), and a transaction
 * is signed whole: it leaves whole or not at all. An incarnation this replica holds neither live nor as deleted by
 * a logged transaction leaves only to a reader whose role reads the whole collection. Anything else waits for the
 * relay, which redacts.
 */
import {
  type Access,
  applyOp,
  type Claims,
  type CollectionDef,
  checkOpSchema,
  createAccess,
  createDocState,
  type DocState,
  decodeDocSnapshot,
  encodeDocSnapshot,
  grantsField,
  judgeOp,
  type MaterializedDoc,
  materialize,
  type Op,
  type OpRefusal,
  parseOpId,
  type Rules,
  type Schema,
  touchedFields,
} from '@loam/core';
import { PeerErrorCode } from '../errors';
import type { PeerLogPort } from '../port/sync-store';
import type { SignedCertificate, Trust } from './certificate';
import { verifyTransaction } from './signed-transaction';

/** The verdict on a received transaction. */
export type Incoming =
  | { readonly ok: true; readonly ops: Op[] }
  | {
      readonly ok: false;
      readonly code: string;
      readonly reason: string;
      /** The transaction is the author's (signature and certificate check out) but may not be applied. */
      readonly authentic: boolean;
      /** Its ops, when they could be read. */
      readonly ops: readonly Op[];
      /** It touches a document this replica does not hold: neither applied nor refused (see the module doc). */
      readonly deferred?: true;
      /** With `deferred`: the document it lacks (judging again is pointless while none of it is held). */
      readonly missing?: { readonly collection: string; readonly id: string };
    };

/** Judges transactions for one replica; see the module documentation. */
export interface PeerJudge {
  judgeIncoming(
    tx: {
      readonly replica: string;
      readonly seq: number;
      readonly ops: Uint8Array;
      readonly signature: Uint8Array;
    },
    certificate: SignedCertificate,
  ): Promise<Incoming>;
  /**
   * Starts checking a transaction's certificate and signature now, so that the checks of a received batch run
   * side by side; `judgeIncoming` of the same `tx.ops` then takes the result. (They depend on no local state.)
   */
  verifyAhead(
    tx: { readonly ops: Uint8Array; readonly signature: Uint8Array },
    certificate: SignedCertificate,
  ): void;
  /** Whether a reader with `claims` may receive these ops. */
  readableBy(claims: Claims, ops: readonly Op[]): Promise<boolean>;
}

const clone = (state: DocState): DocState => decodeDocSnapshot(encodeDocSnapshot(state));

/** Creates the judge of one replica. */
export function createPeerJudge(input: {
  readonly schema: Schema;
  readonly rules: Rules;
  readonly store: Pick<PeerLogPort, 'docState' | 'lastLiveDoc'>;
  readonly trust: () => Trust;
  readonly maxSkewMs: number;
  readonly maxBytes: number;
}): PeerJudge {
  const { schema, rules, store } = input;
  const accessFor = (claims: Claims, collection: string): Access => createAccess(rules, claims, collection);

  const screen = async (
    ops: readonly Op[],
    claims: Claims,
  ): Promise<(OpRefusal & { deferred?: true; missing?: { collection: string; id: string } }) | null> => {
    const states = new Map<string, DocState>();
    const access = new Map<string, Access>();
    for (const op of ops) {
      const bad = checkOpSchema(schema, op);
      if (bad) return bad;
      const col = schema.collections[op.collection] as CollectionDef;
      const key = `${op.collection}\u0000${op.doc}`;
      let state = states.get(key);
      if (!state) {
        const stored = await store.docState(op.collection, op.doc);
        state = stored ? clone(stored) : createDocState();
      }
      const before = clone(state);
      const changed = applyOp(col, state, op);
      states.set(key, state);
      if (!changed) continue;
      const a = access.get(op.collection) ?? accessFor(claims, op.collection);
      access.set(op.collection, a);
      const refusal = judgeOp(col, a, op, before, state);
      if (!refusal) continue;
      const missing =
        op.kind === 'delete'
          ? materialize(col, op.doc, before) === undefined
          : materialize(col, op.doc, state) === undefined;
      return missing
        ? { ...refusal, deferred: true, missing: { collection: op.collection, id: op.doc } }
        : refusal;
    }
    return null;
  };

  /** Incarnation `op.epoch` of `op`'s document as this replica last held it live (see the module doc). */
  const lastLive = async (col: CollectionDef, op: Op): Promise<MaterializedDoc | undefined> => {
    const state = await store.docState(op.collection, op.doc);
    const now = state?.epoch === op.epoch ? materialize(col, op.doc, state) : undefined;
    return now ?? store.lastLiveDoc(op.collection, op.doc, op.epoch);
  };

  const verifyOf = (
    tx: { readonly ops: Uint8Array; readonly signature: Uint8Array },
    cert: SignedCertificate,
  ) => verifyTransaction(tx, cert, input.trust(), { maxSkewMs: input.maxSkewMs, maxBytes: input.maxBytes });
  const ahead = new WeakMap<Uint8Array, { cert: SignedCertificate; verdict: ReturnType<typeof verifyOf> }>();

  return {
    verifyAhead(tx, certificate) {
      const verdict = verifyOf(tx, certificate);
      verdict.catch(() => undefined);
      ahead.set(tx.ops, { cert: certificate, verdict });
    },

    async judgeIncoming(tx, certificate) {
      const early = ahead.get(tx.ops);
      ahead.delete(tx.ops);
      const verdict = await (early?.cert === certificate ? early.verdict : verifyOf(tx, certificate));
      if (!verdict.ok) return { ...verdict, authentic: false, ops: [] };
      const ops = verdict.value;
      const first = parseOpId((ops[0] as Op).id);
      if (first.replica !== tx.replica || first.seq !== tx.seq)
        return {
          ok: false,
          code: PeerErrorCode.replicaMismatch,
          reason: `The transaction is sent as ${tx.replica}:${tx.seq} but its first op is ${(ops[0] as Op).id}`,
          authentic: false,
          ops,
        };
      const refusal = await screen(ops, certificate.cert.claims);
      if (refusal) return { ok: false, ...refusal, authentic: true, ops };
      return { ok: true, ops };
    },

    async readableBy(claims, ops) {
      const seen = new Map<string, MaterializedDoc | undefined>();
      for (const op of ops) {
        const col = schema.collections[op.collection];
        if (!col) return false;
        const access = accessFor(claims, op.collection);
        if (access.role === null) return false;
        if (access.readFilter.op === 'true' && access.readableFields === '*') continue;
        for (const field of touchedFields(op)) if (!grantsField(access.readableFields, field)) return false;
        const key = `${op.collection}\u0000${op.doc}\u0000${op.epoch}`;
        if (!seen.has(key)) seen.set(key, await lastLive(col, op));
        const doc = seen.get(key);
        if (!doc || !access.canRead(doc).allowed) return false;
      }
      return true;
    },
  };
}
