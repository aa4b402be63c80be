/**
 * Engine write throughput in real Chromium on OPFS, against raw wa-sqlite doing the same inserts on the same VFS and
 * pragmas in the same run: bulk insert of 100k documents (target ≥ 0.5 of raw), and small autocommit transactions.
 */
import type { Bench } from '../../../../test/bench/bench';
import { startBrowserHarness, type WorkerHandle } from '../../../../test/browser/harness';
import type { Timing } from './engine.browser-worker';

const WORKER = '/packages/store/src/engine/engine.browser-worker.ts';
const BULK = 100_000;
const SMALL = 1_000;

async function inWorker<T>(fn: (worker: WorkerHandle) => Promise<T>): Promise<T> {
  const harness = await startBrowserHarness();
  try {
    return await fn(await harness.startWorker(await harness.newPage(), WORKER));
  } finally {
    await harness.close();
  }
}

const perSecond = (t: Timing) => (t.operations / t.ms) * 1000;

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
];
