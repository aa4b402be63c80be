/**
 * The peer engine of the leader's worker (`createPeers` of `@loam/sync`), served to every tab: the list of peers
 * as a watch, and the ports of WebRTC links the leader tab's main thread hands over (`RTCPeerConnection` does not
 * exist in workers, so the page owns the data channel and pipes its bytes here over a `MessagePort`).
 *
 * Invariants:
 * 1. **One peer engine per leadership**, beside the engine and the sync client, signing with the device key the
 *    engine signs with; a new leader's worker starts its own, and the leader tab dials its links again.
 * 2. **One entry per peer.** A peer reconnects many times; the list shows, per replica, the newest connection's
 *    state with the ops exchanged over all of them ({@link PeerView}). Connections still authenticating (replica
 *    unknown) are listed on their own; ended ones of an unknown replica (closed, or refused before the peer said
 *    who it was) are not: the link layer dials again, and the list would only grow.
 * 3. **Without peers** the list is empty and `attach` rejects with `peers_not_configured`.
 * 4. **The rules are the relay's, read as it reads them** (`validateRules`: malformed rules fail the open with
 *    `rules_invalid`), so both compute the same rules version and peers are not refused for a formatting detail.
 * 5. **The device key signs LAN proofs only through `signLanProof`** (`@loam/sync`'s `lan-proof.ts`): a digest of
 *    fixed size under a label of its own, so a signaling layer asking for proofs can never obtain a transaction's
 *    or a peer challenge's signature.
 */
import { validateRules } from '@loam/core';
import {
  createMessagePortTransport,
  createPeers,
  loadCredentials,
  type MessagePortLike,
  type PeerInfo,
  type Peers,
  type SigningKeys,
  type SyncStore,
  signLanProof,
} from '@loam/sync';
import { PeersNotConfiguredError } from './errors';
import type { DeviceIdentity, PeersConfig, PeerView } from './protocol';

/** A worker's peer engine, as the API and the watches reach it. */
export interface PeerHost {
  /** The engine's peers (passed to the sync client, whose status counts them); undefined without peers. */
  readonly peers: Peers | undefined;
  /** Runs the peer protocol over the worker's end of a link (see `createMessagePortTransport`). */
  attach(port: MessagePortLike): void;
  /** Calls `listener` with the current list now, then after each change. Returns the unsubscribe function. */
  watchPeers(listener: (peers: readonly PeerView[]) => void): () => void;
  /**
   * This device as peers check it; undefined until the relay certified it (it must sign in once). Rejects with
   * `peers_not_configured` without peers.
   */
  identity(): Promise<DeviceIdentity | undefined>;
  /** Signs a LAN signaling digest (exactly 32 bytes, else `lan_proof_invalid`) with the device key (invariant 5). */
  signLanProof(digest: Uint8Array): Promise<Uint8Array>;
  /** Closes every peer connection. */
  close(): void;
}

/** Folds a replica's connections into one {@link PeerView} each (invariant 2). */
export function peerViews(connections: readonly (PeerInfo & { readonly id: number })[]): PeerView[] {
  const byReplica = new Map<string, PeerView>();
  const anonymous: PeerView[] = [];
  for (const c of [...connections].sort((a, b) => a.id - b.id)) {
    if (c.replica === undefined) {
      if (c.state === 'authenticating') anonymous.push(c);
      continue;
    }
    const before = byReplica.get(c.replica);
    byReplica.set(
      c.replica,
      before
        ? {
            ...c,
            user: c.user ?? before.user,
            lastSeen: Math.max(c.lastSeen, before.lastSeen),
            opsSent: c.opsSent + before.opsSent,
            opsReceived: c.opsReceived + before.opsReceived,
            txsRefused: c.txsRefused + before.txsRefused,
          }
        : c,
    );
  }
  return [...byReplica.values(), ...anonymous];
}

/** Hosts the peer engine of `store` (none when `config` is undefined). */
export function createPeerHost(
  store: SyncStore,
  keys: SigningKeys | undefined,
  config: PeersConfig | undefined,
): PeerHost {
  if (!config || !keys) {
    return {
      peers: undefined,
      attach() {
        throw new PeersNotConfiguredError();
      },
      watchPeers(listener) {
        listener([]);
        return () => undefined;
      },
      identity: () => Promise.reject(new PeersNotConfiguredError()),
      signLanProof: () => Promise.reject(new PeersNotConfiguredError()),
      close: () => undefined,
    };
  }
  const peers = createPeers({ store, keys, rules: validateRules(config.rules) });
  return {
    peers,
    attach(port) {
      peers.connect(createMessagePortTransport(port));
    },
    watchPeers(listener) {
      listener(peerViews(peers.list()));
      return peers.onChange((list) => listener(peerViews(list)));
    },
    async identity() {
      const credentials = await loadCredentials(store);
      if (!credentials) return undefined;
      const { certificate, relayKey, revocations } = credentials;
      return {
        replica: store.replica,
        publicKey: keys.publicKey,
        certificate: { bytes: certificate.bytes, signature: certificate.signature },
        relayKey,
        ...(revocations
          ? { revocations: { list: revocations.bytes, signature: revocations.signature } }
          : {}),
      };
    },
    signLanProof: (digest) => signLanProof(keys, digest),
    close: () => peers.close(),
  };
}
