/**
 * The API the preload exposes to the renderer, built over an `invoke` function so it can be tested without
 * Electron. Each method sends a fixed channel with no arguments: the renderer cannot choose a channel or pass
 * anything to main. Refusals come back as values and are rebuilt here into errors with the same `code`.
 */
import { DesktopError, type DesktopErrorCode, IpcRefusedError } from '../errors';
import { type DesktopInfo, IpcChannel, type LoamDesktopApi, type TerminalConfig } from '../shared/contract';

/** Sends a request on a channel and resolves to main's answer (`ipcRenderer.invoke`). */
export type Invoke = (channel: IpcChannel) => Promise<unknown>;

function rebuild(code: string, message: string): Error {
  if (code === 'ipc_unknown_channel' || code === 'ipc_sender_refused' || code === 'ipc_bad_arguments') {
    return new IpcRefusedError(code, message);
  }
  return new DesktopError(code as DesktopErrorCode, message);
}

async function call<T>(invoke: Invoke, channel: IpcChannel): Promise<T> {
  const result = await invoke(channel);
  if (typeof result !== 'object' || result === null || typeof (result as { ok?: unknown }).ok !== 'boolean') {
    throw new Error(`Unexpected answer on ${channel}.`);
  }
  const r = result as { ok: boolean; value?: unknown; code?: unknown; message?: unknown };
  if (r.ok) return r.value as T;
  throw rebuild(String(r.code), String(r.message));
}

/** Creates `window.loamDesktop`. */
export function createDesktopApi(invoke: Invoke): LoamDesktopApi {
  return Object.freeze({
    info: () => call<DesktopInfo>(invoke, IpcChannel.info),
    getTerminalConfig: () => call<TerminalConfig>(invoke, IpcChannel.terminalConfig),
  });
}
