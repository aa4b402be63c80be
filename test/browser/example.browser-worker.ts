/** The worker of `example.browser.test.ts`, the example of `README.md`: exposes `ping` and one method. */
import * as Comlink from 'comlink';

Comlink.expose({
  ping: () => 'pong',
  double: (n: number) => ({
    doubled: n * 2,
    inWorker: typeof (globalThis as { importScripts?: unknown }).importScripts === 'function',
  }),
});
