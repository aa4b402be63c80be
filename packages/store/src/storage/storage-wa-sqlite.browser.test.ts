import { describe, expect, it } from 'vitest';
import { useBrowserHarness, type WorkerHandle } from '../../../../test/browser/harness';
import { driverConformanceCases } from './driver-conformance';
import type { CaseOutcome } from './storage-wa-sqlite.browser-worker';

const WORKER = '/packages/store/src/storage/storage-wa-sqlite.browser-worker.ts';
const harness = useBrowserHarness();

let worker: WorkerHandle | undefined;
async function storageWorker(): Promise<WorkerHandle> {
  if (!worker) {
    const page = await harness().newPage();
    worker = await harness().startWorker(page, WORKER);
  }
  return worker;
}

describe.each([
  ['AccessHandlePoolVFS (OPFS)', 'AccessHandlePoolVFS'],
  ['IDBBatchAtomicVFS (IndexedDB)', 'IDBBatchAtomicVFS'],
] as const)('wa-sqlite driver on %s in a Chromium worker', (_label, vfs) => {
  driverConformanceCases.forEach((testCase, i) => {
    it(testCase.name, async () => {
      const outcome = await (await storageWorker()).call<CaseOutcome>(
        'runCase',
        testCase.name,
        vfs,
        `${vfs}-${i}`,
      );
      if (!outcome.ok) throw new Error(outcome.message);
    });
  });
});

describe('wa-sqlite driver in Chromium: choosing and holding storage', () => {
  it('picks AccessHandlePoolVFS in a dedicated worker, with WAL and exclusive locking', async () => {
    const w = await storageWorker();
    expect(await w.call('detectVfs')).toBe('AccessHandlePoolVFS');
    expect(await w.call('open', 'auto-opfs', 'auto')).toMatchObject({
      backend: 'wa-sqlite/AccessHandlePoolVFS',
      persistent: true,
      journalMode: 'wal',
      lockingMode: 'exclusive',
    });
  });

  it('falls back to IndexedDB by itself when FileSystemSyncAccessHandle is missing, and says so', async () => {
    const info = await (await storageWorker()).call('openWithoutSyncAccessHandles', 'auto-idb');
    expect(info).toMatchObject({ backend: 'wa-sqlite/IDBBatchAtomicVFS', persistent: true });
  });

  it('refuses a second open of the same OPFS database with storage_busy', async () => {
    expect(await (await storageWorker()).call('openTwice', 'held', 'AccessHandlePoolVFS')).toEqual({
      code: 'storage_busy',
    });
  });

  it('finds committed data in a new worker after the first worker was terminated', async () => {
    const page = await harness().newPage();
    const first = await harness().startWorker(page, WORKER);
    const written = await first.call<{ ms: number }>('bulkInsert', 'killed', 'AccessHandlePoolVFS', 2000);
    expect(written.ms).toBeGreaterThan(0);
    await first.terminate();
    const second = await harness().startWorker(page, WORKER);
    expect(await second.call('countRows', 'killed', 'AccessHandlePoolVFS')).toBe(2000);
  });
});
