/**
 * The real-stack fuzzer with peers in every `npm test`: 10 seeds where devices also sync with each other over
 * faulty peer links, in random topologies with partitions, some reaching only their peers for a while (see
 * `peer-mesh.ts`), with the faults that touch what peers carry: restarts, client resets, databases put back to an
 * older copy (`restore`: a peer may hold and forward writes its author lost) and refused writes. `unsubscribe` is
 * left to `stack.test.ts` and the CLI; 100 seeds of every class pass (`npm run fuzz -- --stack --seeds 100
 * --faults network,concurrent,throwing,unsubscribe,restart,reset,restore,nested,refusals,peers`).
 */
import { describe, expect, it } from 'vitest';
import { type FaultClass, runStack } from './run-stack';

const SEEDS = 10;
const FAULTS: FaultClass[] = [
  'network',
  'concurrent',
  'throwing',
  'restart',
  'reset',
  'restore',
  'nested',
  'refusals',
  'peers',
];

describe('the real stack converges with peers (engines, sync clients, peer links, relay) under faults', () => {
  it(`${SEEDS} seeds × 200 transactions over 3 devices with peers`, async () => {
    let frames = 0;
    let partitions = 0;
    let topologies = 0;
    let restores = 0;
    let resets = 0;
    let refused = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const result = await runStack({ seed, devices: 3, transactions: 200, faults: FAULTS });
      const replay = `npm run fuzz -- --stack --seed ${seed} --faults ${FAULTS.join(',')}`;
      if (result.failures.length > 0)
        throw new Error(
          `${result.failures.map((f) => `${f.check}: ${f.detail}`).join('\n')}\nReplay: ${replay}`,
        );
      frames += result.peers?.frames ?? 0;
      partitions += result.peers?.partitions ?? 0;
      topologies += result.peers?.topologies ?? 0;
      restores += result.restores;
      resets += result.resets;
      refused += result.refused;
    }
    // Peer traffic, partitions and topology changes really happened.
    expect(frames).toBeGreaterThan(SEEDS * 50);
    expect(partitions).toBeGreaterThan(0);
    expect(topologies).toBeGreaterThan(SEEDS);
    // So did the faults beside them.
    expect(restores).toBeGreaterThan(0);
    expect(resets).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  }, 900_000);
});
