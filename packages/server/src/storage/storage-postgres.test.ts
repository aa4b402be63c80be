import { afterAll, describe, it } from 'vitest';
import { createTestSchema, type TestSchema } from '../testing/postgres';
import { conformanceSchema, runServerStoreCase, serverStoreCases } from './server-store-conformance';
import { createPostgresServerStore } from './storage-postgres';

const schemas: TestSchema[] = [];
afterAll(async () => {
  for (const s of schemas) await s.drop();
});

describe('PostgreSQL server store', () => {
  for (const testCase of serverStoreCases) {
    it(testCase.name, async () => {
      const db = createTestSchema();
      schemas.push(db);
      await runServerStoreCase(testCase, () =>
        createPostgresServerStore({ url: db.url, schema: conformanceSchema, poolSize: 3 }),
      );
    });
  }
});
