/**
 * Engine write throughput in real Chromium on OPFS, against raw wa-sqlite doing the same inserts on the same VFS and
 * pragmas in the same run: bulk insert of 100k documents (target ≥ 0.5 of raw), small autocommit transactions, and
 * an initial sync of 100k documents from relay snapshots in the relay's frames, grouped as the sync client applies
 * them when they queue up (target ≥ 0.5 of raw), run in a
 * dedicated worker while the page's UI thread keeps a 5 ms timer going (its longest stall is reported).
 */
import type { Page } from 'playwright-core';
import type { Bench } from '../../../../test/bench/bench';
import { startBrowserHarness, type WorkerHandle } from '../../../../test/browser/harness';
import type { Timing } from './engine.browser-worker';

const WORKER = '/packages/store/src/engine/engine.browser-worker.ts';
const BULK = Number(process.env.LOAM_BENCH_DOCS ?? 100_000);
const SMALL = 1_000;

async function inWorker<T>(fn: (worker: WorkerHandle, page: Page) => Promise<T>): Promise<T> {
  const harness = await startBrowserHarness({ storage: 'disk' });
  try {
    const page = await harness.newPage();
    return await fn(await harness.startWorker(page, WORKER), page);
  } finally {
    await harness.close();
  }
}

const perSecond = (t: Timing) => (t.operations / t.ms) * 1000;

/** Starts a 5 ms timer on the page's UI thread; the returned function stops it and gives its longest gap (ms). */
async function watchUiThread(page: Page): Promise<() => Promise<number>> {
  await page.evaluate(() => {
    const g = globalThis as unknown as { __gap: { max: number; timer: unknown } };
    let last = performance.now();
    g.__gap = {
      max: 0,
      timer: setInterval(() => {
        const now = performance.now();
        g.__gap.max = Math.max(g.__gap.max, now - last);
        last = now;
      }, 5),
    };
  });
  return () =>
    page.evaluate(() => {
      const g = globalThis as unknown as { __gap: { max: number; timer: ReturnType<typeof setInterval> } };
      clearInterval(g.__gap.timer);
      return g.__gap.max;
    });
}

export const benches: Bench[] = [
  {
    name: `store: bulk insert ${BULK / 1000}k documents in one transaction, Loam vs raw wa-sqlite (OPFS)`,
    run: () =>
      inWorker(async (worker) => {
        const raw = await worker.call<Timing>('rawBulk', 'bulk-raw', BULK);
        const loam = await worker.call<Timing>('loamBulk', 'bulk-loam', BULK);
        return {
          figure: perSecond(loam),
          unit: 'docs/s',
          higherIsBetter: true,
          baseline: { name: 'raw prepared INSERT', figure: perSecond(raw) },
          target: 0.5,
          notes: `${loam.backend}; Loam also writes the op log, merge metadata and the encoded document`,
        };
      }),
  },
  {
    name: `store: ${SMALL} autocommit single-document inserts, Loam vs raw wa-sqlite (OPFS)`,
    run: () =>
      inWorker(async (worker) => {
        const raw = await worker.call<Timing>('rawSmall', 'small-raw', SMALL);
        const loam = await worker.call<Timing>('loamSmall', 'small-loam', SMALL);
        return {
          figure: perSecond(loam),
          unit: 'tx/s',
          higherIsBetter: true,
          baseline: { name: 'raw autocommit INSERT', figure: perSecond(raw) },
          notes: loam.backend,
        };
      }),
  },
  {
    name: `store: initial sync of ${BULK / 1000}k documents into a fresh OPFS device vs raw wa-sqlite insert`,
    run: () =>
      inWorker(async (worker, page) => {
        const raw = await worker.call<Timing>('rawInitialSync', 'sync-raw', BULK);
        const stop = await watchUiThread(page);
        const loam = await worker.call<Timing>('loamInitialSync', 'sync-loam', BULK);
        const uiGap = await stop();
        return {
          figure: perSecond(loam),
          unit: 'docs/s',
          higherIsBetter: true,
          baseline: { name: 'raw prepared INSERT', figure: perSecond(raw) },
          target: 0.5,
          notes: `${loam.backend}; relay frames of 256 snapshots applied 32 at a time as the sync client groups them, longest group ${loam.longestPageMs?.toFixed(0)} ms; UI thread's longest stall ${uiGap.toFixed(0)} ms`,
        };
      }),
  },
];
