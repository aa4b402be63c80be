import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { claimInstance, instanceFile, startProblems } from './instance';
import { repositoryRoot } from './shop-files';

const dirs: string[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  for (const server of servers.splice(0)) await new Promise((done) => server.close(done));
});

const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'loam-pos-start-'));
  dirs.push(dir);
  return dir;
};

/** A port held by another program for the duration of the test. */
async function heldPort(): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

async function freePort(): Promise<number> {
  const port = await heldPort();
  await new Promise((done) => servers.pop()?.close(done));
  return port;
}

describe('npm start, before it touches anything', () => {
  it('names each port in use, what needs it and how to move it', async () => {
    const taken = await heldPort();
    const free = await freePort();
    expect(
      await startProblems(tempDir(), [
        { port: taken, what: 'the relay', env: 'LOAM_PORT' },
        { port: free, what: 'the POS app', env: 'LOAM_POS_PORT' },
      ]),
    ).toEqual([
      `Port ${taken} (the relay) is already in use by another program. Stop that program, or start on another port: LOAM_PORT=${taken + 1} npm start`,
    ]);
  });

  it('refuses to start beside a running instance of the same data folder, and takes over a stale one', async () => {
    const dir = tempDir();
    const release = claimInstance(dir, {
      appUrl: 'http://127.0.0.1:1/?terminal=1',
      relayUrl: 'http://127.0.0.1:2',
    });
    writeFileSync(
      instanceFile(dir),
      JSON.stringify({
        pid: process.ppid,
        appUrl: 'http://127.0.0.1:1/?terminal=1',
        relayUrl: 'http://127.0.0.1:2',
      }),
    );
    const [problem] = await startProblems(dir, []);
    expect(problem).toMatch(
      /^Loam POS is already running \(process \d+\) on this data folder: the till is at http:\/\/127\.0\.0\.1:1\/\?terminal=1/,
    );
    writeFileSync(instanceFile(dir), JSON.stringify({ pid: 2 ** 22 + 12_345, appUrl: 'x', relayUrl: 'y' }));
    expect(await startProblems(dir, [])).toEqual([]);
    release();
    expect(existsSync(instanceFile(dir))).toBe(false);
  });

  it('exits with status 1 and a plain message when a port is taken, creating no file and building nothing', async () => {
    const dir = tempDir();
    const taken = await heldPort();
    const run = spawn(
      process.execPath,
      ['--import', 'tsx', join(repositoryRoot, 'apps/pos/src/node/start.ts')],
      {
        cwd: repositoryRoot,
        env: {
          ...process.env,
          LOAM_PORT: String(await freePort()),
          LOAM_POS_PORT: String(taken),
          LOAM_POS_DATA: dir,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    run.stdout.on('data', (chunk) => (output += chunk));
    run.stderr.on('data', (chunk) => (output += chunk));
    const code = await new Promise((done) => run.on('close', done));
    expect(code).toBe(1);
    expect(output.trim()).toBe(
      `Loam POS did not start:\n  - Port ${taken} (the POS app) is already in use by another program. Stop that program, or start on another port: LOAM_POS_PORT=${taken + 1} npm start`,
    );
    expect(readdirSync(dir)).toEqual([]);
  });
});
