/**
 * Benchmarks of the browser storage VFSs, measured in real Chromium on real OPFS and IndexedDB: bulk insert of
 * 100k rows in one transaction, and 1,000 small autocommit transactions. Figures are per second (higher is
 * better); the driver's bulk insert is compared with raw wa-sqlite prepared inserts in the same run.
 * `INTERNALS.md` records the figures that chose the default VFS and pragmas.
 */
import type { Bench } from '../../../../test/bench/bench';
import { startBrowserHarness, type WorkerHandle } from '../../../../test/browser/harness';
import type { WaSqliteVfs } from './storage-wa-sqlite';
import type { Measurement } from './storage-wa-sqlite.browser-worker';

const WORKER = '/packages/store/src/storage/storage-wa-sqlite.browser-worker.ts';
const BULK_ROWS = 100_000;
const SMALL_TRANSACTIONS = 1_000;
const WAL_EXCLUSIVE = [
  'PRAGMA temp_store=MEMORY',
  'PRAGMA locking_mode=exclusive',
  'PRAGMA journal_mode=WAL',
];
const DELETE_NORMAL = ['PRAGMA temp_store=MEMORY'];
const DELETE_EXCLUSIVE = ['PRAGMA temp_store=MEMORY', 'PRAGMA locking_mode=exclusive'];

async function inWorker<T>(fn: (worker: WorkerHandle) => Promise<T>): Promise<T> {
  const harness = await startBrowserHarness({ storage: 'disk' });
  try {
    const worker = await harness.startWorker(await harness.newPage(), WORKER);
    return await fn(worker);
  } finally {
    await harness.close();
  }
}

const perSecond = (m: { ms: number; operations: number }) => Math.round((m.operations / m.ms) * 1000);

function bulk(vfs: WaSqliteVfs, label: string, pragmas: readonly string[]): Bench {
  return {
    name: `bulk insert ${BULK_ROWS} rows, one transaction: ${vfs} ${label}`,
    run: () =>
      inWorker(async (worker) => {
        const driver = await worker.call<Measurement>('bulkInsert', 'bulk', vfs, BULK_ROWS, [...pragmas]);
        const raw =
          vfs === 'AccessHandlePoolVFS'
            ? await worker.call<Measurement>('rawBulkInsert', 'raw', BULK_ROWS, [...pragmas])
            : undefined;
        return {
          figure: perSecond(driver),
          unit: 'rows/s',
          higherIsBetter: true,
          ...(raw
            ? { baseline: { name: 'raw wa-sqlite prepared inserts, same VFS', figure: perSecond(raw) } }
            : {}),
        };
      }),
  };
}

function small(vfs: WaSqliteVfs, label: string, pragmas: readonly string[]): Bench {
  return {
    name: `${SMALL_TRANSACTIONS} autocommit single-row transactions: ${vfs} ${label}`,
    run: () =>
      inWorker(async (worker) => {
        const m = await worker.call<Measurement>('smallTransactions', 'small', vfs, SMALL_TRANSACTIONS, [
          ...pragmas,
        ]);
        return { figure: perSecond(m), unit: 'transactions/s', higherIsBetter: true };
      }),
  };
}

/** Every VFS benchmark, the chosen configuration (AccessHandlePoolVFS, WAL + exclusive) first. */
export const benches: readonly Bench[] = [
  bulk('AccessHandlePoolVFS', 'WAL + exclusive', WAL_EXCLUSIVE),
  small('AccessHandlePoolVFS', 'WAL + exclusive', WAL_EXCLUSIVE),
  bulk('AccessHandlePoolVFS', 'rollback journal', DELETE_NORMAL),
  small('AccessHandlePoolVFS', 'rollback journal', DELETE_NORMAL),
  bulk('OriginPrivateFileSystemVFS', 'WAL + exclusive', WAL_EXCLUSIVE),
  small('OriginPrivateFileSystemVFS', 'WAL + exclusive', WAL_EXCLUSIVE),
  bulk('OriginPrivateFileSystemVFS', 'rollback journal + exclusive', DELETE_EXCLUSIVE),
  small('OriginPrivateFileSystemVFS', 'rollback journal + exclusive', DELETE_EXCLUSIVE),
  small('OriginPrivateFileSystemVFS', 'rollback journal, normal locking', DELETE_NORMAL),
  bulk('IDBBatchAtomicVFS', 'default', ['PRAGMA temp_store=MEMORY', 'PRAGMA journal_mode=MEMORY']),
  small('IDBBatchAtomicVFS', 'default', ['PRAGMA temp_store=MEMORY', 'PRAGMA journal_mode=MEMORY']),
];
