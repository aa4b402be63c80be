/**
 * Till-to-till change latency over WebRTC in real Chromium, through the whole stack: two devices (browser
 * contexts) whose `@loam/client` databases peer through a local relay's signaling, then the relay stops. Device A
 * inserts a note (UI thread → worker → engine, signed); it travels over A's peer engine, port, data channel, B's
 * port and peer engine (checked, applied) to B's live query on its UI thread, which answers with a note of its own
 * going back the same way; the figure is half that round trip (p50; p99 in the notes), against the DESIGN.md targets
 * p50 ≤ 10 ms and p99 ≤ 50 ms. The baseline is the same round trip between two other devices through the running
 * local relay (no peers), the path tills take when the relay is up.
 *
 * Each device has an on-disk browser profile, as a till does: in Playwright's default off-the-record contexts OPFS
 * lives in memory and every commit costs several times more (p50 was 26 ms there, one commit per hop).
 */
import { startTestRelay } from '@loam/server/testing';
import type { Page } from 'playwright-core';
import { type Bench, percentile } from '../../../test/bench/bench';
import { type BrowserHarness, startBrowserHarness } from '../../../test/browser/harness';
import { inPageGlobal, pageGlobalReady, untilPageGlobal } from '../../../test/browser/page-globals';
import type { PeerApp } from '../test-pages/peer-app';
import { peerRules } from '../test-pages/peer-rules';
import { schema } from '../test-pages/schema';

const SAMPLES = 200;
const WARMUP = 30;

const inPeer = <T, A = null>(page: Page, fn: (app: PeerApp, arg: A) => T | Promise<T>, arg?: A) =>
  inPageGlobal(page, 'peerApp', fn, arg);

/** Opens the peer test page for `user` of shop 1 against relay `wsUrl`; `query` adds page parameters. */
async function device(harness: BrowserHarness, wsUrl: string, token: string, query: string): Promise<Page> {
  const path = `/packages/client/test-pages/peer-app.html?sync=${encodeURIComponent(wsUrl)}&token=${token}${query}`;
  return await pageGlobalReady(await harness.newPage(path), 'peerApp');
}

/** One-way latencies (half round trips) from `from` to the echoing `to`, ms. */
async function oneWay(from: Page, to: Page): Promise<number[]> {
  await inPeer(to, (app) => app.startEcho());
  await inPeer(from, (app, n) => app.roundTrips('warm', n), WARMUP);
  return (await inPeer(from, (app, n) => app.roundTrips('run', n), SAMPLES)).map((t) => t / 2);
}

export const benches: Bench[] = [
  {
    name: 'peers: change latency till to till over WebRTC, through @loam/client (Chromium)',
    async run() {
      const harness = await startBrowserHarness({
        storage: 'disk',
        preBundle: ['simple-peer/simplepeer.min.js'],
        allowConsoleErrors: [/WebSocket connection to .* failed/],
      });
      const peered = await startTestRelay(schema, peerRules, { peers: { sameClaims: ['shop'] } });
      const relayed = await startTestRelay(schema, peerRules);
      try {
        const token = (r: typeof peered, user: string) => r.tokenFor(user, { claims: { shop: 1 } });
        const a = await device(harness, peered.server.wsUrl, await token(peered, 'till-a'), '&db=peer-a');
        const b = await device(harness, peered.server.wsUrl, await token(peered, 'till-b'), '&db=peer-b');
        for (const page of [a, b])
          await untilPageGlobal(
            page,
            'peerApp',
            (app: PeerApp) => app.peers().some((p) => p.state === 'live'),
            null,
            60_000,
          );
        await peered.close();
        await untilPageGlobal(a, 'peerApp', (app: PeerApp) => app.status()?.connected === false);
        const peer = await oneWay(a, b);

        const query = '&peers=0&subscribe=1';
        const c = await device(
          harness,
          relayed.server.wsUrl,
          await token(relayed, 'till-c'),
          `&db=relay-c${query}`,
        );
        const d = await device(
          harness,
          relayed.server.wsUrl,
          await token(relayed, 'till-d'),
          `&db=relay-d${query}`,
        );
        const relay = await oneWay(c, d);

        const p50 = percentile(peer, 50);
        const p99 = percentile(peer, 99);
        return {
          figure: p50,
          unit: 'ms',
          higherIsBetter: false,
          baseline: {
            name: 'the same change round trip through a local relay (no peers)',
            figure: percentile(relay, 50),
          },
          notes: `${SAMPLES} samples; p50 ${p50.toFixed(2)} ms (target ≤ 10), p99 ${p99.toFixed(2)} ms (target ≤ 50); through the relay p99 ${percentile(relay, 99).toFixed(2)} ms`,
        };
      } finally {
        await harness.close();
        await peered.close().catch(() => undefined);
        await relayed.close();
      }
    },
  },
];
