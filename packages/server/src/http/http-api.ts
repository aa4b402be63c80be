/**
 * The HTTP API for backends, with service credentials (`Authorization: Bearer <serviceToken>`).
 *
 * ```
 * POST   /v1/collections/:c/docs                 body: the document (id optional)   → 201 { doc }
 * GET    /v1/collections/:c/docs/:id                                                 → 200 { doc } | 404
 * PUT    /v1/collections/:c/docs/:id             body: the document (upsert)        → 200 { doc }
 * PATCH  /v1/collections/:c/docs/:id             body: fields to set (null clears)  → 200 { doc }
 * POST   /v1/collections/:c/docs/:id/increment   body: { field, by }                → 200 { doc }
 * DELETE /v1/collections/:c/docs/:id                                                 → 200 { deleted: true }
 * POST   /v1/collections/:c/query                body: { filter?, sort?, limit?, offset? } → 200 { docs }
 * POST   /v1/devices/:replica/revoke                                                 → 200 { version, revoked }
 * GET    /v1/devices/relay-key                                                       → 200 { relayKey }
 * ```
 * `relayKey` is the public key (32 bytes, base64url) that signs device certificates and revocation lists: a
 * desktop terminal's `terminal.json` pins it, so its LAN peering trusts this relay and no other.
 * Revoking a device (its replica id) signs a new revocation list that reaches every connected device at once and
 * travels between peers: the device gets no new certificate and its transactions are refused everywhere.
 * Bodies and responses are JSON; `date` fields travel as ISO 8601 strings (converted by the schema, in bodies
 * and in query filters). Every error is `{ code, message, problems? }` with a 4xx status (`bad_request`,
 * `validation_failed` with one line per problem, `query_invalid`, `unauthorized`, `not_found`, `already_exists`,
 * `body_too_large` (413), `body_too_deep`: more than 64 levels of arrays and objects, refused before parsing) and
 * stores nothing; a 5xx means the server itself failed. A PATCH key may be a dotted path into an object field (`{ "address.city": "Paris" }`): only
 * that path is written, so concurrent edits of other paths of the object are kept. PUT creates the document when
 * it does not exist and otherwise sets the fields it carries. Writes are `@loam/core` write intents run by the
 * server's writer, committed through the same write queue as device pushes, so they reach subscribed devices and
 * webhooks at once.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  AlreadyExistsError,
  type CollectionDef,
  type FieldDef,
  type Filter,
  fieldAt,
  isReplicaId,
  LoamError,
  materialize,
  NotFoundError,
  QueryError,
  type Schema,
  SchemaError,
  ValidationError,
  validateQuery,
  type WriteIntent,
  writeIntent,
} from '@loam/core';
import type { Devices } from '../devices/devices';
import { HttpApiError, ServerErrorCode } from '../errors';
import type { Metrics } from '../metrics/metrics';
import type { Relay } from '../relay/relay';
import type { ServerStore } from '../storage/server-store';

/** Options of {@link createHttpApi}. */
export interface HttpApiOptions {
  readonly relay: Relay;
  readonly store: ServerStore;
  readonly metrics: Metrics;
  readonly devices: Devices;
  /** Absent: every request is refused with 401. */
  readonly serviceToken?: string;
  /** Largest accepted body, bytes. */
  readonly maxBodyBytes: number;
}

/** Handles a request under `/v1/`; returns false for other paths. */
export type HttpApi = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function toDate(value: unknown): unknown {
  if (typeof value !== 'string' || !ISO_DATE.test(value)) return value;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d;
}

/** Converts ISO strings to `Date`s where the schema declares `date` fields (objects and dotted paths included). */
function convertDates(fields: { readonly [name: string]: FieldDef }, input: Record<string, unknown>) {
  const out: Record<string, unknown> = { ...input };
  for (const [name, value] of Object.entries(input)) {
    const def = Object.hasOwn(fields, name)
      ? fields[name]
      : name.includes('.')
        ? fieldAt({ fields }, name)
        : undefined;
    if (!def) continue;
    if (def.kind === 'date') out[name] = toDate(value);
    else if (def.kind === 'object' && value !== null && typeof value === 'object' && !Array.isArray(value))
      out[name] = convertDates(def.fields, value as Record<string, unknown>);
  }
  return out;
}

function convertFilterDates(col: CollectionDef, filter: unknown): unknown {
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) return filter;
  const f = filter as Record<string, unknown>;
  if (Array.isArray(f.filters)) return { ...f, filters: f.filters.map((x) => convertFilterDates(col, x)) };
  if (f.filter !== undefined) return { ...f, filter: convertFilterDates(col, f.filter) };
  if (typeof f.field !== 'string' || fieldAt(col, f.field)?.kind !== 'date') return f;
  const ms = (v: unknown) => {
    const d = toDate(v);
    return d instanceof Date ? d.getTime() : v;
  };
  return {
    ...f,
    ...(f.value !== undefined ? { value: ms(f.value) } : {}),
    ...(Array.isArray(f.values) ? { values: f.values.map(ms) } : {}),
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Deepest nesting of arrays and objects an HTTP body may have (documents nest at most 32 deep). */
const MAX_BODY_DEPTH = 64;

/**
 * The deepest nesting of `[`/`{` in JSON text, counted outside strings, stopping as soon as it passes `max`: run
 * before `JSON.parse`, so a body nested a million deep is refused before anything is built from it.
 */
function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

async function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max)
      throw new HttpApiError(413, ServerErrorCode.bodyTooLarge, `The body exceeds ${max} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '')
    throw new HttpApiError(400, ServerErrorCode.badRequest, 'The body is empty: send a JSON object');
  if (jsonDepthExceeds(text, MAX_BODY_DEPTH))
    throw new HttpApiError(
      400,
      ServerErrorCode.bodyTooDeep,
      `The body nests arrays and objects deeper than ${MAX_BODY_DEPTH} levels`,
    );
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpApiError(
      400,
      ServerErrorCode.badRequest,
      `The body is not valid JSON: ${(error as Error).message}`,
    );
  }
}

function objectBody(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new HttpApiError(400, ServerErrorCode.badRequest, 'The body must be a JSON object');
  return value as Record<string, unknown>;
}

/** Creates the API handler. */
export function createHttpApi(options: HttpApiOptions): HttpApi {
  const { relay, store, metrics } = options;
  const schema: Schema = relay.schema;
  const expected = options.serviceToken === undefined ? undefined : digest(options.serviceToken);

  const authorized = (req: IncomingMessage) => {
    const header = req.headers.authorization;
    if (!expected || typeof header !== 'string' || !header.startsWith('Bearer ')) return false;
    return timingSafeEqual(digest(header.slice(7)), expected);
  };

  const collection = (name: string): CollectionDef => {
    if (!Object.hasOwn(schema.collections, name))
      throw new HttpApiError(404, ServerErrorCode.notFound, `Unknown collection "${name}"`);
    return schema.collections[name] as CollectionDef;
  };

  /** Runs one backend write; resolves with the document as it reads after it (null once deleted). */
  const write = async (intent: WriteIntent) => {
    const [written] = await relay.backendWrite([intent]);
    return written?.doc ?? null;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, path: string[]) => {
    if (!authorized(req))
      throw new HttpApiError(
        401,
        ServerErrorCode.unauthorized,
        expected
          ? 'Send the service token as "Authorization: Bearer <token>"'
          : 'The HTTP API is off: configure serviceToken',
      );
    const [root, name, kind, id, action] = path;
    if (root === 'devices' && name === 'relay-key' && kind === undefined) {
      if (req.method !== 'GET')
        throw new HttpApiError(405, ServerErrorCode.badRequest, `${req.method} is not allowed here`);
      return send(res, 200, { relayKey: Buffer.from(options.devices.publicKey).toString('base64url') });
    }
    if (root === 'devices' && name !== undefined && kind === 'revoke' && id === undefined) {
      if (req.method !== 'POST')
        throw new HttpApiError(405, ServerErrorCode.badRequest, `${req.method} is not allowed here`);
      if (!isReplicaId(name))
        throw new HttpApiError(400, ServerErrorCode.badRequest, `Not a replica id: ${JSON.stringify(name)}`);
      const list = await options.devices.revoke(name);
      return send(res, 200, { version: list.list.version, revoked: list.list.replicas });
    }
    if (root !== 'collections' || name === undefined)
      throw new HttpApiError(404, ServerErrorCode.notFound, 'No such route');
    const col = collection(name);
    const method = req.method ?? 'GET';
    if (kind === 'query' && id === undefined && method === 'POST') {
      const body = objectBody(await readJson(req, options.maxBodyBytes));
      const query = validateQuery({ ...body, collection: name });
      const filter = query.filter && (convertFilterDates(col, query.filter) as Filter);
      return send(res, 200, { docs: await store.queryDocs({ ...query, ...(filter ? { filter } : {}) }) });
    }
    if (kind !== 'docs') throw new HttpApiError(404, ServerErrorCode.notFound, 'No such route');
    if (id === undefined) {
      if (method !== 'POST')
        throw new HttpApiError(405, ServerErrorCode.badRequest, `${method} is not allowed here`);
      const doc = convertDates(col.fields, objectBody(await readJson(req, options.maxBodyBytes)));
      const result = await write(writeIntent.insert(name, doc));
      return send(res, 201, { doc: result });
    }
    if (action === 'increment' && method === 'POST') {
      const body = objectBody(await readJson(req, options.maxBodyBytes));
      if (typeof body.field !== 'string' || typeof body.by !== 'number')
        throw new HttpApiError(
          400,
          ServerErrorCode.badRequest,
          'Send { "field": <counter field>, "by": <integer> }',
        );
      const result = await write(writeIntent.increment(name, id, body.field, body.by));
      return send(res, 200, { doc: result });
    }
    if (action !== undefined) throw new HttpApiError(404, ServerErrorCode.notFound, 'No such route');
    switch (method) {
      case 'GET': {
        const stored = await store.getDoc(name, id);
        const doc = stored?.live ? materialize(col, id, stored.state) : undefined;
        if (!doc) throw new NotFoundError(name, id);
        return send(res, 200, { doc });
      }
      case 'PUT': {
        const doc = convertDates(col.fields, objectBody(await readJson(req, options.maxBodyBytes)));
        return send(res, 200, { doc: await write(writeIntent.upsert(name, id, doc)) });
      }
      case 'PATCH': {
        const patch = convertDates(col.fields, objectBody(await readJson(req, options.maxBodyBytes)));
        return send(res, 200, { doc: await write(writeIntent.update(name, id, patch)) });
      }
      case 'DELETE':
        await write(writeIntent.delete(name, id));
        return send(res, 200, { deleted: true });
      default:
        throw new HttpApiError(405, ServerErrorCode.badRequest, `${method} is not allowed here`);
    }
  };

  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] !== 'v1') return false;
    try {
      await handle(req, res, parts.slice(1));
    } catch (error) {
      const [status, body] = describeError(error);
      send(res, status, body);
    }
    metrics.http(res.statusCode);
    return true;
  };
}

function describeError(error: unknown): [number, { code: string; message: string; problems?: string[] }] {
  if (error instanceof HttpApiError)
    return [
      error.status,
      {
        code: error.code,
        message: error.message,
        ...(error.problems.length ? { problems: [...error.problems] } : {}),
      },
    ];
  if (error instanceof ValidationError) {
    const problems = error.problems.map(
      (p) => `${p.path.length ? p.path.join('.') : '(document)'}: expected ${p.expected}, found ${p.found}`,
    );
    return [400, { code: error.code, message: error.message, problems }];
  }
  if (error instanceof NotFoundError) return [404, { code: error.code, message: error.message }];
  if (error instanceof AlreadyExistsError) return [409, { code: error.code, message: error.message }];
  if (error instanceof SchemaError) return [404, { code: ServerErrorCode.notFound, message: error.message }];
  if (error instanceof QueryError || error instanceof LoamError)
    return [400, { code: error.code, message: error.message }];
  return [500, { code: ServerErrorCode.storage, message: 'The server failed to handle the request' }];
}
