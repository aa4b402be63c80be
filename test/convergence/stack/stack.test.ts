/**
 * The real-stack fuzzer in every `npm test`: the stack's regression seeds, then 50 seeds of 200 transactions over
 * three devices with the fault classes below. A failure names the broken invariants and the replay command.
 */
import { describe, expect, it } from 'vitest';
import regressions from '../regressions.json';
import { DEFAULT_FAULTS, runStack, type StackRunOptions } from './run-stack';

const SEEDS = 50;
const TRANSACTIONS = 200;
const DEVICES = 3;
/**
 * Every class but `peers`: a seed with peer links costs about 5× one without (50 seeds: 132.9 s against 26.5 s, load
 * 12), so `stack-peers.test.ts` runs them, on 10 seeds; the CLI's default includes them.
 */
const FAULTS = DEFAULT_FAULTS.filter((f) => f !== 'peers');

async function check(options: StackRunOptions) {
  const result = await runStack(options);
  const replay = `npm run fuzz -- --stack --seed ${options.seed} --devices ${options.devices} --transactions ${options.transactions} --faults ${options.faults.join(',')}`;
  if (result.failures.length > 0)
    throw new Error(`${result.failures.map((f) => `${f.check}: ${f.detail}`).join('\n')}\nReplay: ${replay}`);
  return result;
}

describe('the real stack converges (engines, sync clients, relay) under faults', () => {
  it.each(regressions.stack.cases as StackRunOptions[])(
    'regression seed $seed ($faults)',
    async (c) => {
      await check(c);
    },
    120_000,
  );

  it(`${SEEDS} seeds × ${TRANSACTIONS} transactions over ${DEVICES} devices`, async () => {
    let committed = 0;
    let rolledBack = 0;
    let cuts = 0;
    let restarts = 0;
    let resets = 0;
    let restores = 0;
    let refused = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = await check({ seed, devices: DEVICES, transactions: TRANSACTIONS, faults: FAULTS });
      committed += r.committed;
      rolledBack += r.rolledBack;
      cuts += r.network.cuts;
      restarts += r.restarts;
      resets += r.resets;
      restores += r.restores;
      refused += r.refused;
    }
    // The faults really happened.
    expect(committed).toBeGreaterThan(SEEDS * TRANSACTIONS * 0.5);
    expect(rolledBack).toBeGreaterThan(0);
    expect(cuts).toBeGreaterThan(0);
    expect(restarts).toBeGreaterThan(0);
    expect(resets).toBeGreaterThan(0);
    expect(restores).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  }, 600_000);
});
