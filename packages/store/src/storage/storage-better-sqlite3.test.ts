import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { driverConformanceCases, runConformanceCase } from './driver-conformance';
import { createBetterSqlite3Storage } from './storage-better-sqlite3';

const dir = mkdtempSync(join(tmpdir(), 'loam-better-sqlite3-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('better-sqlite3 driver, file database', () => {
  driverConformanceCases.forEach((testCase, i) => {
    it(testCase.name, async () => {
      const filename = join(dir, `case-${i}.sqlite3`);
      await runConformanceCase(testCase, () => createBetterSqlite3Storage({ filename }));
    });
  });
});

describe('better-sqlite3 driver, :memory:', () => {
  driverConformanceCases.forEach((testCase) => {
    it(testCase.name, async () => {
      await runConformanceCase(testCase, () => createBetterSqlite3Storage({ filename: ':memory:' }));
    });
  });
});

describe('better-sqlite3 driver specifics', () => {
  it('opens files in WAL mode with synchronous=NORMAL unless asked for FULL', async () => {
    const normal = await createBetterSqlite3Storage({ filename: join(dir, 'normal.sqlite3') });
    expect(normal.info).toMatchObject({ journalMode: 'wal', durability: 'process-crash', persistent: true });
    expect(await normal.get('PRAGMA synchronous')).toEqual({ synchronous: 1 });
    await normal.close();
    const full = await createBetterSqlite3Storage({
      filename: join(dir, 'full.sqlite3'),
      synchronous: 'full',
    });
    expect(full.info.durability).toBe('power-loss');
    expect(await full.get('PRAGMA synchronous')).toEqual({ synchronous: 2 });
    await full.close();
  });

  it('refuses a file that is not a database with storage_corrupt', async () => {
    const { writeFileSync } = await import('node:fs');
    const filename = join(dir, 'not-a-db.sqlite3');
    writeFileSync(filename, 'this is not a SQLite database, just some text that is long enough'.repeat(100));
    await expect(createBetterSqlite3Storage({ filename })).rejects.toMatchObject({ code: 'storage_corrupt' });
  });
});
