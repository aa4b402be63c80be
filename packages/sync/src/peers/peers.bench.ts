/**
 * Peer sync (`npm run bench -- peers`), Node, better-sqlite3 files, certificates minted with a relay key made
 * here (no relay runs: peers work without it):
 * - sign and verify cost per transaction (target ≤ 0.2 ms each); baseline: a bare Ed25519 signature (verify) of
 *   the same bytes, so the ratio is the cost of the format (digest, certificate checks, decoding); verify also
 *   as a session checks a received batch (its transactions' signatures side by side);
 * - change latency between two replicas over a WebRTC data channel (simple-peer on @roamhq/wrtc), once live
 *   (target p50 ≤ 10 ms, p99 ≤ 50 ms); baseline: one raw frame of the same size over another data channel;
 * - catch-up of 20k ops by a replica that connects late (target ≤ 5 s); baseline: writing the same ops locally;
 * - the size of a version-vector frame with 20 replicas; baseline: the same vector as JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createClock,
  createReplicaId,
  createWriter,
  defineSchema,
  encodeOps,
  f,
  type Rules,
  writeIntent,
} from '@loam/core';
import { createBetterSqlite3Storage, type Engine, openEngine } from '@loam/store/node';
import wrtc from '@roamhq/wrtc';
import SimplePeer from 'simple-peer';
import { type Bench, percentile } from '../../../../test/bench/bench';
import type { Transport } from '../transport/transport';
import { createSimplePeerTransport, type SimplePeerLike } from '../transport/transport-simple-peer';
import { issueCertificate, readSignedCertificate } from './certificate';
import { nodeEd25519 } from './ed25519-node';
import { createSigningKeys, type SigningKeys, sign, useEd25519Engine, verify } from './keys';
import { encodePeerMessage } from './peer-codec';
import { createPeers, type Peers } from './peers';
import { signTransaction, verifyTransaction } from './signed-transaction';
import { certifyForTest } from './test-certify';

const schema = defineSchema({
  version: 1,
  collections: { items: { fields: { name: f.string(), price: f.number(), stock: f.counter() } } },
});
const rules: Rules = {
  items: { roles: [{ name: 'all', read: true, write: true, insert: true, delete: true }] },
};
const DAY = 86_400_000;

interface Node {
  readonly engine: Engine<typeof schema>;
  readonly peers: Peers;
}

async function certified(dir: string, relay: SigningKeys, name: string): Promise<Node> {
  const keys = await createSigningKeys();
  const engine = await openEngine({
    driver: await createBetterSqlite3Storage({ filename: join(dir, `${name}.db`) }),
    schema,
    keys,
  });
  await certifyForTest(engine, keys, relay, { serial: 1, user: name, rules });
  return { engine, peers: createPeers({ store: engine.syncStore, keys, rules }) };
}

/** Two data channels being connected, as transports. */
async function wrtcPair(): Promise<{ a: Transport; b: Transport; close(): void }> {
  const x = new SimplePeer({ initiator: true, wrtc, config: { iceServers: [] } });
  const y = new SimplePeer({ wrtc, config: { iceServers: [] } });
  x.on('signal', (d) => y.signal(d));
  y.on('signal', (d) => x.signal(d));
  return {
    a: createSimplePeerTransport(x as unknown as SimplePeerLike),
    b: createSimplePeerTransport(y as unknown as SimplePeerLike),
    close: () => {
      x.destroy();
      y.destroy();
    },
  };
}

const waitFor = async (
  check: () => boolean | Promise<boolean>,
  what = () => 'a condition',
  timeoutMs = 60_000,
) => {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 1));
  }
};

async function withNodes<T>(names: string[], fn: (nodes: Node[]) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'loam-peers-bench-'));
  const relay = await createSigningKeys();
  const nodes: Node[] = [];
  // WebRTC's native threads do not keep Node's event loop alive while a bench awaits a data channel.
  const alive = setInterval(() => undefined, 1000);
  try {
    for (const name of names) nodes.push(await certified(dir, relay, name));
    return await fn(nodes);
  } finally {
    clearInterval(alive);
    for (const n of nodes) {
      n.peers.close();
      await n.engine.close();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

const TXS = 2_000;

/** Transactions verified side by side, as a peer session checks a received `txs` frame. */
const BATCH = 64;

async function signVerify(which: 'sign' | 'verify' | 'verify-batch') {
  const relay = await createSigningKeys();
  const device = await createSigningKeys();
  const replica = createReplicaId();
  const cert = await issueCertificate(relay.privateKey, {
    serial: 1,
    replica,
    publicKey: device.publicKey,
    user: 'u',
    claims: { role: 'cashier' },
    rulesVersion: 1,
    notBefore: Date.now() - DAY,
    expires: Date.now() + DAY,
  });
  const signed = readSignedCertificate(cert.bytes, cert.signature);
  const writer = createWriter({ schema, clock: createClock({ replica }) });
  const txs = Array.from({ length: TXS }, (_, i) =>
    encodeOps(
      writer.write(writeIntent.insert('items', { id: `i${i}`, name: `item ${i}`, price: i }), undefined).ops,
    ),
  );
  const sigs = await Promise.all(txs.map((ops) => signTransaction(device.privateKey, ops)));
  const bare = await Promise.all(txs.map((ops) => sign(device.privateKey, ops)));
  const trust = { relayKey: relay.publicKey, now: Date.now, revoked: () => false };
  const check = (i: number) =>
    verifyTransaction({ ops: txs[i] as Uint8Array, signature: sigs[i] as Uint8Array }, signed, trust, {
      maxSkewMs: 60_000,
    });
  // Loam as a Node app runs it (`@loam/sync/node` installs node:crypto's Ed25519 signing), against bare WebCrypto.
  useEd25519Engine(nodeEd25519);
  let start = performance.now();
  if (which === 'sign') for (const ops of txs) await signTransaction(device.privateKey, ops);
  else if (which === 'verify-batch')
    for (let i = 0; i < TXS; i += BATCH)
      await Promise.all(Array.from({ length: Math.min(BATCH, TXS - i) }, (_, k) => check(i + k)));
  else
    for (let i = 0; i < TXS; i++)
      await verifyTransaction(
        { ops: txs[i] as Uint8Array, signature: sigs[i] as Uint8Array },
        signed,
        trust,
        {
          maxSkewMs: 60_000,
        },
      );
  const ours = (performance.now() - start) / TXS;
  useEd25519Engine(undefined);
  start = performance.now();
  if (which === 'sign') for (const ops of txs) await sign(device.privateKey, ops);
  else if (which === 'verify-batch')
    for (let i = 0; i < TXS; i += BATCH)
      await Promise.all(
        Array.from({ length: Math.min(BATCH, TXS - i) }, (_, k) =>
          verify(device.publicKey, bare[i + k] as Uint8Array, txs[i + k] as Uint8Array),
        ),
      );
  else
    for (let i = 0; i < TXS; i++) await verify(device.publicKey, bare[i] as Uint8Array, txs[i] as Uint8Array);
  const raw = (performance.now() - start) / TXS;
  return {
    figure: ours,
    unit: 'ms/tx',
    higherIsBetter: false,
    baseline: {
      name: `bare WebCrypto Ed25519 ${which === 'sign' ? 'sign' : 'verify'} of the encoded ops`,
      figure: raw,
    },
    notes: `${TXS} one-op transactions, ${which === 'verify-batch' ? `${BATCH} at a time` : 'sequential'}; target ≤ 0.2 ms: ${ours <= 0.2 ? 'met' : 'MISSED'}`,
  };
}

export const benches: Bench[] = [
  { name: 'peers: sign one transaction (digest + Ed25519)', run: () => signVerify('sign') },
  {
    name: 'peers: verify one transaction (certificate, signature, decode, replica, skew)',
    run: () => signVerify('verify'),
  },
  {
    name: `peers: verify one transaction of a received batch (${BATCH} side by side, as a session does)`,
    run: () => signVerify('verify-batch'),
  },
  {
    name: 'peers: change latency over a WebRTC data channel (simple-peer, @roamhq/wrtc)',
    run: () =>
      withNodes(['a', 'b'], async ([a, b]) => {
        const pair = await wrtcPair();
        try {
          (a as Node).peers.connect(pair.a);
          (b as Node).peers.connect(pair.b);
          await waitFor(
            () =>
              (a as Node).peers.list()[0]?.state === 'live' && (b as Node).peers.list()[0]?.state === 'live',
            () => `live peers: ${JSON.stringify([(a as Node).peers.list(), (b as Node).peers.list()])}`,
          );
          const samples: number[] = [];
          for (let i = 0; i < 300; i++) {
            const arrived = new Promise<void>((resolve) => {
              const off = (b as Node).engine.syncStore.onPeerLog(() => {
                off();
                resolve();
              });
            });
            const start = performance.now();
            await (a as Node).engine.insert('items', { id: `x${i}`, name: 'tea', price: i });
            await arrived;
            samples.push(performance.now() - start);
          }
          const raw = await wrtcPair();
          const rawSamples: number[] = [];
          try {
            await new Promise<void>((r) => raw.b.onOpen(r));
            const frame = new Uint8Array(300);
            let resolveFrame: () => void = () => undefined;
            raw.b.onFrame(() => resolveFrame());
            for (let i = 0; i < 300; i++) {
              const got = new Promise<void>((r) => {
                resolveFrame = r;
              });
              const start = performance.now();
              raw.a.send(frame);
              await got;
              rawSamples.push(performance.now() - start);
            }
          } finally {
            raw.close();
          }
          const p50 = percentile(samples, 50);
          const p99 = percentile(samples, 99);
          return {
            figure: p50,
            unit: 'ms p50',
            higherIsBetter: false,
            baseline: {
              name: 'one raw 300-byte frame over a data channel, p50',
              figure: percentile(rawSamples, 50),
            },
            notes: `p99 ${p99.toFixed(2)} ms over 300 inserts (write, sign, send, verify, screen, apply); targets p50 ≤ 10 ms: ${p50 <= 10 ? 'met' : 'MISSED'}, p99 ≤ 50 ms: ${p99 <= 50 ? 'met' : 'MISSED'}`,
          };
        } finally {
          pair.close();
        }
      }),
  },
  {
    name: 'peers: catch-up of 20,000 ops by a replica that connects late (WebRTC)',
    run: () =>
      withNodes(['a', 'b', 'c'], async ([a, b, c]) => {
        const OPS = 20_000;
        const PER_TX = 10;
        const write = async (n: Node) => {
          const start = performance.now();
          for (let t = 0; t < OPS / PER_TX; t++)
            await n.engine.insertMany(
              'items',
              Array.from({ length: PER_TX }, (_, i) => ({ name: `item ${t}-${i}`, price: i })),
            );
          return performance.now() - start;
        };
        await write(a as Node);
        const local = await write(c as Node);
        const pair = await wrtcPair();
        try {
          const start = performance.now();
          (a as Node).peers.connect(pair.a);
          (b as Node).peers.connect(pair.b);
          await waitFor(
            async () =>
              ((await (b as Node).engine.syncStore.peerVector())[(a as Node).engine.replica] ?? 0) >= OPS,
          );
          const took = performance.now() - start;
          return {
            figure: took,
            unit: 'ms',
            higherIsBetter: false,
            baseline: { name: 'the same 20,000 ops written locally', figure: local },
            notes: `${OPS / PER_TX} transactions of ${PER_TX} inserts; ${((OPS / took) * 1000).toFixed(0)} ops/s; target ≤ 5 s: ${took <= 5000 ? 'met' : 'MISSED'}`,
          };
        } finally {
          pair.close();
        }
      }),
  },
  {
    name: 'peers: version-vector frame with 20 replicas',
    run() {
      const v: Record<string, number> = {};
      for (let i = 0; i < 20; i++) v[createReplicaId()] = 1_000_000 + i * 7919;
      return {
        figure: encodePeerMessage({ t: 'vector', v }).length,
        unit: 'bytes',
        higherIsBetter: false,
        baseline: { name: 'the same vector as JSON', figure: JSON.stringify({ t: 'vector', v }).length },
        notes: 'replica ids of 16 characters, sequence numbers around 10^6',
      };
    },
  },
];
