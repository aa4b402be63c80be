import { describe, expect, it } from 'vitest';
import { RulesError } from '../errors';
import { mayPeer, peerGroup, validatePeerRules } from './peers';

describe('peers rules', () => {
  const rules = validatePeerRules({
    sameClaims: ['storeId'],
    applyWhen: { op: 'eq', field: 'device', value: true },
  });

  it('lets the devices of one store peer, and no one else', () => {
    const till = (storeId: unknown, device = true) => ({ sub: 'u', storeId, device });
    expect(mayPeer(rules, till(101), till(101))).toBe(true);
    expect(mayPeer(rules, till(101), till(102))).toBe(false);
    expect(mayPeer(rules, till(101), till(101, false))).toBe(false);
    expect(mayPeer(rules, till(undefined), till(undefined))).toBe(false);
    expect(mayPeer(rules, till({ id: 1 }), till({ id: 1 }))).toBe(false);
    expect(mayPeer(undefined, till(101), till(101))).toBe(false);
    expect(peerGroup(rules, till('101'))).not.toBe(peerGroup(rules, till(101)));
  });

  it('reads nested claim paths', () => {
    const nested = validatePeerRules({ sameClaims: ['store.id'] });
    expect(mayPeer(nested, { store: { id: 'a' } }, { store: { id: 'a' } })).toBe(true);
    expect(mayPeer(nested, { store: { id: 'a' } }, { store: { id: 'b' } })).toBe(false);
  });

  it('refuses malformed rules with a message naming the key', () => {
    expect(() => validatePeerRules({ sameClaims: 'storeId' })).toThrow(/peers.sameClaims/);
    expect(() => validatePeerRules({ sameClaims: [], extra: 1 })).toThrow(RulesError);
    expect(() => validatePeerRules({ sameClaims: [''] })).toThrow(/peers.sameClaims\[0\]/);
    expect(() =>
      validatePeerRules({ sameClaims: [], applyWhen: { op: 'eq', field: 'a', value: '%%user.sub' } }),
    ).toThrow(/placeholders/);
  });
});
