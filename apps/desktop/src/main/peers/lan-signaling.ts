/**
 * Signaling between terminals on the LAN, with no server: each terminal's main process serves a WebSocket; a
 * terminal that found a peer (mDNS, the roster, or an address typed in) connects to it. Before any SDP crosses,
 * both sides present their device certificate and prove possession of its key with a challenge:
 * ```
 *  dialer                                             listener
 *                                            ◀─  challenge {nonce: Nl}
 *  hello {claim, nonce: Nd, signature} ─▶            proof of digest('dialer', Nl, Nd, claim)
 *                                            ◀─  welcome {claim, signature}     proof of digest('listener', Nl, Nd, claim)
 *                                                 or refused {code, reason}, then close
 *  ready {} ─▶                                        the dialer accepted the listener's proof
 *                                                 (or it closes with 4003: the listener never had a session)
 *  signal {data} ◀──────────────────────────────▶  signal {data}                   only after both proofs
 * ```
 * Invariants:
 * 1. **No signal before both proofs.** Neither side has a session (so sends or accepts a `signal`) until both
 *    verdicts are in: the dialer's after it verified `welcome`, the listener's after `ready`, which the dialer
 *    sends only then. A `signal` before that closes the connection.
 * 2. **Proofs are bound to this exchange.** The signed digest (SHA-256 of a transcript) covers both fresh nonces,
 *    the signer's role, replica and key: a signature cannot be replayed on another connection or reflected back.
 *    What the key signs is `lanProofMessage(digest)` of `@loam/sync` (32 bytes under a label of its own).
 * 3. **Bad input closes, nothing else.** A frame that is not JSON of this protocol, oversized, or out of order
 *    closes the connection with 4002 (a refused peer with 4003); the server keeps running.
 * 4. **The dialer checks whom it reached** when it expects a fingerprint (from mDNS, or the key a roster
 *    certificate names): another key is refused.
 * 5. **Certificates decide** (`createCertificateVerifier`): a peer certified by another relay, expired or revoked
 *    is answered `refused` and the socket closes before either side sent or accepted a `signal`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { LanPeerError } from '../../errors';
import type { DeviceProof, PeerClaim, PeerVerifier, VerifiedPeer } from './device-proof';

/** Largest frame of the LAN signaling protocol, bytes (an SDP with its candidates fits many times over). */
export const MAX_LAN_FRAME_BYTES = 32 * 1024;
const PROTOCOL_ERROR = 4002;
const REFUSED = 4003;
const HANDSHAKE_TIMEOUT_MS = 5_000;
/** Largest certificate a claim may carry, bytes (its base64 still fits a frame). */
const MAX_CERTIFICATE_BYTES = 16 * 1024;

/** An authenticated signaling connection to one peer. */
export interface LanSession {
  readonly peer: VerifiedPeer;
  /** How it came about: this side dialed, or the peer did. */
  readonly role: 'dialer' | 'listener';
  /** Sends one signaling message (SDP or ICE, as text); ignored once closed. */
  send(data: string): void;
  onSignal(listener: (data: string) => void): () => void;
  onClose(listener: () => void): () => void;
  close(): void;
}

type Frame = Record<string, unknown>;

/** The 32-byte digest a side proves its key over. */
function transcript(
  role: 'dialer' | 'listener',
  listenerNonce: string,
  dialerNonce: string,
  claim: PeerClaim,
): Uint8Array {
  const text = `loam-lan-signal/1\n${role}\n${listenerNonce}\n${dialerNonce}\n${claim.replica}\n${b64(claim.publicKey)}`;
  return new Uint8Array(createHash('sha256').update(text, 'utf8').digest());
}
const nonce = () => randomBytes(32).toString('base64url');
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

function readFrame(raw: unknown, isBinary: boolean): Frame | undefined {
  if (isBinary || !(raw instanceof Buffer) || raw.length > MAX_LAN_FRAME_BYTES) return undefined;
  try {
    const v: unknown = JSON.parse(raw.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Frame) : undefined;
  } catch {
    return undefined;
  }
}
const str = (v: unknown, max: number) => (typeof v === 'string' && v.length <= max ? v : undefined);
function bytes(v: unknown, max: number): Uint8Array | undefined {
  const s = str(v, max * 2);
  if (s === undefined || !/^[A-Za-z0-9_-]*$/.test(s)) return undefined;
  const out = new Uint8Array(Buffer.from(s, 'base64url'));
  return out.length <= max ? out : undefined;
}
function readClaim(v: unknown): PeerClaim | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Frame;
  const replica = str(o.replica, 64);
  const publicKey = bytes(o.publicKey, 64);
  if (!replica || !publicKey) return undefined;
  if (o.certificate === undefined && o.certificateSignature === undefined) return { replica, publicKey };
  const certificate = bytes(o.certificate, MAX_CERTIFICATE_BYTES);
  const signature = bytes(o.certificateSignature, 64);
  if (!certificate || !signature) return undefined;
  return { replica, publicKey, certificate: { bytes: certificate, signature } };
}
const claimFrame = (claim: PeerClaim) => ({
  replica: claim.replica,
  publicKey: b64(claim.publicKey),
  ...(claim.certificate
    ? { certificate: b64(claim.certificate.bytes), certificateSignature: b64(claim.certificate.signature) }
    : {}),
});

/** Wraps a socket whose handshake is done. */
function session(ws: WebSocket, peer: VerifiedPeer, role: LanSession['role'], pending: Frame[]): LanSession {
  const signalListeners = new Set<(data: string) => void>();
  const closeListeners = new Set<() => void>();
  let closed = false;
  const finish = () => {
    if (closed) return;
    closed = true;
    for (const l of [...closeListeners]) l();
  };
  const deliver = (frame: Frame) => {
    const data = frame.t === 'signal' ? str(frame.data, MAX_LAN_FRAME_BYTES) : undefined;
    if (data === undefined) return ws.close(PROTOCOL_ERROR, 'expected a signal');
    for (const l of [...signalListeners]) l(data);
  };
  ws.on('message', (raw, isBinary) => {
    const frame = readFrame(raw, isBinary);
    if (!frame) return ws.close(PROTOCOL_ERROR, 'not a frame of this protocol');
    deliver(frame);
  });
  ws.on('close', finish);
  queueMicrotask(() => {
    for (const frame of pending) deliver(frame);
  });
  return {
    peer,
    role,
    send(data) {
      if (!closed && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ t: 'signal', data }));
    },
    onSignal(listener) {
      signalListeners.add(listener);
      return () => signalListeners.delete(listener);
    },
    onClose(listener) {
      closeListeners.add(listener);
      return () => closeListeners.delete(listener);
    },
    close() {
      ws.close(1000, 'closed');
      finish();
    },
  };
}

/** Reads frames in order during the handshake (later ones wait in a queue). */
function frames(ws: WebSocket) {
  const queue: Frame[] = [];
  let waiter: ((f: Frame | undefined) => void) | undefined;
  let ended = false;
  const onMessage = (raw: unknown, isBinary: boolean) => {
    const frame = readFrame(raw, isBinary);
    if (!frame) {
      ws.close(PROTOCOL_ERROR, 'not a frame of this protocol');
      return;
    }
    if (waiter) {
      const w = waiter;
      waiter = undefined;
      w(frame);
    } else queue.push(frame);
  };
  const onClose = () => {
    ended = true;
    waiter?.(undefined);
  };
  ws.on('message', onMessage);
  ws.on('close', onClose);
  return {
    next(): Promise<Frame | undefined> {
      const f = queue.shift();
      if (f || ended) return Promise.resolve(f);
      return new Promise((resolve) => {
        waiter = resolve;
      });
    },
    /** Stops reading; returns what arrived after the handshake. */
    detach(): Frame[] {
      ws.off('message', onMessage);
      ws.off('close', onClose);
      return queue.splice(0);
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => void): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => {
        onTimeout();
        resolve(undefined);
      }, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A running LAN signaling server. */
export interface LanSignalingServer {
  /** The port it listens on. */
  readonly port: number;
  close(): Promise<void>;
}

/** Options of {@link startLanSignalingServer}. */
export interface LanSignalingServerOptions {
  readonly proof: DeviceProof;
  readonly verifier: PeerVerifier;
  /** Called with each authenticated session a peer opened. */
  readonly onSession: (session: LanSession) => void;
  /** Called when this side refused a peer's claim (`address`: where it connected from). */
  readonly onRefused?: (refusal: {
    readonly address: string;
    readonly replica: string;
    readonly reason: string;
  }) => void;
  /** Interface to listen on (default all). */
  readonly host?: string;
  /** Port (default 0: any free one). */
  readonly port?: number;
}

/** Listens for peers; each connection must complete the handshake before it is handed to `onSession`. */
export async function startLanSignalingServer(
  options: LanSignalingServerOptions,
): Promise<LanSignalingServer> {
  const wss = new WebSocketServer({
    host: options.host ?? '0.0.0.0',
    port: options.port ?? 0,
    maxPayload: MAX_LAN_FRAME_BYTES,
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  wss.on('connection', (ws, request) => {
    ws.on('error', () => undefined);
    const from = request.socket.remoteAddress ?? 'unknown';
    accept(ws, from).catch(() => ws.close(1011, 'handshake failed'));
  });
  const accept = async (ws: WebSocket, from: string) => {
    const input = frames(ws);
    const mine = nonce();
    ws.send(JSON.stringify({ t: 'challenge', nonce: mine }));
    const hello = await withTimeout(input.next(), HANDSHAKE_TIMEOUT_MS, () =>
      ws.close(PROTOCOL_ERROR, 'timeout'),
    );
    const claim = hello?.t === 'hello' ? readClaim(hello.claim) : undefined;
    const theirs = str(hello?.nonce, 64);
    const signature = bytes(hello?.signature, 64);
    if (!claim || !theirs || !signature) return ws.close(PROTOCOL_ERROR, 'expected hello');
    const verdict = await options.verifier.verify(
      claim,
      transcript('dialer', mine, theirs, claim),
      signature,
    );
    if (!verdict.ok) {
      ws.send(JSON.stringify({ t: 'refused', code: verdict.code, reason: verdict.reason }));
      options.onRefused?.({ address: from, replica: claim.replica, reason: verdict.reason });
      return ws.close(REFUSED, verdict.code);
    }
    const own = options.proof.claim;
    const proof = await options.proof.prove(transcript('listener', mine, theirs, own));
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify({ t: 'welcome', claim: claimFrame(own), signature: b64(proof) }));
    const ready = await withTimeout(input.next(), HANDSHAKE_TIMEOUT_MS, () =>
      ws.close(PROTOCOL_ERROR, 'timeout'),
    );
    if (ready?.t !== 'ready') return ws.close(PROTOCOL_ERROR, 'expected ready');
    options.onSession(session(ws, verdict.peer, 'listener', input.detach()));
  };
  return {
    port: (wss.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** Options of {@link dialLanPeer}. */
export interface DialOptions {
  /** `host:port` (IPv6 hosts in brackets). */
  readonly address: string;
  readonly proof: DeviceProof;
  readonly verifier: PeerVerifier;
  /** The fingerprint the peer advertised (mDNS); a peer proving another key is refused. */
  readonly expectFingerprint?: string;
  /** Gives up after this long, ms (default 5 000). */
  readonly timeoutMs?: number;
}

/**
 * Connects to a peer's LAN signaling server and runs the handshake. Rejects with a {@link LanPeerError}:
 * `lan_peer_unreachable` (nothing answered), `lan_peer_refused` (either side refused the other's proof).
 */
export async function dialLanPeer(options: DialOptions): Promise<LanSession> {
  const timeoutMs = options.timeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  const ws = new WebSocket(`ws://${options.address}/`, {
    handshakeTimeout: timeoutMs,
    maxPayload: MAX_LAN_FRAME_BYTES,
  });
  const input = frames(ws);
  const opened = await new Promise<boolean>((resolve) => {
    ws.once('open', () => resolve(true));
    ws.once('error', () => resolve(false));
  });
  if (!opened) throw new LanPeerError('lan_peer_unreachable', `Nothing answers at ${options.address}`);
  ws.on('error', () => undefined);
  const refuse = (reason: string): never => {
    ws.close(REFUSED, 'refused');
    throw new LanPeerError('lan_peer_refused', `${options.address}: ${reason}`);
  };
  const step = () => withTimeout(input.next(), timeoutMs, () => ws.close(PROTOCOL_ERROR, 'timeout'));

  const challenge = await step();
  const theirs = challenge?.t === 'challenge' ? str(challenge.nonce, 64) : undefined;
  if (!theirs) return refuse('it does not speak Loam LAN signaling');
  const mine = nonce();
  const own = options.proof.claim;
  let signature: Uint8Array;
  try {
    signature = await options.proof.prove(transcript('dialer', theirs, mine, own));
  } catch (error) {
    return refuse(`this terminal could not prove its key (${(error as Error).message})`);
  }
  ws.send(JSON.stringify({ t: 'hello', claim: claimFrame(own), nonce: mine, signature: b64(signature) }));

  const answer = await step();
  if (answer?.t === 'refused')
    return refuse(`it refused this terminal (${str(answer.reason, 512) ?? 'no reason'})`);
  const claim = answer?.t === 'welcome' ? readClaim(answer.claim) : undefined;
  const proof = bytes(answer?.signature, 64);
  if (!claim || !proof) return refuse('it did not answer the handshake');
  const verdict = await options.verifier.verify(claim, transcript('listener', theirs, mine, claim), proof);
  if (!verdict.ok) return refuse(verdict.reason);
  if (options.expectFingerprint !== undefined && verdict.peer.fingerprint !== options.expectFingerprint)
    return refuse(
      `it proved key ${verdict.peer.fingerprint}, not the advertised ${options.expectFingerprint}`,
    );
  ws.send(JSON.stringify({ t: 'ready' }));
  return session(ws, verdict.peer, 'dialer', input.detach());
}
