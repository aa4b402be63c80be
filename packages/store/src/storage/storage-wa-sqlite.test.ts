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
