/**
 * Till-to-till latency over WebRTC in real Chromium: two pages (two browser contexts) joined by a peer link, a
 * 64-byte frame sent from one page's worker through its port, the main thread, the data channel, the other main
 * thread and port to the other worker, and echoed back the same way. The figure is half the round trip (p50;
 * p99 in the notes), against the DESIGN.md targets p50 ≤ 10 ms and p99 ≤ 50 ms. The baseline is a bare
 * simple-peer data channel between the same pages' main threads (no worker, no port, no Loam framing).
 */
import type { Page } from 'playwright-core';
import { type Bench, percentile } from '../../../../test/bench/bench';
import { startBrowserHarness } from '../../../../test/browser/harness';

const SAMPLES = 500;
const WARMUP = 50;

type Call = (page: Page, method: string, ...args: unknown[]) => Promise<unknown>;
const call: Call = (page, method, ...args) =>
  page.evaluate(
    ([m, a]) =>
      (
        (globalThis as unknown as { __peerPage: Record<string, (...x: unknown[]) => unknown> }).__peerPage[
          m
        ] as (...x: unknown[]) => unknown
      )(...a),
    [method, args] as const,
  );

async function until(probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('the peer link did not open');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const benches: Bench[] = [
  {
    name: 'WebRTC till-to-till latency, one way (Chromium)',
    async run() {
      const harness = await startBrowserHarness({ preBundle: ['simple-peer/simplepeer.min.js'] });
      try {
        const pages: Page[] = [];
        for (let i = 0; i < 2; i++) {
          const page = await harness.newPage();
          await page.addScriptTag({
            type: 'module',
            content: "import '/packages/sync/test-pages/peer-page.ts';",
          });
          await page.waitForFunction(() => '__peerPage' in globalThis);
          pages.push(page);
        }
        const [a, b] = pages as [Page, Page];
        await a.exposeFunction('loamSignal', (m: string) => call(b, 'signal', m));
        await b.exposeFunction('loamSignal', (m: string) => call(a, 'signal', m));
        await call(b, 'start', false);
        await call(a, 'start', true);
        await until(async () => (await call(a, 'state')) === 'open' && (await call(b, 'state')) === 'open');
        await call(b, 'setEcho', true);
        await call(a, 'roundTrips', WARMUP);
        const loam = ((await call(a, 'roundTrips', SAMPLES)) as number[]).map((t) => t / 2);

        const answering = call(b, 'rawStart', false, true);
        await call(a, 'rawStart', true, false);
        await answering;
        await call(a, 'rawRoundTrips', WARMUP);
        const bare = ((await call(a, 'rawRoundTrips', SAMPLES)) as number[]).map((t) => t / 2);

        const p50 = percentile(loam, 50);
        const p99 = percentile(loam, 99);
        return {
          figure: p50,
          unit: 'ms',
          higherIsBetter: false,
          baseline: {
            name: 'bare simple-peer data channel, main thread to main thread',
            figure: percentile(bare, 50),
          },
          notes: `${SAMPLES} samples; p50 ${p50.toFixed(2)} ms (target ≤ 10), p99 ${p99.toFixed(2)} ms (target ≤ 50); bare channel p99 ${percentile(bare, 99).toFixed(2)} ms`,
        };
      } finally {
        await harness.close();
      }
    },
  },
];
