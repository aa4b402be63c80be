/**
 * Structure-aware fuzzing of the relay protocol against a live relay: valid frames (hello, push, subscribe,
 * unsubscribe, auth, ping, and a server's ack sent the wrong way) are built, then mutated, either in their
 * structure (a field dropped, retyped, replaced by a random or deeply nested value, an op tuple's element
 * changed) or in their bytes (flipped, cut, spliced), and sent on fresh connections, before or after a valid
 * hello.
 *
 * After each frame the connection is pinged: the relay must answer (pong, or an `error` then a close), every
 * `error` must carry a code of the protocol (`WireErrorCode`) and never `server_storage`, the relay's version may
 * move only by batches it acknowledged as accepted, and every so often (and at the end) a well-behaved device
 * must still get its push acknowledged. Everything is drawn from one seeded generator: a failure names its seed
 * and iteration.
 */
import { encodeOps, type Op } from '@loam/core';
import type { LoamServer } from '@loam/server';
import { connectClient, mintToken, type ProtocolClient, testDevice } from '@loam/server/testing';
import { encodeMessage, PROTOCOL_VERSION, WireErrorCode } from '@loam/sync';
import { decode, Encoder } from '@msgpack/msgpack';

/** A seeded generator (mulberry32). */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]! };
}
type Rng = ReturnType<typeof rng>;

const encoder = new Encoder({ ignoreUndefined: true, maxDepth: 10_000 });
const KNOWN_CODES = new Set<string>(Object.values(WireErrorCode));

function randomValue(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 3 ? 7 : 10)) {
    case 0:
      return null;
    case 1:
      return r.next() < 0.5;
    case 2:
      return r.pick([0, -1, 1, 2 ** 31, 2 ** 53, -(2 ** 63), 1.5, Number.NaN, Number.POSITIVE_INFINITY]);
    case 3:
      return r.pick(['', 'orders', 'notes', 'x'.repeat(5000), '\ud800', 'bad name', '__proto__', 'hello']);
    case 4:
      return new Uint8Array(r.int(64)).map(() => r.int(256));
    case 5:
      return new Date(r.int(2 ** 40));
    case 6:
      return r.int(1000);
    case 7:
      return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
    case 8:
      return Object.fromEntries(
        Array.from({ length: r.int(4) }, () => [
          r.pick(['t', 'id', 'op', 'a', 'sub', 'query']),
          randomValue(r, depth + 1),
        ]),
      );
    default:
      return nest(r.int(100), randomValue(r, depth + 1));
  }
}
function nest(depth: number, value: unknown): unknown {
  let v = value;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { filter: v };
  return v;
}

/** Mutates a plain structure in place at one random place; returns it (or its replacement). */
function mutateStructure(r: Rng, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array || value instanceof Date)
    return r.next() < 0.2 ? value : randomValue(r);
  const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  if (keys.length === 0) return randomValue(r);
  const key = r.pick(keys as (string | number)[]);
  const target = value as Record<string | number, unknown>;
  switch (r.int(5)) {
    case 0:
      if (Array.isArray(value)) value.splice(key as number, 1);
      else delete target[key];
      return value;
    case 1:
      target[key] = randomValue(r);
      return value;
    case 2:
      target[key] = nest(r.pick([40, 70, 200, 1000]), target[key]);
      return value;
    case 3:
      if (Array.isArray(value)) value.push(randomValue(r));
      else
        Object.defineProperty(target, r.pick(['extra', 'x', 't', '__proto__']), {
          value: randomValue(r),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      return value;
    default:
      target[key] = mutateStructure(r, target[key]);
      return value;
  }
}

function mutateBytes(r: Rng, bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  switch (r.int(4)) {
    case 0:
      for (let i = 0, n = 1 + r.int(4); i < n && out.length > 0; i++) out[r.int(out.length)] = r.int(256);
      return out;
    case 1:
      return out.subarray(0, r.int(out.length + 1));
    case 2: {
      const at = r.int(out.length + 1);
      const insert = r.pick([
        Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff),
        Uint8Array.of(0xdf, 0x7f, 0xff, 0xff, 0xff),
        Uint8Array.of(0xc6, 0xff, 0xff, 0xff, 0xff),
        new Uint8Array(1000).fill(0x91),
        Uint8Array.of(0xc1),
      ]);
      return Uint8Array.from([...out.subarray(0, at), ...insert, ...out.subarray(at)]);
    }
    default:
      out[0] = r.int(4);
      return out;
  }
}

/** What one run found. */
export interface ProtocolFuzzReport {
  readonly frames: number;
  readonly errorCodes: Readonly<Record<string, number>>;
  readonly accepted: number;
}

/** Options of {@link fuzzProtocol}. */
export interface ProtocolFuzzOptions {
  readonly server: LoamServer;
  readonly seed: number;
  readonly frames: number;
  /** Called every 100 frames (progress for long runs). */
  readonly progress?: (done: number) => void;
}

/** A failure of the fuzz: the seed and frame that found it, and what was wrong. */
export class ProtocolFuzzFailure extends Error {}

/** Runs `frames` mutated frames; throws {@link ProtocolFuzzFailure} at the first broken expectation. */
export async function fuzzProtocol(options: ProtocolFuzzOptions): Promise<ProtocolFuzzReport> {
  const { server, seed } = options;
  const r = rng(seed);
  const errorCodes: Record<string, number> = {};
  let accepted = 0;
  const legit = testDevice();
  const legitClient = await connectClient(server.wsUrl);
  await legitClient.hello({
    replica: legit.replica,
    token: await mintToken({ sub: 'fuzz-ok', role: 'manager' }),
  });
  let legitBatch = 0;
  const checkServing = async (at: number) => {
    const { ops } = legit.insert('orders', { storeId: 'fz', owner: 'fuzz-ok', total: at });
    const ack = await legitClient.push(++legitBatch, ops);
    if (ack.refused.length > 0) fail(at, `a valid push was refused: ${JSON.stringify(ack.refused)}`);
    accepted++;
  };
  /** A fresh connection; the per-address handshake rate (429) is waited out, anything else fails the run. */
  const connect = async (at: number): Promise<ProtocolClient> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await connectClient(server.wsUrl);
      } catch (error) {
        const message = (error as Error).message;
        if (!message.includes('HTTP 429') || attempt > 50)
          fail(at, `the relay refused a connection: ${message}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  const fail = (at: number, what: string): never => {
    throw new ProtocolFuzzFailure(`seed ${seed}, frame ${at}: ${what}`);
  };

  try {
    for (let i = 0; i < options.frames; i++) {
      const device = testDevice();
      // A user per frame: a user whose connections keep sending refused frames is cooled down (too_many_bad_frames,
      // tested in limits.test.ts), and the fuzz is here to reach the decoders.
      const token = await mintToken({
        sub: `fuzz${r.int(5)}-${i}`,
        role: r.pick(['manager', 'clerk', 'x']),
      });
      const signIn = r.next() < 0.6;
      const ops: Op[] = [];
      for (let k = 0, n = 1 + r.int(3); k < n; k++) {
        const w = device.insert('orders', { storeId: 'fz', owner: 'fuzz', total: k });
        ops.push(...w.ops);
        if (r.next() < 0.3) ops.push(...device.update('orders', w.id, { total: 9 }));
      }
      const valid: Record<string, unknown>[] = [
        {
          t: 'hello',
          protocol: PROTOCOL_VERSION,
          replica: device.replica,
          token,
          schemaVersion: 1,
          cursor: 0,
          subs: [
            { id: 's', query: { collection: 'orders', filter: { op: 'eq', field: 'storeId', value: 'fz' } } },
          ],
        },
        { t: 'push', batch: 1, ops: encodeOps(ops) },
        { t: 'subscribe', sub: { id: 'q', query: { collection: 'orders' } } },
        { t: 'unsubscribe', id: 'q' },
        { t: 'auth', token },
        { t: 'ping' },
        { t: 'ack', batch: 1, accepted: [], refused: [] },
      ];
      const base = r.pick(valid);
      let frame: Uint8Array;
      const how = r.int(4);
      if (how === 0) frame = mutateBytes(r, encodeMessage(base as never));
      else if (how === 1 && base.t === 'push') {
        const tuples = decode(encodeOps(ops).subarray(1));
        const opsBytes =
          r.next() < 0.5
            ? mutateBytes(r, encodeOps(ops))
            : Uint8Array.of(1, ...encoder.encode(mutateStructure(r, tuples)));
        frame = encodeMessage({ ...base, ops: opsBytes } as never);
      } else {
        const body = mutateStructure(r, structuredClone(base));
        frame = Uint8Array.of(PROTOCOL_VERSION, ...encoder.encode(body));
      }

      const before = server.relay.version();
      const c = await connect(i);
      try {
        if (signIn) await c.hello({ replica: device.replica, token });
        c.sendRaw(frame);
        c.send({ t: 'ping' });
        const outcome = await Promise.race([
          c.next('pong', undefined, 20_000).then(() => 'pong'),
          c.closed.then(() => 'closed'),
        ]);
        if (outcome !== 'pong' && outcome !== 'closed') fail(i, 'no answer');
        for (const m of c.received) {
          if (m.t === 'error') {
            errorCodes[m.code] = (errorCodes[m.code] ?? 0) + 1;
            if (!KNOWN_CODES.has(m.code)) fail(i, `unknown error code ${m.code}`);
            if (m.code === WireErrorCode.serverStorage) fail(i, `internal error: ${m.message}`);
          }
        }
        const acked = c.received.filter((m) => m.t === 'ack' && m.accepted.length > 0).length;
        const moved = server.relay.version() - before;
        if (moved > acked) fail(i, `the relay's version moved by ${moved} with ${acked} accepted batches`);
      } finally {
        c.close();
      }
      if (i % 50 === 49) await checkServing(i);
      if (i % 100 === 99) options.progress?.(i + 1);
    }
    await checkServing(options.frames);
  } finally {
    legitClient.close();
  }
  return { frames: options.frames, errorCodes, accepted };
}
