import type { ReplicaId } from '@loam/core';
import type { PeerInfo } from '@loam/sync';
import { describe, expect, it } from 'vitest';
import { peerViews } from './peer-host';

const connection = (id: number, patch: Partial<PeerInfo>): PeerInfo & { id: number } => ({
  id,
  replica: undefined,
  user: undefined,
  state: 'authenticating',
  lastSeen: 0,
  opsSent: 0,
  opsReceived: 0,
  txsRefused: 0,
  ...patch,
});
const till2 = 'till2replica0002' as ReplicaId;
const till3 = 'till3replica0003' as ReplicaId;

describe('the peer list the app sees', () => {
  it('shows one entry per peer device: the newest connection’s state, the ops of all of them', () => {
    const views = peerViews([
      connection(3, { replica: till2, state: 'live', lastSeen: 50, opsSent: 1, opsReceived: 2 }),
      connection(1, {
        replica: till2,
        user: 'till-2',
        state: 'closed',
        lastSeen: 90,
        opsSent: 10,
        txsRefused: 1,
      }),
      connection(2, {
        replica: till3,
        user: 'till-3',
        state: 'refused',
        refusal: { code: 'cert_expired', reason: 'expired', by: 'us' },
      }),
    ]);
    expect(views).toEqual([
      connection(3, {
        replica: till2,
        user: 'till-2',
        state: 'live',
        lastSeen: 90,
        opsSent: 11,
        opsReceived: 2,
        txsRefused: 1,
      }),
      connection(2, {
        replica: till3,
        user: 'till-3',
        state: 'refused',
        refusal: { code: 'cert_expired', reason: 'expired', by: 'us' },
      }),
    ]);
  });

  it('lists a connection still authenticating on its own, and drops those that ended before saying who it was', () => {
    const refused = { code: 'protocol_order', reason: 'Expected hello first', by: 'us' as const };
    expect(
      peerViews([
        connection(1, {}),
        connection(2, { state: 'closed' }),
        connection(3, { state: 'refused', refusal: refused }),
      ]),
    ).toEqual([connection(1, {})]);
  });
});
