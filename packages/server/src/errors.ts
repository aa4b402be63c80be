/**
 * Every error raised by `@loam/server`. Each carries a stable `code`; the codes a client can see travel in
 * `error` frames, the HTTP API's error bodies and `ack.refused`.
 */
import { LoamError } from '@loam/core';
import { RefusalCode, WireErrorCode } from '@loam/sync';

/**
 * Stable codes of the server's errors and refusals. The codes a device sees (`error` frames, `ack.refused`) are
 * `@loam/sync`'s `WireErrorCode` and `RefusalCode`, taken from there; the others are the server's own.
 */
export const ServerErrorCode = {
  ...WireErrorCode,
  ...RefusalCode,
  /** The configuration file or environment is unusable; the message names the key. */
  configInvalid: 'config_invalid',
  /** The HTTP request is malformed or breaks the schema. */
  badRequest: 'bad_request',
  /** The service credentials are missing or wrong. */
  unauthorized: 'unauthorized',
  /** No such document, collection or route. */
  notFound: 'not_found',
  /** An HTTP insert used the id of a live document. */
  alreadyExists: 'already_exists',
  /** An HTTP body larger than `limits.frameBytes` (413). */
  bodyTooLarge: 'body_too_large',
  /** An HTTP body nested deeper than the API accepts (400). */
  bodyTooDeep: 'body_too_deep',
  /** The server's storage failed or is unusable. */
  storage: WireErrorCode.serverStorage,
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
