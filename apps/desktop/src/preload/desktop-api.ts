/**
 * The API the preload exposes to the renderer, built over an `invoke` function so it can be tested without
 * Electron. Each method sends a fixed channel: the renderer cannot choose a channel, and the only arguments that
 * reach main are those of the peers methods, checked here (`readPeerArgs`) before they are sent and again in
 * main. Refusals come back as values and are rebuilt here into errors with the same `code`. Events from main
 * reach the renderer only as checked {@link LanPeerEvent}s.
 *
 * Proofs of the device key: main asks (`prove` events) and the preload answers on its own channel with the
 * app's {@link LanProver}, handing it only a 32-byte digest and sending back only a 64-byte signature; the app never
 * sees these events, and main never sees anything of the key but signatures of LAN digests.
 */
import { DesktopError, type DesktopErrorCode, IpcRefusedError } from '../errors';
import {
  type DesktopInfo,
  IpcChannel,
  type LanPeerEvent,
  type LanPeerInfo,
  type LanPeersInfo,
  type LanProver,
  type LoamDesktopApi,
  type LoamDesktopPeers,
  type TerminalConfig,
} from '../shared/contract';
import { isBase64Url, KEY_CHARS, readPeerArgs } from '../shared/peer-args';

/** Sends a request on a channel and resolves to main's answer (`ipcRenderer.invoke`). */
export type Invoke = (channel: IpcChannel, ...args: unknown[]) => Promise<unknown>;

/** Listens to main's peer events (`ipcRenderer.on(PEERS_EVENT_CHANNEL)`); returns the function that stops. */
export type SubscribePeerEvents = (listener: (event: unknown) => void) => () => void;

function rebuild(code: string, message: string): Error {
  if (code === 'ipc_unknown_channel' || code === 'ipc_sender_refused' || code === 'ipc_bad_arguments') {
    return new IpcRefusedError(code, message);
  }
  return new DesktopError(code as DesktopErrorCode, message);
}

async function call<T>(invoke: Invoke, channel: IpcChannel, ...args: unknown[]): Promise<T> {
  if (args.length > 0 || channel === IpcChannel.peersList) {
    const checked = readPeerArgs(channel, args);
    if (typeof checked === 'string')
      throw new IpcRefusedError('ipc_bad_arguments', `loamDesktop.peers: ${checked}.`);
  }
  const result = await invoke(channel, ...args);
  if (typeof result !== 'object' || result === null || typeof (result as { ok?: unknown }).ok !== 'boolean') {
    throw new Error(`Unexpected answer on ${channel}.`);
  }
  const r = result as { ok: boolean; value?: unknown; code?: unknown; message?: unknown };
  if (r.ok) return r.value as T;
  throw rebuild(String(r.code), String(r.message));
}

/** Reads an event from main, or undefined when it is not one. */
export function readPeerEvent(v: unknown): LanPeerEvent | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const e = v as Record<string, unknown>;
  const text = (x: unknown): x is string => typeof x === 'string';
  if (e.t === 'connected' && text(e.replica) && text(e.fingerprint) && text(e.user) && text(e.via))
    if (['mdns', 'roster', 'manual', 'inbound'].includes(e.via))
      return {
        t: 'connected',
        replica: e.replica,
        fingerprint: e.fingerprint,
        user: e.user,
        via: e.via as 'mdns',
      };
  if (e.t === 'disconnected' && text(e.replica)) return { t: 'disconnected', replica: e.replica };
  if (e.t === 'refused' && text(e.address) && text(e.replica) && text(e.via) && text(e.reason))
    if (['mdns', 'roster', 'manual', 'inbound'].includes(e.via))
      return { t: 'refused', address: e.address, replica: e.replica, via: e.via as 'mdns', reason: e.reason };
  if (e.t === 'signal' && text(e.from) && text(e.data)) return { t: 'signal', from: e.from, data: e.data };
  if (e.t === 'prove' && Number.isSafeInteger(e.id) && isBase64Url(e.digest, KEY_CHARS, true))
    return { t: 'prove', id: e.id as number, digest: e.digest };
  return undefined;
}

function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
function toBase64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

/** Answers main's `prove` requests with the app's prover (see the module documentation). */
async function answerProof(invoke: Invoke, prover: LanProver | undefined, id: number, digest: string) {
  let signature: string | null = null;
  try {
    const signed: unknown = prover ? await prover(fromBase64Url(digest)) : undefined;
    // A typed array from the app's world (through contextBridge): checked without `instanceof`, which is per realm.
    if (ArrayBuffer.isView(signed) && signed.byteLength === 64)
      signature = toBase64Url(new Uint8Array(signed.buffer, signed.byteOffset, 64));
  } catch {
    signature = null;
  }
  await invoke(IpcChannel.peersProof, id, signature).catch(() => undefined);
}

/** Creates `window.loamDesktop`. */
export function createDesktopApi(invoke: Invoke, subscribe: SubscribePeerEvents): LoamDesktopApi {
  let prover: LanProver | undefined;
  let answering = false;
  const peers: LoamDesktopPeers = {
    start(options, prove) {
      if (typeof prove !== 'function')
        return Promise.reject(
          new IpcRefusedError(
            'ipc_bad_arguments',
            'loamDesktop.peers.start needs a prover: (digest) => db.peers.signLanProof(digest).',
          ),
        );
      prover = prove;
      if (!answering) {
        answering = true;
        subscribe((raw) => {
          const event = readPeerEvent(raw);
          if (event?.t === 'prove') void answerProof(invoke, prover, event.id, event.digest);
        });
      }
      return call<LanPeersInfo>(invoke, IpcChannel.peersStart, options);
    },
    setRoster: (list) => call<void>(invoke, IpcChannel.peersRoster, list),
    pair: (address) => call<LanPeerInfo>(invoke, IpcChannel.peersPair, address),
    signal: (to, data) => call<boolean>(invoke, IpcChannel.peersSignal, to, data),
    list: () => call<LanPeerInfo[]>(invoke, IpcChannel.peersList),
    onEvent(listener) {
      if (typeof listener !== 'function') throw new TypeError('loamDesktop.peers.onEvent needs a function');
      return subscribe((raw) => {
        const event = readPeerEvent(raw);
        if (event && event.t !== 'prove') listener(event);
      });
    },
  };
  Object.freeze(peers);
  return Object.freeze({
    info: () => call<DesktopInfo>(invoke, IpcChannel.info),
    getTerminalConfig: () => call<TerminalConfig>(invoke, IpcChannel.terminalConfig),
    peers,
  });
}
