/**
 * What the peers IPC channels do in main: one {@link LanPeers} for the replica and store the app names, its
 * sessions reported to the renderer as {@link LanPeerEvent}s, and signals carried both ways. The renderer owns the
 * WebRTC links (`@loam/sync/webrtc`); main only finds peers and carries their SDP/ICE.
 *
 * Identity: main holds no key. The app's `start` brings the device certificate, the relay's key and the newest
 * revocation list (all public, checked here: a certificate not signed by that relay key, or of another replica or
 * key, or a relay key other than the one the terminal's configuration pins, is refused with `lan_identity_invalid`); each handshake's digest goes to the renderer as a `prove` event and
 * its signature comes back on the proof channel (`prove`), or the handshake fails after `proofTimeoutMs`.
 *
 * Invariants:
 * 1. **One peering at a time.** `start` with the same replica and store keeps the running one and takes the new
 *    identity in place (a renewed certificate, a newer revocation list: peers are judged by it from then on);
 *    with others it stops it first (its sessions close and are reported `disconnected`).
 * 2. **Events follow sessions**: `connected` once per session, `disconnected` when it closes, `signal` for each
 *    message it carries.
 * 3. **Only certified peers of this device's group** (`createCertificateVerifier`): signed by this device's relay
 *    key, valid, unrevoked, and, when the app named the relay's `sameClaims`, with the same values of those claims
 *    in its certificate (`mayPeer` of `@loam/core`, as the relay's signaling decides).
 * 4. **Each proof request is answered once**: an answer for an unknown or settled id is ignored (`prove` returns
 *    false); a missing or empty answer fails that handshake only.
 * 5. **The roster vouches for whom main dials.** A roster entry with a certificate is dialed only when that
 *    certificate checks out like a peer's (relay key, validity, revocations, replica), and only a peer proving the
 *    key it names is accepted there; an entry without one is dialed and judged by the handshake alone. The roster
 *    is judged again whenever the identity (and so the trust) changes.
 */

import { networkInterfaces } from 'node:os';
import { type Claims, mayPeer, type PeerRules } from '@loam/core';
import {
  readSignedCertificate,
  type SignedRevocationList,
  verifyCertificate,
  verifyRevocationList,
} from '@loam/sync';
import { DesktopErrorCode, LanPeerError } from '../../errors';
import type {
  LanPeerEvent,
  LanPeerInfo,
  LanPeersInfo,
  PeersIdentity,
  PeersStartOptions,
  RosterAddressesInput,
} from '../../shared/contract';
import {
  type CertificateTrust,
  createCertificateVerifier,
  createDeviceProof,
  fingerprintOf,
  type PeerClaim,
  type PeerVerifier,
} from './device-proof';
import { formatAddress } from './discovery';
import { type LanPeers, type LanPeersOptions, type RosterAddresses, startLanPeers } from './lan-peers';
import type { LanSession } from './lan-signaling';

/** Options of {@link createPeerService}. */
export interface PeerServiceOptions {
  /** Sends an event to the renderer. */
  readonly emit: (event: LanPeerEvent) => void;
  /** The verifier of peers' proofs (default: `createCertificateVerifier` over the app's identity). */
  readonly verifier?: PeerVerifier;
  /** How long a handshake waits for the renderer's proof, ms (default 5 000). */
  readonly proofTimeoutMs?: number;
  readonly now?: () => number;
  /**
   * The relay key (base64url) this terminal's configuration pins (`terminal.json`'s `relayKey`): an app identity
   * certified by any other key is refused with `lan_identity_invalid`. Absent: the key the app brings is trusted.
   */
  readonly relayKey?: string;
  /** Options of the LAN peering besides identity (mDNS on/off, port, roster interval). */
  readonly lan?: Omit<LanPeersOptions, 'proof' | 'verifier' | 'storeHash'>;
}

/** The handlers of the peers channels. */
export interface PeerService {
  start(options: PeersStartOptions): Promise<LanPeersInfo>;
  setRoster(peers: readonly RosterAddressesInput[]): Promise<void>;
  pair(address: string): Promise<LanPeerInfo>;
  signal(to: string, data: string): boolean;
  list(): LanPeerInfo[];
  /** The renderer's answer to `prove` request `id` (null: it could not sign); false when no such request waits. */
  prove(id: number, signature: string | null): boolean;
  stop(): Promise<void>;
}

const infoOf = (s: LanSession): LanPeerInfo => ({
  replica: s.peer.replica,
  fingerprint: s.peer.fingerprint,
  user: s.peer.user,
});
const bytesOf = (text: string) => new Uint8Array(Buffer.from(text, 'base64url'));
const invalid = (reason: string) =>
  new LanPeerError(DesktopErrorCode.lanIdentityInvalid, `The identity given to peers.start: ${reason}`);

/** `host:port` on each non-loopback interface (IPv6 link-local left out: it needs a zone to be dialed). */
function localAddresses(port: number, host: string | undefined): string[] {
  if (host !== undefined && host !== '0.0.0.0' && host !== '::') return [formatAddress(host, port)];
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => !a.internal && !(a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80')))
    .map((a) => formatAddress(a.address, port));
}

/** Reads and checks the app's identity (see the module documentation); throws `lan_identity_invalid`. */
async function readIdentity(
  replica: string,
  identity: PeersIdentity,
  now: () => number,
  pinned: string | undefined,
): Promise<{ claim: PeerClaim; trust: CertificateTrust; claims: Claims }> {
  if (pinned !== undefined && identity.relayKey !== pinned)
    throw invalid(`its relay key is not the one terminal.json pins (relayKey ${pinned})`);
  const publicKey = bytesOf(identity.publicKey);
  const relayKey = bytesOf(identity.relayKey);
  const certificate = {
    bytes: bytesOf(identity.certificate),
    signature: bytesOf(identity.certificateSignature),
  };
  let signed: ReturnType<typeof readSignedCertificate>;
  try {
    signed = readSignedCertificate(certificate.bytes, certificate.signature);
  } catch (error) {
    throw invalid((error as Error).message);
  }
  // Its validity window is the relay's business (peers judge it with their skew bound): only who signed it counts.
  const checked = await verifyCertificate(
    signed,
    { relayKey, now, revoked: () => false },
    Number.POSITIVE_INFINITY,
  );
  if (!checked.ok) throw invalid(checked.reason);
  if (signed.cert.replica !== replica || Buffer.compare(signed.cert.publicKey, publicKey) !== 0)
    throw invalid(`the certificate is replica ${signed.cert.replica}'s or another key's, not ${replica}'s`);
  let revocations: SignedRevocationList | undefined;
  if (identity.revocations) {
    revocations = await verifyRevocationList(
      bytesOf(identity.revocations.list),
      bytesOf(identity.revocations.signature),
      relayKey,
    );
    if (!revocations) throw invalid('the revocation list is not signed by the relay key');
  }
  return {
    claim: { replica, publicKey, certificate },
    trust: { relayKey, revoked: new Set(revocations?.list.replicas ?? []) },
    claims: signed.cert.claims,
  };
}

/** Creates the service; nothing runs until `start`. */
export function createPeerService(options: PeerServiceOptions): PeerService {
  const now = options.now ?? Date.now;
  const proofTimeoutMs = options.proofTimeoutMs ?? 5_000;
  let running: { key: string; peers: LanPeers; info: LanPeersInfo; claim: PeerClaim } | undefined;
  let starting: Promise<LanPeersInfo> | undefined;
  let roster: readonly RosterAddressesInput[] = [];
  let trust: CertificateTrust | undefined;
  /** This device's claims and the relay's `peers` rules, when the app named `sameClaims` (invariant 3). */
  let group: { rules: PeerRules; claims: Claims } | undefined;
  let nextProof = 0;
  const proofs = new Map<number, (signature: Uint8Array | undefined) => void>();

  /** Asks the renderer to sign `digest` with the device key. */
  const askRenderer = (digest: Uint8Array) =>
    new Promise<Uint8Array>((resolve, reject) => {
      const id = ++nextProof;
      const timer = setTimeout(() => settle(undefined), proofTimeoutMs);
      const settle = (signature: Uint8Array | undefined) => {
        clearTimeout(timer);
        proofs.delete(id);
        if (signature) resolve(signature);
        else reject(new Error('the app did not sign the LAN challenge with its device key'));
      };
      proofs.set(id, settle);
      options.emit({ t: 'prove', id, digest: Buffer.from(digest).toString('base64url') });
    });
  const verifier =
    options.verifier ??
    createCertificateVerifier({
      now,
      trust: () => trust ?? { relayKey: new Uint8Array(32), revoked: new Set() },
      admit: (peer) => !group || mayPeer(group.rules, group.claims, peer.claims),
    });

  /** The roster as main dials it (invariant 5): entries whose certificate fails are left out. */
  const judgeRoster = async (): Promise<RosterAddresses[]> => {
    const checked: RosterAddresses[] = [];
    const t = trust;
    for (const p of roster) {
      if (p.certificate === undefined || p.certificateSignature === undefined) {
        checked.push({ replica: p.replica, addresses: p.addresses });
        continue;
      }
      if (!t) continue;
      let signed: ReturnType<typeof readSignedCertificate>;
      try {
        signed = readSignedCertificate(bytesOf(p.certificate), bytesOf(p.certificateSignature));
      } catch {
        continue;
      }
      const verdict = await verifyCertificate(
        signed,
        { relayKey: t.relayKey, now, revoked: (r) => t.revoked.has(r) },
        60_000,
      );
      if (!verdict.ok || verdict.value.replica !== p.replica) continue;
      checked.push({
        replica: p.replica,
        addresses: p.addresses,
        fingerprint: await fingerprintOf(verdict.value.publicKey),
      });
    }
    return checked;
  };
  const applyRoster = async () => {
    const peers = running?.peers;
    const judged = await judgeRoster();
    if (peers && running?.peers === peers) peers.setRoster(judged);
  };

  const start = async (o: PeersStartOptions): Promise<LanPeersInfo> => {
    const identity = await readIdentity(o.replica, o.identity, now, options.relayKey);
    const rules = o.sameClaims ? { sameClaims: o.sameClaims } : undefined;
    if (rules && !mayPeer(rules, identity.claims, identity.claims))
      throw invalid(
        `this device's certificate lacks the claims peers are grouped by (${rules.sameClaims.join(', ')})`,
      );
    const key = JSON.stringify([o.replica, o.storeHash, o.identity.publicKey]);
    if (running?.key === key) {
      trust = identity.trust;
      group = rules ? { rules, claims: identity.claims } : undefined;
      Object.assign(running.claim, identity.claim);
      await applyRoster();
      return running.info;
    }
    await running?.peers.stop();
    running = undefined;
    trust = identity.trust;
    group = rules ? { rules, claims: identity.claims } : undefined;
    const claim = { ...identity.claim };
    const proof = await createDeviceProof(claim, askRenderer);
    const peers = await startLanPeers({
      ...options.lan,
      proof,
      verifier,
      storeHash: o.storeHash,
    });
    peers.onRefused((r) => options.emit({ t: 'refused', ...r }));
    peers.onSession((session, via) => {
      options.emit({ t: 'connected', ...infoOf(session), via });
      session.onSignal((data) => options.emit({ t: 'signal', from: session.peer.replica, data }));
      session.onClose(() => options.emit({ t: 'disconnected', replica: session.peer.replica }));
    });
    const addresses = localAddresses(peers.port, options.lan?.host);
    running = { key, peers, info: { port: peers.port, addresses, fingerprint: proof.fingerprint }, claim };
    await applyRoster();
    return running.info;
  };

  return {
    start(o) {
      const next = (starting ?? Promise.resolve()).catch(() => undefined).then(() => start(o));
      starting = next;
      return next;
    },
    async setRoster(peers) {
      roster = peers;
      await applyRoster();
    },
    async pair(address) {
      if (!running)
        throw new LanPeerError(
          DesktopErrorCode.lanPeersNotStarted,
          'LAN peering is not started: call peers.start first',
        );
      return infoOf(await running.peers.pair(address));
    },
    signal(to, data) {
      const session = running?.peers.sessions().find((s) => s.peer.replica === to);
      session?.send(data);
      return session !== undefined;
    },
    list: () => running?.peers.sessions().map(infoOf) ?? [],
    prove(id, signature) {
      const settle = proofs.get(id);
      settle?.(signature === null ? undefined : bytesOf(signature));
      return settle !== undefined;
    },
    async stop() {
      for (const settle of [...proofs.values()]) settle(undefined);
      await running?.peers.stop();
      running = undefined;
    },
  };
}
