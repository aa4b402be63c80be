import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { conformanceSchema, runServerStoreCase, serverStoreCases } from './server-store-conformance';
import { createSqliteServerStore } from './storage-sqlite';

const dir = mkdtempSync(join(tmpdir(), 'loam-server-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SQLite server store', () => {
  serverStoreCases.forEach((testCase, i) => {
    it(testCase.name, async () => {
      const filename = join(dir, `case-${i}.db`);
      await runServerStoreCase(testCase, () =>
        createSqliteServerStore({ filename, schema: conformanceSchema }),
      );
    });
  });
});
