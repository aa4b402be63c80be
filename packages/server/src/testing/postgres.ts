/**
 * PostgreSQL for tests, benchmarks and the real-stack fuzzer: every run gets its own schema in the database at
 * `LOAM_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`), dropped afterwards, so runs never see
 * each other's data. Store URLs carry the schema as `?schema=`.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

/** The test database (a `postgres://` URL). */
export const TEST_PG_URL = process.env.LOAM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A schema of the test database, owned by one run. */
export interface TestSchema {
  readonly schema: string;
  /** The store URL of the schema (`?schema=` added). */
  readonly url: string;
  /** Runs SQL in the test database with the schema on the search path (for assertions and faults). */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Drops the schema and everything in it, and closes the connection. */
  drop(): Promise<void>;
}

/** Reserves a fresh schema name in the test database (the store creates it on open). */
export function createTestSchema(prefix = 'loam_test'): TestSchema {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  const url = new URL(TEST_PG_URL);
  url.searchParams.set('schema', schema);
  const sql = postgres(TEST_PG_URL, {
    max: 1,
    onnotice: () => undefined,
    connection: { search_path: schema, application_name: 'loam-test' },
  });
  return {
    schema,
    url: url.href,
    query: (text, params = []) => sql.unsafe(text, params as never[]) as unknown as Promise<never[]>,
    async drop() {
      await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await sql.end({ timeout: 5 });
    },
  };
}
