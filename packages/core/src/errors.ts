/**
 * Every error raised by `@loam/core`.
 *
 * Each class carries a stable string `code` (part of the public contract: apps switch on it, and errors that
 * cross the worker boundary are rebuilt from it) and a message a user can act on.
 */

/** Stable codes of the errors `@loam/core` raises. */
export const CoreErrorCode = {
  schemaInvalid: 'schema_invalid',
  validationFailed: 'validation_failed',
  clockSkew: 'clock_skew',
  clockInvalid: 'clock_invalid',
  idInvalid: 'id_invalid',
  opDecode: 'op_decode',
  opInvalid: 'op_invalid',
  queryInvalid: 'query_invalid',
  rulesInvalid: 'rules_invalid',
} as const;
export type CoreErrorCode = (typeof CoreErrorCode)[keyof typeof CoreErrorCode];

/** Base class of every Loam error: a stable `code` plus an actionable message. */
export class LoamError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** One problem found while validating a schema, a document or a patch. */
export interface Problem {
  /** Path to the offending value, e.g. `['address', 'city']`; empty for the value itself. */
  readonly path: readonly (string | number)[];
  /** What the schema expects there, e.g. `number`, `one of: a, b`. */
  readonly expected: string;
  /** What was found, e.g. `string "12"`, `missing`. */
  readonly found: string;
}

/** A schema definition that cannot be used (unknown kind, bad default, nesting not allowed...). */
export class SchemaError extends LoamError {
  constructor(message: string) {
    super(CoreErrorCode.schemaInvalid, message);
  }
}

/** A document or patch breaks its collection's schema. `problems` lists every problem, not just the first. */
export class ValidationError extends LoamError {
  readonly problems: readonly Problem[];
  constructor(collection: string, problems: readonly Problem[]) {
    const list = problems
      .map(
        (p) => `${p.path.length ? p.path.join('.') : '(document)'}: expected ${p.expected}, found ${p.found}`,
      )
      .join('; ');
    super(CoreErrorCode.validationFailed, `Invalid ${collection} document: ${list}`);
    this.problems = problems;
  }
}

/** A remote timestamp lies further ahead of the local wall clock than the configured bound allows. */
export class ClockSkewError extends LoamError {
  readonly aheadMs: number;
  readonly maxDriftMs: number;
  constructor(aheadMs: number, maxDriftMs: number) {
    super(
      CoreErrorCode.clockSkew,
      `Remote timestamp is ${aheadMs} ms ahead of the local clock (limit ${maxDriftMs} ms): check the sender's system clock`,
    );
    this.aheadMs = aheadMs;
    this.maxDriftMs = maxDriftMs;
  }
}

/** A timestamp string that is not a valid encoded hybrid logical clock value. */
export class ClockError extends LoamError {
  constructor(message: string) {
    super(CoreErrorCode.clockInvalid, message);
  }
}

/** An id (replica, op, document) that is not well formed. */
export class IdError extends LoamError {
  constructor(message: string) {
    super(CoreErrorCode.idInvalid, message);
  }
}

/** Why a byte string could not be decoded into operations. */
/** Why bytes did not decode; `too_deep`: nesting beyond the decoder's depth limit (see `scanMsgpack`). */
export type DecodeFailure = 'malformed' | 'truncated' | 'oversized' | 'unsupported_version' | 'too_deep';

/** Bytes that are not a valid encoded operation batch. Raised in bounded time and memory. */
export class OpDecodeError extends LoamError {
  readonly reason: DecodeFailure;
  constructor(reason: DecodeFailure, message: string, options?: { cause?: unknown }) {
    super(CoreErrorCode.opDecode, `Cannot decode operations (${reason}): ${message}`, options);
    this.reason = reason;
  }
}

/** An operation that is structurally valid but cannot apply to its collection (unknown field, wrong kind). */
export class OpError extends LoamError {
  constructor(message: string) {
    super(CoreErrorCode.opInvalid, message);
  }
}

/** A query that is not well formed (unknown operator, wrong operand types, field not queryable). */
export class QueryError extends LoamError {
  constructor(message: string) {
    super(CoreErrorCode.queryInvalid, message);
  }
}

/** A rules definition that cannot be used. */
export class RulesError extends LoamError {
  constructor(message: string) {
    super(CoreErrorCode.rulesInvalid, message);
  }
}

/** A write addressed a document that does not exist (never created, or deleted). */
export class NotFoundError extends LoamError {
  constructor(collection: string, id: string) {
    super('not_found', `No ${collection} document with id ${JSON.stringify(id)}`);
  }
}

/** An insert used the id of a document that already exists. */
export class AlreadyExistsError extends LoamError {
  constructor(collection: string, id: string) {
    super('already_exists', `A ${collection} document with id ${JSON.stringify(id)} already exists`);
  }
}
