import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { driverConformanceCases, runConformanceCase } from './driver-conformance';
import { createWaSqliteStorage } from './storage-wa-sqlite';

const wasmBinary = readFileSync(createRequire(import.meta.url).resolve('wa-sqlite/dist/wa-sqlite.wasm'));

describe('wa-sqlite driver on MemoryVFS, in Node', () => {
  driverConformanceCases.forEach((testCase, i) => {
    it(testCase.name, async () => {
      await runConformanceCase(testCase, () =>
        createWaSqliteStorage({ name: `case-${i}`, vfs: 'MemoryVFS', wasmBinary }),
      );
    });
  });

  it('refuses to pick a VFS where no browser storage exists, rather than silently using memory', async () => {
    await expect(createWaSqliteStorage({ name: 'x', wasmBinary })).rejects.toMatchObject({
      code: 'storage_unavailable',
    });
  });

  it('reports the memory VFS as non-persistent', async () => {
    const driver = await createWaSqliteStorage({ name: 'info', vfs: 'MemoryVFS', wasmBinary });
    expect(driver.info).toMatchObject({
      backend: 'wa-sqlite/MemoryVFS',
      persistent: false,
      durability: 'memory',
    });
    await driver.close();
  });
});

describe('wa-sqlite driver in WAL mode', () => {
  const walPragmas = ['PRAGMA locking_mode=exclusive', 'PRAGMA journal_mode=WAL'];
  /** Frames in the WAL now (a passive checkpoint reports them without waiting for anything). */
  const walFrames = async (driver: Awaited<ReturnType<typeof createWaSqliteStorage>>) =>
    Number((await driver.get('PRAGMA wal_checkpoint(PASSIVE)'))?.log);

  it('empties the WAL once writes have gone quiet, keeping every committed row', async () => {
    const driver = await createWaSqliteStorage({
      name: 'wal',
      vfs: 'MemoryVFS',
      pragmas: walPragmas,
      wasmBinary,
    });
    try {
      expect(driver.info.journalMode).toBe('wal');
      await driver.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
      for (let i = 0; i < 20; i++) await driver.run('INSERT INTO t (body) VALUES (?)', [`row ${i}`]);
      expect(await walFrames(driver)).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(await walFrames(driver)).toBe(0);
      expect(await driver.get('SELECT count(*) AS n FROM t')).toEqual({ n: 20 });
    } finally {
      await driver.close();
    }
  });
});
