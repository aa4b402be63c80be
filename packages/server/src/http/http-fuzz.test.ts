/**
 * Fuzz of the HTTP API's JSON bodies against a real relay: random JSON, random bytes, bodies nested far deeper
 * than allowed, and valid bodies mutated (a field dropped, retyped, renamed, nested, or the text cut). Every answer
 * is a JSON `{ code, message }` with a status under 500, and an answer of 4xx stored nothing (the relay's version
 * did not move). Seeded: a failure prints its seed and path (`fc.assert`'s report), replay with `seed`.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CONFIG_DEFAULTS } from '../config/config';
import type { LoamServer } from '../server';
import { SERVICE_TOKEN, startTestServer, tempDir } from '../testing/fixtures';

const tmp = tempDir('loam-http-fuzz-');
let server: LoamServer;
beforeAll(async () => {
  server = await startTestServer(tmp.dir, { limits: CONFIG_DEFAULTS.limits });
});
afterAll(async () => {
  await server.close();
  tmp.cleanup();
});

const ID = '01936b2e-7f00-7000-8000-000000000001';
const routes: { method: string; path: string; valid: unknown }[] = [
  {
    method: 'POST',
    path: '/v1/collections/orders/docs',
    valid: { storeId: 's1', owner: 'ann', total: 3, placedAt: '2026-01-02T03:04:05Z', note: 'x' },
  },
  {
    method: 'PUT',
    path: `/v1/collections/orders/docs/${ID}`,
    valid: { storeId: 's1', owner: 'ann', total: 1 },
  },
  { method: 'PATCH', path: `/v1/collections/orders/docs/${ID}`, valid: { total: 2, note: null } },
  {
    method: 'PUT',
    path: `/v1/collections/notes/docs/${ID}`,
    valid: { text: 'hi', place: { city: 'Lyon', zip: '69001' } },
  },
  { method: 'PATCH', path: `/v1/collections/notes/docs/${ID}`, valid: { 'place.city': 'Paris' } },
  { method: 'POST', path: `/v1/collections/orders/docs/${ID}/increment`, valid: { field: 'qty', by: 2 } },
  {
    method: 'POST',
    path: '/v1/collections/orders/query',
    valid: {
      filter: {
        op: 'and',
        filters: [
          { op: 'eq', field: 'storeId', value: 's1' },
          { op: 'not', filter: { op: 'gt', field: 'placedAt', value: '2026-01-01T00:00:00Z' } },
        ],
      },
      sort: [{ field: 'total', dir: 'desc' }],
      limit: 10,
    },
  },
];

type Kind = 'array' | 'object' | 'not';
/** `value` nested `depth` times in arrays and objects. */
function deep(depth: number, value: unknown = 1, kind: Kind = 'array'): unknown {
  let v = value;
  for (let i = 0; i < depth; i++)
    v = kind === 'array' ? [v] : kind === 'object' ? { a: v } : { op: 'not', filter: v };
  return v;
}
/** The JSON text of `deep(depth, value, kind)`, written without recursion (`JSON.stringify` overflows). */
function deepText(depth: number, value: unknown, kind: Kind): string {
  const [open, close] =
    kind === 'array' ? ['[', ']'] : kind === 'object' ? ['{"a":', '}'] : ['{"op":"not","filter":', '}'];
  return open.repeat(depth) + JSON.stringify(value) + close.repeat(depth);
}

const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.constantFrom(null, '', 0, -1, 1e308, '2026-13-45', 'NaN', [], {}, true),
);

/** A valid body changed in one place. */
const mutated = (valid: unknown) =>
  fc
    .tuple(
      fc.constantFrom('drop', 'retype', 'rename', 'nest', 'extra'),
      fc.nat(),
      anyValue,
      fc.string({ maxLength: 12 }),
    )
    .map(([how, at, value, name]) => {
      const body = structuredClone(valid) as Record<string, unknown>;
      const keys = Object.keys(body);
      const key = keys[at % keys.length] as string;
      if (how === 'drop') delete body[key];
      if (how === 'retype') body[key] = value;
      if (how === 'rename') {
        body[name] = body[key];
        delete body[key];
      }
      if (how === 'nest') body[key] = deep(1 + (at % 40), body[key], at % 2 ? 'object' : 'not');
      if (how === 'extra') body[name] = value;
      return JSON.stringify(body);
    });

const bodies = (valid: unknown) =>
  fc.oneof(
    { weight: 4, arbitrary: mutated(valid) },
    { weight: 2, arbitrary: anyValue.map((v) => JSON.stringify(v)) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.nat(), fc.constantFrom<Kind>('array', 'object', 'not'))
        .map(([n, kind]) => `{"filter":${deepText(30 + (n % 50_000), { op: 'true' }, kind)}}`),
    },
    {
      weight: 1,
      arbitrary: mutated(valid).chain((s) => fc.nat({ max: s.length }).map((cut) => s.slice(0, cut))),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')) },
  );

const requests = fc
  .nat({ max: routes.length - 1 })
  .chain((r) => bodies(routes[r]!.valid).map((body) => ({ r, body })));

async function send(route: (typeof routes)[number], body: string) {
  const res = await fetch(`${server.url}${route.path}`, {
    method: route.method,
    headers: { authorization: `Bearer ${SERVICE_TOKEN}`, 'content-type': 'application/json' },
    body,
  });
  return { status: res.status, json: (await res.json()) as { code?: string; message?: string } };
}

it('every valid body of each route is accepted (the mutations start from bodies that work)', async () => {
  for (const route of routes) {
    const { status, json } = await send(route, JSON.stringify(route.valid));
    expect(status, `${route.method} ${route.path} → ${JSON.stringify(json)}`).toBeLessThan(300);
  }
});

it('random and mutated JSON bodies: never a 5xx, always a coded error, nothing stored by a refusal', async () => {
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(requests, async ({ r, body }) => {
      const route = routes[r]!;
      const before = server.relay.version();
      const { status, json } = await send(route, body);
      expect(
        status,
        `${route.method} ${route.path} ${body.slice(0, 200)} → ${JSON.stringify(json)}`,
      ).toBeLessThan(500);
      if (status >= 400) {
        refused++;
        expect(json.code).toMatch(/^[a-z_]+$/);
        expect(server.relay.version()).toBe(before);
      }
    }),
    { numRuns: 400, seed: Number(process.env.LOAM_FUZZ_SEED ?? 1313) },
  );
  expect(refused).toBeGreaterThan(100);
});

it('a filter 40,000 `not`s deep is 400 body_too_deep, a body over the limit 413 body_too_large', async () => {
  const query = routes.find((r) => r.path.endsWith('/query'))!;
  expect(await send(query, `{"filter":${deepText(40_000, { op: 'true' }, 'not')}}`)).toMatchObject({
    status: 400,
    json: { code: 'body_too_deep' },
  });
  expect(await send(query, JSON.stringify({ filter: deep(40, { op: 'true' }, 'not') }))).toMatchObject({
    status: 400,
    json: { code: 'query_invalid' },
  });
  expect(
    await send(query, JSON.stringify({ pad: 'x'.repeat(CONFIG_DEFAULTS.limits.frameBytes) })),
  ).toMatchObject({
    status: 413,
    json: { code: 'body_too_large' },
  });
});
