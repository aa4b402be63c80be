/**
 * `@loam/core`: the pure heart of Loam shared by apps, the local engine, the relay server and peers. No I/O.
 *
 * Its public names, by concern (each is documented where it is declared):
 * - the schema language and the document types it gives (`defineSchema`, `f`, `DocOf`, `NewDocOf`, `PatchOf`...);
 * - the query language (`q`, the filter AST, `runQuery` as its reference semantics);
 * - write intents (`writeIntent`, `WriteIntent`), what every layer carries from the app to the merge;
 * - ids, the hybrid logical clock, ops and their binary encoding, the writer, merge state and snapshots: the parts
 *   every replica (engine, relay, peer) is built from;
 * - rules and permissions (what the relay enforces and `db.can` evaluates on a device);
 * - errors, each with a stable `code`.
 *
 * The in-memory reference replica (the fuzzers' oracle) is in `@loam/core/testing`.
 */

export {
  type Clock,
  type ClockOptions,
  compareTimestamps,
  createClock,
  decodeTimestamp,
  type HlcParts,
  isPackedTimestamp,
  isTimestamp,
  PACKED_TIMESTAMP_BYTES,
  packTimestamp,
  type Timestamp,
  timeTable,
  unpackTimestamp,
} from './clock/hlc';
export {
  AlreadyExistsError,
  ClockError,
  ClockSkewError,
  CoreErrorCode,
  type DecodeFailure,
  IdError,
  LoamError,
  NotFoundError,
  OpDecodeError,
  OpError,
  type Problem,
  QueryError,
  RulesError,
  SchemaError,
  ValidationError,
} from './errors';
export {
  asDocId,
  asReplicaId,
  createDocId,
  createOpId,
  createReplicaId,
  type DocId,
  isDocId,
  isReplicaId,
  type OpId,
  parseOpId,
  type Random,
  type ReplicaId,
} from './ids/ids';
export {
  applyOp,
  type CounterState,
  checkOpShape,
  createDocState,
  type DocState,
  isLive,
  type MaterializedDoc,
  materialize,
  type Register,
  YJS_ROOT,
} from './merge/doc-state';
export {
  type LatestTimestampTracker,
  latestTimestamp,
  latestTimestampOf,
  trackLatestTimestamp,
} from './merge/latest-timestamp';
export {
  decodeDocSnapshot,
  encodeDocSnapshot,
  isPackedDocState,
  mergeDocState,
  type PackedDocState,
  readDocSnapshot,
  redactDocState,
  SNAPSHOT_VERSIONS,
  type SnapshotVersion,
  unpackDocState,
} from './merge/snapshot';
export { type PlainV2Scan, scanPlainV2 } from './merge/snapshot-reader';
export { checkIntent, patchedDoc } from './ops/check-intent';
export {
  type DecodeLimits,
  decodeBoundedMsgpack,
  decodeOps,
  encodeOps,
  OPS_FORMAT_VERSION,
} from './ops/codec';
export {
  bindCollectionWrites,
  bindWrites,
  type CollectionWriteMethods,
  type DeleteIntent,
  type IncrementIntent,
  type InsertIntent,
  intentTarget,
  type ListDeleteIntent,
  type ListInsertIntent,
  type TextDeleteIntent,
  type TextInsertIntent,
  type UpdateIntent,
  type UpsertIntent,
  type WriteIntent,
  type WriteIntentKind,
  type WriteMethods,
  writeIntent,
} from './ops/intents';
export { MsgpackWriter } from './ops/msgpack-writer';
export {
  type CreateOp,
  type DeleteOp,
  type IncrementOp,
  type Op,
  type OpHeader,
  type OpKind,
  type SetOp,
  touchedFields,
  type Value,
  type YjsOp,
} from './ops/ops';
export { createWriter, EMPTY_UPDATE, type Writer, type WriterOptions } from './ops/writer';
export {
  type CompareFilter,
  type CompareOp,
  type ConstFilter,
  type ExistsFilter,
  type Filter,
  FilterOp,
  type LogicFilter,
  type MembershipFilter,
  type MembershipOp,
  type NotFilter,
  type Query,
  type QueryDoc,
  QueryLimits,
  type Scalar,
  type ScalarInput,
  type SortDir,
  type SortKey,
  type StringFilter,
  type StringOp,
} from './query/ast';
export { type QueryOptions, q } from './query/builder';
export { evaluateFilter, runQuery } from './query/evaluate';
export { validateFilter, validateQuery } from './query/validate';
export { type Access, createAccess, type QueryDecision } from './rules/access';
export { grantsField } from './rules/fields';
export { mayPeer, type PeerRules, peerGroup, validatePeerRules } from './rules/peers';
export { checkPermission, type Permissions, permissionsFor } from './rules/permissions';
export {
  type Claims,
  type CollectionRules,
  DenialCode,
  type FieldList,
  type FieldRights,
  type ReadDecision,
  type Role,
  type RuleFilter,
  type RuleMembershipFilter,
  type Rules,
  type WriteDecision,
  type WriteRequest,
} from './rules/rules';
export { checkOpSchema, judgeOp, type OpRefusal } from './rules/screen-op';
export { validateRules } from './rules/validate';
export type {
  CollectionName,
  FieldNameOfKind,
  FilterOf,
  ListItemOf,
  NumericPath,
  QueryPath,
} from './schema/paths';
export {
  type BooleanField,
  type CollectionDef,
  type CounterField,
  type DateField,
  type DocOf,
  defineSchema,
  type FieldDef,
  FieldKind,
  type FieldsOf,
  f,
  fieldAt,
  getCollection,
  type InsertOf,
  type IsOpenSchema,
  type JsonField,
  type JsonValue,
  type LeafField,
  type LeafPath,
  type ListField,
  leafPaths,
  type NewDocOf,
  type NumberField,
  type ObjectField,
  type ObjectFields,
  type ObjectPaths,
  type PatchOf,
  type PathValue,
  parseSchema,
  type RefField,
  type Schema,
  type StringField,
  schemaToJson,
  type TextField,
  type ValueOf,
} from './schema/schema';
export { checkFieldValue, type ValidationMode, validate } from './schema/validate';
