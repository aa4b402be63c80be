/**
 * Every stable code that travels on the wire, in one place: the relay sends them, the sync client decides by them.
 * `@loam/server` builds its error codes from these; nothing keeps a second copy.
 */

/** Codes of `error` frames. */
export const WireErrorCode = {
  /** No token was given and anonymous sign-in is off. */
  authRequired: 'auth_required',
  /** The token is malformed, badly signed, of a disallowed algorithm, unknown `kid`, wrong `iss`/`aud`. */
  authInvalid: 'auth_invalid',
  /** The token has expired (non-fatal: a fresh one is expected; fatal: reconnect with a fresh one). */
  authExpired: 'auth_expired',
  /** The client's schema version differs from the relay's. */
  schemaMismatch: 'schema_mismatch',
  /** A frame of a protocol version the other side does not speak. */
  protocolVersion: 'protocol_version',
  /** A message that is valid but not allowed at this point (anything before `hello`, a second `hello`). */
  protocolOrder: 'protocol_order',
  /** A frame that is not a valid message (malformed, truncated, wrong field types, unknown type). */
  frameInvalid: 'frame_invalid',
  /** A frame larger than the configured limit (before `hello`: larger than the small pre-hello limit). */
  frameTooLarge: 'frame_too_large',
  /** A frame (or the ops or snapshot inside one) nested deeper than the decoder's depth limit. */
  frameTooDeep: 'frame_too_deep',
  /** No `hello` arrived within the handshake timeout after the connection opened. */
  handshakeTimeout: 'handshake_timeout',
  /** The address already holds as many open connections as the relay allows one address. */
  tooManyConnections: 'too_many_connections',
  /** The address opened connections faster than the relay's handshakes-per-second limit. */
  handshakeRate: 'handshake_rate',
  /**
   * The user's connections sent more frames the relay refused (malformed, too deep, too large) within a minute
   * than it allows: its sign-ins are refused until the cooldown ends (fatal; the client retries later).
   */
  tooManyBadFrames: 'too_many_bad_frames',
  /** The connection already holds as many subscriptions as the relay allows one connection (not fatal). */
  tooManySubscriptions: 'too_many_subscriptions',
  /** A subscription that is not well formed (bad collection name, bad filter); only it is refused (not fatal). */
  subscriptionInvalid: 'subscription_invalid',
  /** A limit (batch size, connections per user) was exceeded. */
  limitExceeded: 'limit_exceeded',
  /** A subscription the user's rules do not allow (unknown collection, hidden field in filter or sort). */
  subscriptionDenied: 'subscription_denied',
  /** The replica id is bound to another user. */
  replicaMismatch: 'replica_mismatch',
  /** The WebSocket upgrade came from an Origin that is not allowed. */
  originDenied: 'origin_denied',
  /** The relay's storage failed. */
  serverStorage: 'server_storage',
  /** A `signal` for a device that is not online on this relay or that this device may not peer with. */
  peerUnreachable: 'peer_unreachable',
} as const;
export type WireErrorCode = (typeof WireErrorCode)[keyof typeof WireErrorCode];

/** Codes of the refusals an `ack` names (`ack.refused[].code`). */
export const RefusalCode = {
  /** The user's role has no right on the collection. */
  permissionDenied: 'permission_denied',
  /** The op writes a field the user may not write. */
  fieldDenied: 'field_denied',
  /** The document is outside the user's write filter (or does not exist, for anything but a create). */
  rowDenied: 'row_denied',
  insertDenied: 'insert_denied',
  deleteDenied: 'delete_denied',
  /** The op's values break the schema. */
  schemaInvalid: 'schema_invalid',
  /** The op's timestamp is beyond the clock skew bound. */
  clockSkew: 'clock_skew',
  /** The op carries another replica's id or timestamp. */
  replicaMismatch: 'replica_mismatch',
  /** An earlier op of the batch on the same document was refused. */
  dependsOnRefused: 'depends_on_refused',
  limitExceeded: 'limit_exceeded',
  /**
   * The relay already holds an op with this id and other content: the replica's database was restored from an
   * older copy. Not a refusal of the write: the client gives the op a new id and uploads it again. Nothing of the
   * batch was applied.
   */
  opIdReused: 'op_id_reused',
} as const;
export type RefusalCode = (typeof RefusalCode)[keyof typeof RefusalCode];

/** Error codes after which retrying cannot help: the client stops until it is started again. */
export const FATAL_WIRE_CODES: ReadonlySet<string> = new Set<string>([
  WireErrorCode.authInvalid,
  WireErrorCode.authRequired,
  WireErrorCode.replicaMismatch,
  WireErrorCode.schemaMismatch,
  WireErrorCode.protocolVersion,
  WireErrorCode.originDenied,
]);
