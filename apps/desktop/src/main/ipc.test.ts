import { describe, expect, it, vi } from 'vitest';
import { IpcRefusedError } from '../errors';
import { createDesktopApi } from '../preload/desktop-api';
import { IpcChannel } from '../shared/contract';
import { createIpcRouter } from './ipc';
import { APP_ORIGIN } from './origin';

const info = { version: '0.1.0', platform: 'linux', kiosk: true };
const terminal = { relayUrl: 'ws://127.0.0.1:8787/', terminalId: 'till-1' };

function setup() {
  const handlers = { info: vi.fn(() => info), terminalConfig: vi.fn(() => terminal) };
  return { handlers, router: createIpcRouter({ appOrigin: APP_ORIGIN, handlers }) };
}
const app = { url: 'loam://pos/sale' };

function refusal(run: () => unknown): IpcRefusedError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(IpcRefusedError);
    return error as IpcRefusedError;
  }
  throw new Error('expected a refusal');
}

describe('IPC router', () => {
  it('serves exactly the two channels to the app when LAN peering is off', async () => {
    const { router } = setup();
    expect([...router.channels].sort()).toEqual([IpcChannel.info, IpcChannel.terminalConfig].sort());
    expect(router.dispatch(IpcChannel.info, app, [])).toEqual(info);
    expect(await router.handle(IpcChannel.terminalConfig, app, [])).toEqual({ ok: true, value: terminal });
  });

  it.each([
    ['a foreign site', 'https://evil.example/'],
    ['another host on the app scheme', 'loam://evil/'],
    ['a local file', 'file:///tmp/page.html'],
    ['a blank frame', 'about:blank'],
    ['a frame that is gone', undefined],
  ])('refuses %s without running the handler', (_what, url) => {
    const { router, handlers } = setup();
    const error = refusal(() => router.dispatch(IpcChannel.terminalConfig, { url }, []));
    expect(error.code).toBe('ipc_sender_refused');
    expect(handlers.terminalConfig).not.toHaveBeenCalled();
  });

  it('refuses arguments on channels that take none', () => {
    const { router, handlers } = setup();
    expect(refusal(() => router.dispatch(IpcChannel.info, app, ['x'])).code).toBe('ipc_bad_arguments');
    expect(refusal(() => router.dispatch(IpcChannel.info, app, [undefined])).code).toBe('ipc_bad_arguments');
    expect(handlers.info).not.toHaveBeenCalled();
  });

  it('refuses unknown channels, including prototype names', () => {
    const { router } = setup();
    for (const channel of ['loam-desktop:exec', 'toString', '__proto__', '']) {
      const error = refusal(() => router.dispatch(channel, app, []));
      expect(error.code).toBe('ipc_unknown_channel');
    }
  });

  it('sends refusals over the wire as values with their code', async () => {
    const { router } = setup();
    expect(await router.handle('loam-desktop:exec', app, [])).toMatchObject({
      ok: false,
      code: 'ipc_unknown_channel',
    });
    expect(await router.handle(IpcChannel.info, { url: 'https://evil.example/' }, [])).toMatchObject({
      ok: false,
      code: 'ipc_sender_refused',
    });
  });
});

describe('window.loamDesktop (preload API over the router)', () => {
  it('answers the app with the shell info and terminal config', async () => {
    const { router } = setup();
    const api = createDesktopApi(
      async (channel, ...args) => router.handle(channel, app, args),
      () => () => undefined,
    );
    await expect(api.info()).resolves.toEqual(info);
    await expect(api.getTerminalConfig()).resolves.toEqual(terminal);
    expect(Object.isFrozen(api)).toBe(true);
  });

  it('rejects with an error rebuilt from the refusal code when main refuses', async () => {
    const { router } = setup();
    const api = createDesktopApi(
      async (channel) => router.handle(channel, { url: 'https://evil.example/' }, []),
      () => () => undefined,
    );
    const error = await api.info().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpcRefusedError);
    expect((error as IpcRefusedError).code).toBe('ipc_sender_refused');
  });

  it('sends no arguments, whatever the renderer passes', async () => {
    const invoke = vi.fn(async (..._args: unknown[]) => ({ ok: true, value: info }));
    const api = createDesktopApi(invoke, () => () => undefined);
    await (api.info as (...a: unknown[]) => Promise<unknown>)('rm -rf /', { channel: 'x' });
    expect(invoke).toHaveBeenCalledWith(IpcChannel.info);
    expect(invoke.mock.calls[0]).toHaveLength(1);
  });
});
