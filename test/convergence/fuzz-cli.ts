/**
 * Long convergence runs: `npm run fuzz -- --seeds 5000 [--start 1] [--replicas 2,3,5] [--ops 300]`,
 * or replay one case: `npm run fuzz -- --seed 1234 --replicas 3 --ops 300`.
 * Exits non-zero on the first divergence, printing the replay command; add that case to regressions.json.
 * `npm run fuzz -- --protocol [--seed S] [--frames N]` fuzzes the relay protocol instead (test/fuzz/protocol-cli.ts).
 * `--stack` runs the real engines, sync clients and relay instead (see `stack/stack-cli.ts`).
 */
import { parseArgs } from 'node:util';
import { simulate } from './simulation';
import { runStackCli } from './stack/stack-cli';

if (process.argv.includes('--stack')) process.exit(await runStackCli(process.argv.slice(2)));

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1000' },
    start: { type: 'string', default: '1' },
    seed: { type: 'string' },
    replicas: { type: 'string', default: '2,3,5' },
    ops: { type: 'string', default: '300' },
    protocol: { type: 'boolean', default: false },
    frames: { type: 'string', default: '10000' },
  },
});
if (values.protocol) {
  const { runProtocolFuzzCli } = await import('../fuzz/protocol-cli');
  process.exit(await runProtocolFuzzCli(Number(values.seed ?? 1), Number(values.frames)));
}

const counts = values.replicas.split(',').map(Number);
const ops = Number(values.ops);
const first = Number(values.seed ?? values.start);
const total = values.seed === undefined ? Number(values.seeds) : 1;
if (![...counts, ops, first, total].every((n) => Number.isSafeInteger(n) && n > 0)) {
  console.error('usage: npm run fuzz -- [--seeds N] [--start S] [--seed S] [--replicas 2,3,5] [--ops 300]');
  process.exit(2);
}

const started = performance.now();
let runs = 0;
for (let seed = first; seed < first + total; seed++) {
  for (const replicas of counts) {
    const result = simulate({ seed, replicas, ops });
    runs++;
    if (!result.converged) {
      console.error(
        `DIVERGED: seed ${seed}, ${replicas} replicas, ${ops} writes (replica ${result.divergent} ≠ replica 0)`,
      );
      console.error(`replay: npm run fuzz -- --seed ${seed} --replicas ${replicas} --ops ${ops}`);
      console.error(
        `keep it: add { "seed": ${seed}, "replicas": ${replicas}, "ops": ${ops} } to test/convergence/regressions.json`,
      );
      process.exit(1);
    }
  }
  if ((seed - first + 1) % 100 === 0) console.log(`${seed - first + 1}/${total} seeds converged`);
}
console.log(`${runs} runs converged in ${((performance.now() - started) / 1000).toFixed(1)} s`);
