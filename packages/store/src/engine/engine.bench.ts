/**
 * Engine write throughput in real Chromium on OPFS, against raw wa-sqlite doing the same inserts on the same VFS and
 * pragmas in the same run: bulk insert of 100k documents (target ≥ 0.5 of raw), small autocommit transactions, and
 * an initial sync of 100k documents from relay snapshots in the relay's frames, grouped as the sync client applies
 * them when they queue up (target ≥ 0.5 of raw; medians of alternating runs), run in a dedicated worker while the
 * page's UI thread keeps a 5 ms timer going (its longest stall is reported). The bulk insert also runs in Node, on
 * better-sqlite3 files, against raw better-sqlite3.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
import { type Bench, medianRounds } from '../../../../test/bench/bench';
import { startBrowserHarness, type WorkerHandle } from '../../../../test/browser/harness';
import { createBetterSqlite3Storage } from '../storage/storage-better-sqlite3';
import { bulkSchema, product, RAW_INSERT, RAW_PRODUCTS_DDL, rawRow, timedDriver } from './bulk-data';
import type { Timing } from './engine.browser-worker';
import { openEngine } from './open-engine';

const WORKER = '/packages/store/src/engine/engine.browser-worker.ts';
const BULK = Number(process.env.LOAM_BENCH_DOCS ?? 100_000);
const SMALL = 1_000;
/** Runs of each side of the initial sync (the median counts): one run in the browser swings with the machine. */
const SYNC_ROUNDS = 5;

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

/** Where a bulk insert's time went (`Timing.split`). */
const splitNote = (t: Timing) =>
  t.split
    ? `${t.ms.toFixed(0)} ms = JS ${(t.ms - t.split.sqlMs - t.split.commitMs).toFixed(0)} + statements ${t.split.sqlMs.toFixed(0)} + commit ${t.split.commitMs.toFixed(0)}`
    : `${t.ms.toFixed(0)} ms`;

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

/** Raw better-sqlite3 on a file in WAL mode with `synchronous=NORMAL`, as the driver opens it. */
function rawNodeBulk(file: string, count: number): Timing {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(RAW_PRODUCTS_DDL);
    const insert = db.prepare(RAW_INSERT);
    const start = performance.now();
    db.exec('BEGIN');
    for (let i = 0; i < count; i++) insert.run(...rawRow(i));
    const commit = performance.now();
    db.exec('COMMIT');
    const end = performance.now();
    return {
      ms: end - start,
      operations: count,
      backend: 'raw better-sqlite3',
      split: { sqlMs: commit - start, commitMs: end - commit },
    };
  } finally {
    db.close();
  }
}

async function loamNodeBulk(file: string, count: number): Promise<Timing> {
  const { driver, split } = timedDriver(await createBetterSqlite3Storage({ filename: file }));
  const engine = await openEngine({ driver, schema: bulkSchema });
  try {
    const docs = Array.from({ length: count }, (_, i) => product(i));
    Object.assign(split, { sqlMs: 0, commitMs: 0 });
    const start = performance.now();
    await engine.insertMany('products', docs);
    return { ms: performance.now() - start, operations: count, backend: engine.storage.backend, split };
  } finally {
    await engine.close();
  }
}

export const benches: Bench[] = [
  {
    name: `store: bulk insert ${BULK / 1000}k documents in one transaction, Loam vs raw better-sqlite3 (Node, file)`,
    async run() {
      const dir = mkdtempSync(join(tmpdir(), 'loam-bulk-bench-'));
      try {
        const raw = rawNodeBulk(join(dir, 'raw.db'), BULK);
        const loam = await loamNodeBulk(join(dir, 'loam.db'), BULK);
        return {
          figure: perSecond(loam),
          unit: 'docs/s',
          higherIsBetter: true,
          baseline: { name: 'raw prepared INSERT', figure: perSecond(raw) },
          notes: `${splitNote(loam)}; raw: ${splitNote(raw)}`,
        };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
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
          notes: `${loam.backend}; Loam also writes the outbox and merge metadata; ${splitNote(loam)}; raw: ${splitNote(raw)}`,
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
        let uiGap = 0;
        const { baseline: raw, subject: loam } = await medianRounds(
          SYNC_ROUNDS,
          (round) => worker.call<Timing>('rawInitialSync', `sync-raw-${round}`, BULK),
          async (round) => {
            const stop = await watchUiThread(page);
            const timing = await worker.call<Timing>('loamInitialSync', `sync-loam-${round}`, BULK);
            uiGap = Math.max(uiGap, await stop());
            return timing;
          },
        );
        return {
          figure: perSecond(loam),
          unit: 'docs/s',
          higherIsBetter: true,
          baseline: { name: 'raw prepared INSERT', figure: perSecond(raw) },
          target: 0.5,
          notes: `medians of ${SYNC_ROUNDS} alternating runs; ${loam.backend}; relay frames of 256 snapshots applied 32 at a time as the sync client groups them, longest group ${loam.longestPageMs?.toFixed(0)} ms; UI thread's longest stall in any run ${uiGap.toFixed(0)} ms`,
        };
      }),
  },
];
