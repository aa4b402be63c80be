/**
 * Vite plugin: the demo's sign-in endpoint, `GET /dev/session?terminal=<n>`, on the dev and preview servers.
 * It answers a {@link TerminalSessionResponse} whose token the relay accepts for that terminal of the demo store,
 * or `400 { code: 'terminal_invalid' }` when `terminal` is not a till number from 1 to 99.
 * Development only: a real deployment signs terminals in through its identity provider.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Connect, Plugin } from 'vite';
import type { TerminalSessionResponse } from '../app/terminal-session';
import { demoTerminal } from './demo-shop';
import { signTerminalToken } from './terminal-tokens';

/** What the endpoint needs. */
export interface DevSessionOptions {
  /** The relay's HS256 secret. */
  readonly secret: string;
  /** `ws://host:port/sync` of the relay, handed to the app. */
  readonly syncUrl: string;
  readonly storeId: string;
}

/** The endpoint's path. */
export const DEV_SESSION_PATH = '/dev/session';

/** The desktop shell's app origin (`apps/desktop`): the only other origin allowed to call the endpoint. */
export const DESKTOP_APP_ORIGIN = 'loam://pos';

function handler(options: DevSessionOptions): Connect.NextHandleFunction {
  return (req: IncomingMessage, res: ServerResponse, next: Connect.NextFunction) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== DEV_SESSION_PATH) {
      next();
      return;
    }
    const demo = demoTerminal(url.searchParams.get('terminal'));
    if (!demo) {
      res.writeHead(400, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(
        JSON.stringify({ code: 'terminal_invalid', message: 'terminal must be a till number from 1 to 99' }),
      );
      return;
    }
    const { terminal, cashier } = demo;
    signTerminalToken(options.secret, { storeId: options.storeId, terminal, cashier }).then(
      ({ token, expiresAt }) => {
        const body: TerminalSessionResponse = {
          token,
          expiresAt,
          syncUrl: options.syncUrl,
          storeId: options.storeId,
          terminal,
          cashier,
        };
        const cors =
          req.headers.origin === DESKTOP_APP_ORIGIN
            ? { 'access-control-allow-origin': DESKTOP_APP_ORIGIN }
            : {};
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', ...cors });
        res.end(JSON.stringify(body));
      },
      (error: unknown) => next(error),
    );
  };
}

/** The plugin. */
export function devSessionPlugin(options: DevSessionOptions): Plugin {
  return {
    name: 'loam-pos-dev-session',
    configureServer(server) {
      server.middlewares.use(handler(options));
    },
    configurePreviewServer(server) {
      server.middlewares.use(handler(options));
    },
  };
}
