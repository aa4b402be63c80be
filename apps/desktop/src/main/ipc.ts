/**
 * The main process's IPC surface. Every request is checked before its handler runs:
 * 1. the channel is one of {@link IpcChannel} (Electron also refuses channels with no handler);
 * 2. the sending frame's URL is on the app's own origin (a navigated-away or foreign frame is refused);
 * 3. the arguments are exactly what the channel takes (none, or what `readPeerArgs` accepts for the peers
 *    channels, which are served only when peers handlers are given).
 * A refusal runs no handler and answers `{ ok: false, code }` with an `ipc_*` code; a handler's own
 * `DesktopError` (e.g. `lan_peer_refused`) is answered the same way with its code.
 */
import { DesktopError, DesktopErrorCode, IpcRefusedError } from '../errors';
import { type DesktopInfo, IpcChannel, type IpcResult, type TerminalConfig } from '../shared/contract';
import { readPeerArgs } from '../shared/peer-args';
import { originOf } from './origin';
import type { PeerService } from './peers/peer-service';

/** The sending frame, as far as IPC validation is concerned: `event.senderFrame?.url`. */
export interface IpcSender {
  /** The frame's current URL; `undefined` when the frame is gone. */
  readonly url: string | undefined;
}

/** What each channel answers. */
export interface IpcHandlers {
  readonly info: () => DesktopInfo;
  readonly terminalConfig: () => TerminalConfig;
  /** LAN peering; absent: the peers channels are not served. */
  readonly peers?: Omit<PeerService, 'stop'>;
}

/** A validated IPC router. */
export interface IpcRouter {
  /** Every channel the router serves; register exactly these with `ipcMain.handle`. */
  readonly channels: readonly IpcChannel[];
  /**
   * Validates a request and runs its handler. Throws {@link IpcRefusedError} (`ipc_unknown_channel`,
   * `ipc_sender_refused`, `ipc_bad_arguments`) without running anything when the request is refused.
   */
  dispatch(channel: string, sender: IpcSender, args: readonly unknown[]): unknown;
  /**
   * {@link IpcRouter.dispatch}, awaited, with a refusal or a handler's `DesktopError` turned into the
   * `{ ok: false, code, message }` that crosses IPC.
   */
  handle(channel: string, sender: IpcSender, args: readonly unknown[]): Promise<IpcResult<unknown>>;
}

const PEER_CHANNELS: readonly string[] = [
  IpcChannel.peersStart,
  IpcChannel.peersRoster,
  IpcChannel.peersPair,
  IpcChannel.peersSignal,
  IpcChannel.peersList,
  IpcChannel.peersProof,
];

/** Creates the router for a window whose pages live on `appOrigin`. */
export function createIpcRouter(options: { appOrigin: string; handlers: IpcHandlers }): IpcRouter {
  const { appOrigin, handlers } = options;
  const peers = handlers.peers;
  const channels = (Object.values(IpcChannel) as IpcChannel[]).filter(
    (c) => peers || !PEER_CHANNELS.includes(c),
  );
  const isChannel = (channel: string): channel is IpcChannel =>
    (channels as readonly string[]).includes(channel);
  const bad = (channel: string, why: string) =>
    new IpcRefusedError(DesktopErrorCode.ipcBadArguments, `IPC on "${channel}" refused: ${why}.`);
  const runPeers = (
    service: NonNullable<IpcHandlers['peers']>,
    channel: string,
    args: readonly unknown[],
  ) => {
    const a = readPeerArgs(channel, args);
    if (typeof a === 'string') throw bad(channel, a);
    switch (a.channel) {
      case IpcChannel.peersStart:
        return service.start(a.options);
      case IpcChannel.peersRoster:
        return service.setRoster(a.peers);
      case IpcChannel.peersPair:
        return service.pair(a.address);
      case IpcChannel.peersSignal:
        return service.signal(a.to, a.data);
      case IpcChannel.peersList:
        return service.list();
      case IpcChannel.peersProof:
        return service.prove(a.id, a.signature);
    }
  };

  const dispatch = (channel: string, sender: IpcSender, args: readonly unknown[]): unknown => {
    if (!isChannel(channel)) {
      throw new IpcRefusedError(DesktopErrorCode.ipcUnknownChannel, `Unknown IPC channel "${channel}".`);
    }
    const origin = sender.url === undefined ? null : originOf(sender.url);
    if (origin !== appOrigin) {
      throw new IpcRefusedError(
        DesktopErrorCode.ipcSenderRefused,
        `IPC on "${channel}" refused: the sender ${origin ?? 'has no origin'} is not the app (${appOrigin}).`,
      );
    }
    if (peers && PEER_CHANNELS.includes(channel)) return runPeers(peers, channel, args);
    if (args.length !== 0) throw bad(channel, `it takes no arguments, got ${args.length}`);
    return channel === IpcChannel.info ? handlers.info() : handlers.terminalConfig();
  };

  return {
    channels,
    dispatch,
    async handle(channel, sender, args) {
      try {
        return { ok: true, value: await dispatch(channel, sender, args) };
      } catch (error) {
        if (error instanceof DesktopError) return { ok: false, code: error.code, message: error.message };
        throw error;
      }
    },
  };
}
