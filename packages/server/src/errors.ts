/**
 * Every error raised by `@loam/server`. Each carries a stable `code`; the codes a client can see travel in
 * `error` frames, the HTTP API's error bodies and `ack.refused`.
 */
import { LoamError } from '@loam/core';

/** Stable codes of the server's errors and refusals. */
export const ServerErrorCode = {
  /** The configuration file or environment is unusable; the message names the key. */
  configInvalid: 'config_invalid',
  /** No token was given and anonymous sign-in is off. */
  authRequired: 'auth_required',
  /** The token is malformed, badly signed, of a disallowed algorithm, unknown `kid`, wrong `iss`/`aud`. */
  authInvalid: 'auth_invalid',
  /** The token has expired. */
  authExpired: 'auth_expired',
  /** The client's schema version differs from the server's. */
  schemaMismatch: 'schema_mismatch',
  /** A limit (batch size, connections per user) was exceeded. */
  limitExceeded: 'limit_exceeded',
  /** A subscription the user's rules do not allow (unknown collection, hidden field in filter or sort). */
  subscriptionDenied: 'subscription_denied',
  /** A message that is valid but not allowed at this point (anything before `hello`, a second `hello`). */
  protocolOrder: 'protocol_order',
  /** The replica id is bound to another user, or an op carries another replica's id. */
  replicaMismatch: 'replica_mismatch',
  /** A pushed op's timestamp is beyond the clock skew bound. */
  clockSkew: 'clock_skew',
  /** A pushed op's values break the schema. */
  schemaInvalid: 'schema_invalid',
  /** A pushed op follows a refused op on the same document in the same batch. */
  dependsOnRefused: 'depends_on_refused',
  /** The HTTP request is malformed or breaks the schema. */
  badRequest: 'bad_request',
  /** The service credentials are missing or wrong. */
  unauthorized: 'unauthorized',
  /** No such document, collection or route. */
  notFound: 'not_found',
  /** An HTTP insert used the id of a live document. */
  alreadyExists: 'already_exists',
  /** The WebSocket upgrade came from an Origin that is not allowed. */
  originDenied: 'origin_denied',
  /** The server's storage failed or is unusable. */
  storage: 'server_storage',
} as const;
export type ServerErrorCode = (typeof ServerErrorCode)[keyof typeof ServerErrorCode];

/** A configuration file or environment variable that cannot be used. `key` is the dotted key at fault. */
export class ConfigError extends LoamError {
  readonly key: string;
  constructor(key: string, message: string) {
    super(ServerErrorCode.configInvalid, `Invalid configuration at "${key}": ${message}`);
    this.key = key;
  }
}

/** A token that cannot be accepted: `auth_required`, `auth_invalid` or `auth_expired`. */
export class AuthError extends LoamError {
  constructor(
    code:
      | typeof ServerErrorCode.authRequired
      | typeof ServerErrorCode.authInvalid
      | typeof ServerErrorCode.authExpired,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** A failure of the server's storage (I/O, corruption, a schema change that is not additive). */
export class ServerStorageError extends LoamError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ServerErrorCode.storage, message, options);
  }
}

/** A bad HTTP API request; `problems` lists what is wrong, one line each. Nothing was stored. */
export class HttpApiError extends LoamError {
  readonly status: number;
  readonly problems: readonly string[];
  constructor(status: number, code: ServerErrorCode, message: string, problems: readonly string[] = []) {
    super(code, message);
    this.status = status;
    this.problems = problems;
  }
}
