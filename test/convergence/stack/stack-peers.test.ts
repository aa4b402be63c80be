/**
 * The real-stack fuzzer with peers in every `npm test`: 10 seeds where devices also sync with each other over
 * faulty peer links, in random topologies with partitions, some reaching only their peers for a while (see
 * `peer-mesh.ts`). `reset` and `refusals` are left out here: with them and peers, seeds 2, 7 and 18 of
 * `npm run fuzz -- --stack --faults network,concurrent,throwing,restart,reset,nested,refusals,peers` still end
 * with a list or text field different on a device (around a clerk's refused delete and re-create), an open bug.
 */
import { describe, expect, it } from 'vitest';
import { type FaultClass, runStack } from './run-stack';

const SEEDS = 10;
const FAULTS: FaultClass[] = ['network', 'concurrent', 'throwing', 'restart', 'nested', 'peers'];

describe('the real stack converges with peers (engines, sync clients, peer links, relay) under faults', () => {
  it(`${SEEDS} seeds × 200 transactions over 3 devices with peers`, async () => {
    let frames = 0;
    let partitions = 0;
    let topologies = 0;
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
    }
    // Peer traffic, partitions and topology changes really happened.
    expect(frames).toBeGreaterThan(SEEDS * 50);
    expect(partitions).toBeGreaterThan(0);
    expect(topologies).toBeGreaterThan(SEEDS);
  }, 900_000);
});
