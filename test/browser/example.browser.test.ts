import { expect, it } from 'vitest';
import { useBrowserHarness } from './harness';

const browser = useBrowserHarness(); // hooks: start before the file, fail on page errors, close after

it('runs a method in a worker', async () => {
  const page = await browser().newPage(); // blank page: /test/browser/index.html
  // The worker module must Comlink.expose an object with a ping() method.
  const worker = await browser().startWorker(page, '/test/browser/example.browser-worker.ts');
  expect(await worker.call('double', 21)).toEqual({ doubled: 42, inWorker: true });
  await worker.terminate(); // like a crash: no cleanup runs in the worker
});
