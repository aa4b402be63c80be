/**
 * Signaling between peers through the relay: which welcomed sessions may reach each other, the forwarding of
 * their SDP/ICE messages, and each device's roster (the peers of its group, with their last LAN addresses).
 *
 * Invariants:
 * 1. **Only peers reach each other.** A `signal` is forwarded only to a session that is online on this relay and
 *    in the sender's peer group (`peerGroup` of `@loam/core` over the `peers` rules and each session's claims);
 *    otherwise nothing is forwarded and the sender learns it (`forward` returns false).
 * 2. **A device sees only its group.** A roster lists the members of the device's group (itself excluded), never
 *    another group's; a device that may not peer gets no roster and joins no group.
 * 3. **The newest session of a replica wins.** When a replica signs in again before its old session closed, the
 *    new one receives its signals; the old one's departure does not take the replica offline.
 * 4. **Rosters follow changes.** Every online member of a group gets a fresh roster when a member joins, leaves,
 *    announces addresses or is issued a certificate.
 * 5. **Rosters carry certificates**: each member's newest device certificate as the relay signed it (bytes and
 *    signature), so a peer can check whom it dials, offline, before any SDP (the desktop shell pins its key).
 *
 * The roster lives in this process's memory: after a restart it fills again as devices sign in; with several
 * relay nodes, signaling reaches only sessions on the same node.
 */
import { type Claims, type PeerRules, peerGroup, type ReplicaId } from '@loam/core';
import type { RosterPeer, ServerMessage } from '@loam/sync';

/** A session as the hub knows it. */
export interface SignalingSession {
  readonly replica: ReplicaId;
  readonly user: string;
  readonly claims: Claims;
  readonly send: (message: ServerMessage) => void;
}

/** A session's membership of its peer group. */
export interface SignalingMember {
  /** Forwards `data` to peer `to`; false when `to` is not an online member of the group (nothing is sent). */
  forward(to: ReplicaId, data: string): boolean;
  /** Records this device's LAN signaling addresses and sends the group fresh rosters. */
  announce(addresses: readonly string[]): void;
  /** Records the certificate the relay just issued this device and sends the group fresh rosters. */
  certified(certificate: Uint8Array, signature: Uint8Array): void;
  /** Leaves the group (the session closed, or its claims changed); idempotent. */
  leave(): void;
}

/** The signaling hub of one relay process. */
export interface SignalingHub {
  /** Adds a welcomed session to its peer group; undefined when its claims let it peer with nobody. */
  join(session: SignalingSession): SignalingMember | undefined;
}

interface Known {
  user: string;
  addresses: readonly string[];
  lastSeen: number;
  session: SignalingSession | undefined;
  certificate: { readonly bytes: Uint8Array; readonly signature: Uint8Array } | undefined;
}

/** Creates the hub over the `peers` rules (absent: no device may peer). */
export function createSignalingHub(options: {
  readonly rules: PeerRules | undefined;
  readonly now: () => number;
}): SignalingHub {
  const groups = new Map<string, Map<ReplicaId, Known>>();

  const rosterOf = (group: Map<ReplicaId, Known>, self: ReplicaId): RosterPeer[] =>
    [...group]
      .filter(([replica]) => replica !== self)
      .map(([replica, k]) => ({
        replica,
        user: k.user,
        online: k.session !== undefined,
        addresses: k.addresses,
        lastSeen: k.session ? options.now() : k.lastSeen,
        ...(k.certificate
          ? { certificate: k.certificate.bytes, certificateSig: k.certificate.signature }
          : {}),
      }));
  const publish = (group: Map<ReplicaId, Known>) => {
    for (const [replica, k] of group) k.session?.send({ t: 'roster', peers: rosterOf(group, replica) });
  };

  return {
    join(session) {
      const key = peerGroup(options.rules, session.claims);
      if (key === undefined) return undefined;
      let group = groups.get(key);
      if (!group) {
        group = new Map();
        groups.set(key, group);
      }
      const members = group;
      const known = members.get(session.replica);
      const entry: Known = {
        user: session.user,
        addresses: known?.addresses ?? [],
        lastSeen: options.now(),
        session,
        certificate: known?.certificate,
      };
      members.set(session.replica, entry);
      publish(members);
      let left = false;
      return {
        forward(to, data) {
          if (left) return false;
          const target = members.get(to)?.session;
          if (!target || to === session.replica) return false;
          target.send({ t: 'signal', from: session.replica, data });
          return true;
        },
        announce(addresses) {
          if (left || entry.session !== session) return;
          entry.addresses = [...addresses];
          entry.lastSeen = options.now();
          publish(members);
        },
        certified(bytes, signature) {
          if (left || entry.session !== session) return;
          entry.certificate = { bytes, signature };
          publish(members);
        },
        leave() {
          if (left) return;
          left = true;
          if (entry.session !== session || members.get(session.replica) !== entry) return;
          entry.session = undefined;
          entry.lastSeen = options.now();
          publish(members);
        },
      };
    },
  };
}
