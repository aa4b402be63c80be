/**
 * Time from relay loss to peer sync continuing, in real Chromium through the whole stack (issue 10's "no gap"
 * target). Two tills (browser contexts) sync through a local relay and over a WebRTC peer link at once, as tills do
 * while the shop is online. Till A writes a note every 20 ms; till B records when each note reaches its live
 * query. The figure is the longest pause between two arrivals at B in a stream during which the relay stops; the
 * baseline is the longest pause in the same stream with the relay running throughout. Equal figures mean the relay's
 * loss left no gap: the peer link carried on. Each till has an on-disk browser profile, as in `peers.bench.ts`.
 */
import { startTestRelay } from '@loam/server/testing';
import type { Page } from 'playwright-core';
import { type Bench, percentile } from '../../../test/bench/bench';
import { startBrowserHarness } from '../../../test/browser/harness';
import { inPageGlobal, pageGlobalReady, untilPageGlobal } from '../../../test/browser/page-globals';
import type { PeerApp } from '../test-pages/peer-app';
import { peerRules } from '../test-pages/peer-rules';
import { schema } from '../test-pages/schema';

const NOTES = 150;
const EVERY_MS = 20;
/** When the relay stops, counted from the start of the stream. */
const STOP_AFTER_MS = 1_500;

const inPeer = <T, A = null>(page: Page, fn: (app: PeerApp, arg: A) => T | Promise<T>, arg?: A) =>
  inPageGlobal(page, 'peerApp', fn, arg);

/** Pauses between consecutive arrivals at `to` of a stream of notes written by `from`, ms. */
async function gaps(from: Page, to: Page, prefix: string, during?: () => Promise<void>): Promise<number[]> {
  await inPeer(to, (app, p) => app.record(p), prefix);
  const stream = { prefix, count: NOTES, everyMs: EVERY_MS };
  const streamed = inPeer(from, (app, s) => app.stream(s.prefix, s.count, s.everyMs), stream);
  await during?.();
  await streamed;
  await untilPageGlobal(to, 'peerApp', (app: PeerApp, n) => app.recorded().length >= n, NOTES, 60_000);
  const times = await inPeer(to, (app) => app.recorded());
  return times.slice(1).map((t, i) => t - (times[i] as number));
}

export const benches: Bench[] = [
  {
    name: 'peers: longest pause in a till-to-till stream when the relay stops (Chromium)',
    async run() {
      const harness = await startBrowserHarness({
        storage: 'disk',
        preBundle: ['simple-peer/simplepeer.min.js'],
        allowConsoleErrors: [/WebSocket connection to .* failed/],
      });
      const relay = await startTestRelay(schema, peerRules, { peers: { sameClaims: ['shop'] } });
      try {
        const open = async (user: string, db: string) => {
          const token = await relay.tokenFor(user, { claims: { shop: 1 } });
          const path = `/packages/client/test-pages/peer-app.html?sync=${encodeURIComponent(relay.server.wsUrl)}&token=${token}&db=${db}&subscribe=1`;
          return await pageGlobalReady(await harness.newPage(path), 'peerApp');
        };
        const a = await open('till-a', 'loss-a');
        const b = await open('till-b', 'loss-b');
        for (const page of [a, b])
          await untilPageGlobal(
            page,
            'peerApp',
            (app: PeerApp) => app.peers().some((p) => p.state === 'live') && app.status()?.connected === true,
            null,
            60_000,
          );
        const steady = await gaps(a, b, 'steady-');
        const lost = await gaps(a, b, 'lost-', async () => {
          await new Promise((resolve) => setTimeout(resolve, STOP_AFTER_MS));
          await relay.close();
        });
        const stillOnline = await inPeer(b, (app) => app.status()?.connected === true);
        if (stillOnline) throw new Error('till B still reports the relay connected after it stopped');
        const longest = Math.max(...lost);
        const steadyLongest = Math.max(...steady);
        return {
          figure: longest,
          unit: 'ms',
          higherIsBetter: false,
          baseline: { name: 'longest pause with the relay running throughout', figure: steadyLongest },
          notes: `${NOTES} notes, one every ${EVERY_MS} ms, relay stopped ${STOP_AFTER_MS} ms in; all ${NOTES} arrived at B both times; pause p50 ${percentile(lost, 50).toFixed(1)} ms (relay running: ${percentile(steady, 50).toFixed(1)} ms); target: no gap`,
        };
      } finally {
        await harness.close();
        await relay.close().catch(() => undefined);
      }
    },
  },
];
