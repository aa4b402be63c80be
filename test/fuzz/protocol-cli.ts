/**
 * `npm run fuzz -- --protocol [--seed S] [--frames N]`: a long protocol fuzz run (see `protocol-fuzz.ts`) against a
 * relay started in this process on a temporary database. Prints progress and the error codes seen; exits non-zero
 * on the first failure, naming the seed and frame to replay.
 */
import { startTestServer, tempDir } from '@loam/server/testing';
import { fuzzProtocol } from './protocol-fuzz';

/** Runs the protocol fuzz for `frames` frames from `seed`; resolves with the process exit code. */
export async function runProtocolFuzzCli(seed: number, frames: number): Promise<number> {
  const tmp = tempDir('loam-protocol-fuzz-');
  const server = await startTestServer(tmp.dir);
  const started = performance.now();
  try {
    const report = await fuzzProtocol({
      server,
      seed,
      frames,
      progress: (done) => {
        if (done % 1000 === 0) console.log(`${done}/${frames} frames`);
      },
    });
    const seconds = (performance.now() - started) / 1000;
    console.log(`${report.frames} frames (seed ${seed}) in ${seconds.toFixed(1)} s: the relay kept serving`);
    console.log(`error codes: ${JSON.stringify(report.errorCodes)}`);
    return 0;
  } catch (error) {
    console.error(`FAILED: ${(error as Error).message}`);
    console.error(`replay: npm run fuzz -- --protocol --seed ${seed} --frames ${frames}`);
    return 1;
  } finally {
    await server.close();
    tmp.cleanup();
  }
}
