import { tempDir } from '@loam/server/testing';
import { afterAll, expect, it } from 'vitest';
import { runSoak } from './soak';

const tmp = tempDir('loam-soak-test-');
afterAll(() => tmp.cleanup());

it('60 s, 200 terminals in 2 worker processes, 100 writes/s, relay SIGKILLed twice, random disconnects: every write stored once, every terminal converges', async () => {
  const report = await runSoak({
    dir: tmp.dir,
    seconds: 60,
    clients: 200,
    rate: 100,
    shopSize: 10,
    workers: 2,
    killEveryMs: 25_000,
    disconnectEveryMs: 1000,
    drainTimeoutMs: 240_000,
  });
  console.log(`soak: ${JSON.stringify(report)}`);
  expect(report.written).toBeGreaterThan(1000);
  expect(report.relayKills).toBe(2);
  expect({ missing: report.missing, wrong: report.wrong, diverged: report.diverged }).toEqual({
    missing: 0,
    wrong: 0,
    diverged: 0,
  });
}, 600_000);
