import { startTestServer, tempDir } from '@loam/server/testing';
import { afterAll, expect, it } from 'vitest';
import { fuzzProtocol } from './protocol-fuzz';

const tmp = tempDir('loam-protocol-fuzz-');
afterAll(() => tmp.cleanup());

it('mutated hello, push, subscribe and ack frames: typed refusals, nothing stored from them, the relay keeps serving', async () => {
  const server = await startTestServer(tmp.dir, {}, {});
  try {
    const report = await fuzzProtocol({
      server,
      seed: Number(process.env.LOAM_FUZZ_SEED ?? 1313),
      frames: 250,
    });
    expect(report.accepted).toBeGreaterThanOrEqual(5);
    expect(Object.keys(report.errorCodes)).toContain('frame_invalid');
  } finally {
    await server.close();
  }
}, 180_000);
