/**
 * The real-stack fuzzer with its relay on PostgreSQL (`LOAM_TEST_PG_URL`, a schema of its own per seed, dropped
 * afterwards): a handful of seeds with the fault classes `stack.test.ts` runs on SQLite. Skipped, saying why, only
 * when PostgreSQL cannot be reached. `npm run fuzz -- --stack --store postgres` runs more seeds.
 */
import { TEST_PG_URL } from '@loam/server/testing';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { type FaultClass, runStack } from './run-stack';

const SEEDS = 4;
const TRANSACTIONS = 200;
const DEVICES = 3;
/** As in `stack.test.ts` (`restore` fails on either store: an open bug; `unsubscribe` waits for its clean run). */
const FAULTS: FaultClass[] = ['network', 'concurrent', 'throwing', 'restart', 'reset', 'nested', 'refusals'];

async function unreachable(): Promise<string | undefined> {
  const sql = postgres(TEST_PG_URL, { max: 1, connect_timeout: 5, onnotice: () => undefined });
  try {
    await sql`SELECT 1`;
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => undefined);
  }
}

const why = await unreachable();
if (why !== undefined)
  console.warn(
    `Skipping the real-stack fuzzer on PostgreSQL: ${new URL(TEST_PG_URL).host} unreachable (${why})`,
  );

describe.skipIf(why !== undefined)('the real stack converges with its relay on PostgreSQL', () => {
  it(`${SEEDS} seeds × ${TRANSACTIONS} transactions over ${DEVICES} devices`, async () => {
    let committed = 0;
    let restarts = 0;
    let resets = 0;
    let cuts = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const options = { seed, devices: DEVICES, transactions: TRANSACTIONS, faults: FAULTS };
      const r = await runStack({ ...options, store: 'postgres' });
      const replay = `npm run fuzz -- --stack --seed ${seed} --devices ${DEVICES} --transactions ${TRANSACTIONS} --faults ${FAULTS.join(',')} --store postgres`;
      if (r.failures.length > 0)
        throw new Error(`${r.failures.map((f) => `${f.check}: ${f.detail}`).join('\n')}\nReplay: ${replay}`);
      committed += r.committed;
      restarts += r.restarts;
      resets += r.resets;
      cuts += r.network.cuts;
    }
    // The faults really happened: the store was closed and opened again, history folded away, links cut.
    expect(committed).toBeGreaterThan(SEEDS * TRANSACTIONS * 0.5);
    expect(restarts).toBeGreaterThan(0);
    expect(resets).toBeGreaterThan(0);
    expect(cuts).toBeGreaterThan(0);
  }, 600_000);
});
