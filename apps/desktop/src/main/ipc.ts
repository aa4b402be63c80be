/**
 * The main process's IPC surface. Every request is checked before its handler runs:
 * 1. the channel is one of {@link IpcChannel} (Electron also refuses channels with no handler);
 * 2. the sending frame's URL is on the app's own origin (a navigated-away or foreign frame is refused);
 * 3. the arguments are exactly what the channel takes (today: none).
 * A refusal runs no handler and answers `{ ok: false, code }` with an `ipc_*` code.
 */
import { DesktopErrorCode, IpcRefusedError } from '../errors';
import { type DesktopInfo, IpcChannel, type IpcResult, type TerminalConfig } from '../shared/contract';
import { originOf } from './origin';

/** The sending frame, as far as IPC validation is concerned: `event.senderFrame?.url`. */
export interface IpcSender {
  /** The frame's current URL; `undefined` when the frame is gone. */
  readonly url: string | undefined;
}

/** What each channel answers. */
export interface IpcHandlers {
  readonly info: () => DesktopInfo;
  readonly terminalConfig: () => TerminalConfig;
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
  /** {@link IpcRouter.dispatch}, with a refusal turned into the `{ ok: false, code, message }` that crosses IPC. */
  handle(channel: string, sender: IpcSender, args: readonly unknown[]): IpcResult<unknown>;
}

const CHANNELS: readonly IpcChannel[] = Object.values(IpcChannel);

function isChannel(channel: string): channel is IpcChannel {
  return (CHANNELS as readonly string[]).includes(channel);
}

/** Creates the router for a window whose pages live on `appOrigin`. */
export function createIpcRouter(options: { appOrigin: string; handlers: IpcHandlers }): IpcRouter {
  const { appOrigin, handlers } = options;
  const run: Record<IpcChannel, () => unknown> = {
    [IpcChannel.info]: handlers.info,
    [IpcChannel.terminalConfig]: handlers.terminalConfig,
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
    if (args.length !== 0) {
      throw new IpcRefusedError(
        DesktopErrorCode.ipcBadArguments,
        `IPC on "${channel}" refused: it takes no arguments, got ${args.length}.`,
      );
    }
    return run[channel]();
  };

  return {
    channels: CHANNELS,
    dispatch,
    handle(channel, sender, args) {
      try {
        return { ok: true, value: dispatch(channel, sender, args) };
      } catch (error) {
        if (error instanceof IpcRefusedError) return { ok: false, code: error.code, message: error.message };
        throw error;
      }
    },
  };
}
