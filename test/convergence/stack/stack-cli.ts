/**
 * The real-stack mode of `npm run fuzz`:
 * `npm run fuzz -- --stack --seeds 1000 [--start 1] [--devices 3] [--transactions 200] [--faults network,restart]`,
 * or replay one case: `npm run fuzz -- --stack --seed 1234 [--faults ...]`. Every fault class (`peers` included) is
 * on unless `--faults` names some. Exits non-zero after the first failing seed, printing its replay command and the entry
 * to add to the `stack` section of `regressions.json`; with `--keep-going` it runs every seed and counts failures;
 * `--trace item-a` lists, for a failing seed, every op pushed on that document and the relay's answers;
 * `--store postgres` runs the relay on PostgreSQL (`LOAM_TEST_PG_URL`, a schema of its own per seed).
 * `--sigkill` runs the relay as a child process killed with SIGKILL and restarted, in real time (`run-sigkill.ts`).
 * A seed that has not ended after `SEED_TIMEOUT_S` is reported as hung, with its replay command, and the run exits.
 */
import { parseArgs } from 'node:util';
import type { StoreKind } from './relay-host';
import { runSigkill } from './run-sigkill';
import { DEFAULT_FAULTS, FAULT_CLASSES, type FaultClass, runStack } from './run-stack';

/** A seed's time limit: a few seconds is usual, a minute on a loaded machine. */
const SEED_TIMEOUT_S = 300;

const USAGE =
  'usage: npm run fuzz -- --stack [--seeds N] [--start S] [--seed S] [--devices 3] [--transactions 200] ' +
  `[--faults ${FAULT_CLASSES.join(',')}] [--keep-going] [--trace DOC_ID] [--store sqlite|postgres] [--sigkill]`;

/** Runs the stack fuzzer with the command line's arguments; resolves with the exit code. */
export async function runStackCli(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      stack: { type: 'boolean' },
      sigkill: { type: 'boolean' },
      'keep-going': { type: 'boolean' },
      trace: { type: 'string' },
      seeds: { type: 'string', default: '100' },
      start: { type: 'string', default: '1' },
      seed: { type: 'string' },
      devices: { type: 'string', default: '3' },
      transactions: { type: 'string', default: '200' },
      faults: { type: 'string', default: DEFAULT_FAULTS.join(',') },
      store: { type: 'string', default: 'sqlite' },
    },
  });
  const faults = values.faults.split(',').filter((f) => f !== '') as FaultClass[];
  const devices = Number(values.devices);
  const transactions = Number(values.transactions);
  const first = Number(values.seed ?? values.start);
  const total = values.seed === undefined ? Number(values.seeds) : 1;
  const numbers = [devices, transactions, first, total];
  if (
    !numbers.every((n) => Number.isSafeInteger(n) && n > 0) ||
    faults.some((f) => !FAULT_CLASSES.includes(f)) ||
    !['sqlite', 'postgres'].includes(values.store)
  ) {
    console.error(USAGE);
    return 2;
  }
  const store = values.store as StoreKind;
  const flags = `--devices ${devices} --transactions ${transactions} ${values.sigkill ? '--sigkill' : `--faults ${faults.join(',')} --store ${store}`}`;
  const started = performance.now();
  let failed = 0;
  let kills = 0;
  for (let seed = first; seed < first + total; seed++) {
    const trace = values.trace === undefined ? {} : { trace: values.trace };
    // A seed that never ends is a failure too: name it rather than wait forever.
    const watchdog = setTimeout(() => {
      console.error(`HUNG: seed ${seed} did not end within ${SEED_TIMEOUT_S} s (${store})`);
      console.error(`replay: npm run fuzz -- --stack --seed ${seed} ${flags}`);
      process.exit(1);
    }, SEED_TIMEOUT_S * 1000);
    const result = values.sigkill
      ? await runSigkill({ seed, devices, transactions })
      : await runStack({ seed, devices, transactions, faults, store, ...trace });
    clearTimeout(watchdog);
    kills += result.restarts;
    if (result.failures.length > 0) {
      failed++;
      console.error(
        `FAILED: seed ${seed} (${devices} devices, ${transactions} transactions, ${faults.join(',')}, ${store})`,
      );
      for (const f of result.failures.slice(0, 10)) console.error(`  ${f.check}: ${f.detail}`);
      if (result.failures.length > 10) console.error(`  ... and ${result.failures.length - 10} more`);
      for (const line of result.trace ?? []) console.error(`  ${line}`);
      console.error(`replay: npm run fuzz -- --stack --seed ${seed} ${flags}`);
      console.error(
        `keep it: add ${JSON.stringify({ seed, devices, transactions, faults })} to the "stack" cases of test/convergence/regressions.json`,
      );
      if (!values['keep-going']) break;
    }
    if ((seed - first + 1) % 50 === 0) console.log(`${seed - first + 1}/${total} seeds`);
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (failed > 0) {
    console.error(`${failed} of ${total} seeds failed in ${seconds} s`);
    return 1;
  }
  const what = values.sigkill ? `relay process killed ${kills} times` : faults.join(',');
  console.log(
    `${total} seeds passed (${devices} devices × ${transactions} transactions, ${what}) in ${seconds} s`,
  );
  return 0;
}
