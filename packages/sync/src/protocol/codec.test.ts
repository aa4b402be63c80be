import { asReplicaId, encodeOps } from '@loam/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../errors';
import { decodeClientMessage, decodeServerMessage, encodeMessage } from './codec';
import { type ClientMessage, PROTOCOL_VERSION, type ServerMessage } from './messages';

const replica = asReplicaId('client0000000000');
const clientMessages: ClientMessage[] = [
  {
    t: 'hello',
    protocol: PROTOCOL_VERSION,
    replica,
    token: 'a.b.c',
    schemaVersion: 3,
    cursor: 42,
    subs: [{ id: 's1', query: { collection: 'orders', filter: { op: 'eq', field: 'storeId', value: 101 } } }],
  },
  { t: 'push', batch: 7, ops: encodeOps([]) },
  { t: 'subscribe', sub: { id: 'catalog', query: { collection: 'products' } } },
  { t: 'unsubscribe', id: 'catalog' },
  { t: 'auth', token: 'x.y.z' },
  { t: 'ping' },
  { t: 'announce', addresses: ['192.168.1.20:47800'] },
  { t: 'signal', to: asReplicaId('peer000000000000'), data: '{"type":"offer","sdp":"v=0"}' },
];
const serverMessages: ServerMessage[] = [
  {
    t: 'welcome',
    protocol: 1,
    server: asReplicaId('server0000000000'),
    cursor: 9,
    reset: false,
    user: 'anon:1',
  },
  {
    t: 'ack',
    batch: 7,
    accepted: ['client0000000000:1'],
    refused: [
      { op: 'client0000000000:2', collection: 'products', doc: 'p1', code: 'field_denied', reason: 'price' },
    ],
  },
  {
    t: 'ack',
    batch: 8,
    accepted: [],
    refused: [
      { op: 'client0000000000:3', collection: 'products', doc: 'p2', code: 'field_denied', reason: 'price' },
      { op: 'client0000000000:4', collection: 'orders', doc: 'o2', code: 'insert_denied', reason: 'no' },
    ],
    corrections: {
      docs: [{ collection: 'products', id: 'p2', state: Uint8Array.of(3), mode: 'replace' }],
      removed: [{ collection: 'orders', id: 'o2' }],
    },
  },
  {
    t: 'docs',
    cursor: 10,
    docs: [{ collection: 'products', id: 'p1', state: Uint8Array.of(1, 2), mode: 'replace' }],
    removed: [{ collection: 'orders', id: 'o1' }],
    sub: 's1',
    progress: { sent: 1, total: 5 },
  },
  { t: 'synced', sub: 's1', cursor: 10 },
  {
    t: 'forwarded',
    batch: 2,
    txs: [
      { replica: asReplicaId('peer000000000000'), seq: 4 },
      {
        replica: asReplicaId('peer000000000000'),
        seq: 5,
        code: 'cert_revoked',
        reason: 'revoked',
        ops: ['peer000000000000:5'],
      },
    ],
    corrections: { docs: [], removed: [{ collection: 'products', id: 'p5' }] },
  },
  {
    t: 'permissions',
    rules: {
      products: {
        roles: [
          {
            name: 'cashier',
            read: true,
            write: true,
            insert: false,
            delete: false,
            fields: { write: ['stock'] },
          },
        ],
      },
      orders: {
        roles: [
          {
            name: 'cashier',
            read: { op: 'eq', field: 'storeId', value: '%%user.storeId' },
            write: { op: 'eq', field: 'storeId', value: '%%user.storeId' },
            insert: true,
            delete: false,
          },
        ],
      },
    },
    claims: { sub: 'store-1/terminal-1', role: 'cashier', storeId: 'store-1', exp: 1_900_000_000 },
  },
  { t: 'pong' },
  {
    t: 'roster',
    peers: [
      {
        replica: asReplicaId('peer000000000000'),
        user: 'till-2',
        online: true,
        addresses: ['192.168.1.21:47800'],
        lastSeen: 1_700_000_000_000,
        certificate: new Uint8Array([1, 2, 3]),
        certificateSig: new Uint8Array(64).fill(7),
      },
      { replica, user: 'till-1', online: false, addresses: [], lastSeen: 1_700_000_000_000 },
    ],
  },
  { t: 'signal', from: asReplicaId('peer000000000000'), data: '{"type":"answer"}' },
  { t: 'error', code: 'auth_expired', message: 'Token expired', fatal: true },
];

function failure(decode: () => unknown): string {
  try {
    decode();
    return 'ok';
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw new Error(`untyped error: ${e}`);
    return e.code;
  }
}

describe('protocol codec', () => {
  it('round-trips every message in both directions', () => {
    for (const m of clientMessages) expect(decodeClientMessage(encodeMessage(m))).toEqual(m);
    for (const m of serverMessages) expect(decodeServerMessage(encodeMessage(m))).toEqual(m);
  });

  it('refuses wrong versions, oversized frames, unknown types and wrong field types with typed codes', () => {
    const hello = encodeMessage(clientMessages[0] as ClientMessage);
    expect(
      failure(() => decodeClientMessage(Uint8Array.of(PROTOCOL_VERSION + 1, ...hello.subarray(1)))),
    ).toBe('protocol_version');
    expect(failure(() => decodeClientMessage(hello, 10))).toBe('frame_too_large');
    expect(failure(() => decodeClientMessage(hello.subarray(0, hello.length - 3)))).toBe('frame_invalid');
    expect(failure(() => decodeClientMessage(encodeMessage({ t: 'nope' } as never)))).toBe('frame_invalid');
    expect(failure(() => decodeClientMessage(encodeMessage(serverMessages[0] as ServerMessage)))).toBe(
      'frame_invalid',
    );
    expect(
      failure(() =>
        decodeClientMessage(encodeMessage({ ...(clientMessages[0] as object), replica: 'me' } as never)),
      ),
    ).toBe('frame_invalid');
    expect(
      failure(() =>
        decodeClientMessage(encodeMessage({ t: 'push', batch: -1, ops: new Uint8Array() } as never)),
      ),
    ).toBe('frame_invalid');
    expect(
      failure(() =>
        decodeClientMessage(
          encodeMessage({
            t: 'subscribe',
            sub: { id: 'x', query: { collection: 'orders', filter: { op: 'regex' } } },
          } as never),
        ),
      ),
    ).toBe('frame_invalid');
    expect(failure(() => decodeClientMessage(encodeMessage({ t: 'ping', extra: 1 } as never)))).toBe(
      'frame_invalid',
    );
    const permissions = serverMessages.find((m) => m.t === 'permissions') as ServerMessage;
    for (const broken of [
      { ...permissions, rules: { products: { roles: [{ name: 'x', read: true }] } } },
      {
        ...permissions,
        rules: {
          products: { roles: [{ name: 'x', read: '%%typo', write: false, insert: false, delete: false }] },
        },
      },
      { ...permissions, claims: 'cashier' },
      { t: 'permissions', rules: {} },
    ])
      expect(failure(() => decodeServerMessage(encodeMessage(broken as never)))).toBe('frame_invalid');
  });

  it('gives a typed error for any random or corrupted frame', () => {
    const valid = clientMessages.map(encodeMessage);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        failure(() => decodeClientMessage(bytes));
        failure(() => decodeServerMessage(bytes));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.nat({ max: valid.length - 1 }), fc.nat(), fc.nat({ max: 255 }), (which, at, byte) => {
        const frame = (valid[which] as Uint8Array).slice();
        frame[at % frame.length] = byte;
        failure(() => decodeClientMessage(frame));
      }),
      { numRuns: 2000 },
    );
  });
});
