/**
 * The Vite configuration of the POS app, as a function so that `npm start`, the tests and `vite.config.ts` build
 * and serve it the same way.
 */
import { fileURLToPath } from 'node:url';
import type { InlineConfig } from 'vite';
import { type DevSessionOptions, devSessionPlugin } from './dev-session-plugin';
import { precachePlugin } from './precache-plugin';

/** `apps/pos`: the Vite root of the app. */
export const appRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Options of {@link posViteConfig}. */
export interface PosViteOptions {
  /** Port of the dev or preview server (strict: fails if taken). */
  readonly port: number;
  /** Output folder of `vite build` (default `apps/pos/dist`). */
  readonly outDir?: string;
  /** The demo sign-in endpoint; absent: no `/dev/session` (the app then runs without sync). */
  readonly devSession?: DevSessionOptions;
}

/** The app's configuration: root `apps/pos`, loopback only, the service worker built beside the app. */
export function posViteConfig(options: PosViteOptions): InlineConfig {
  const server = { host: '127.0.0.1', port: options.port, strictPort: true };
  return {
    root: appRoot,
    configFile: false,
    clearScreen: false,
    logLevel: 'warn',
    plugins: [precachePlugin(), ...(options.devSession ? [devSessionPlugin(options.devSession)] : [])],
    optimizeDeps: { exclude: ['wa-sqlite'] },
    worker: { format: 'es' },
    build: {
      outDir: options.outDir ?? 'dist',
      emptyOutDir: true,
      target: 'es2022',
      chunkSizeWarningLimit: 2048,
    },
    server,
    preview: server,
  };
}
