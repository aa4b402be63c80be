/**
 * `npm start`: the demo shop on this machine. Checks that no other instance runs on the data folder and that its
 * ports are free (else it says so and exits with status 1, having touched nothing), then starts the relay (SQLite
 * in `<data>/server.db`), seeds the demo store and catalog through its HTTP API (idempotent), builds the POS app
 * into `<data>/pos-app-<app port>/` and serves it, and prints the URLs.
 *
 * Ports: `LOAM_PORT` (relay, default 8787) and `LOAM_POS_PORT` (app, default 4173), both on 127.0.0.1. The data
 * folder is `.loam-data/` at the repository root (`LOAM_POS_DATA` moves it). Ctrl+C stops both servers.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LoamServer } from '@loam/server';
import type { PreviewServer } from 'vite';
import { claimInstance, startProblems } from './instance';
import { seedShop } from './seed';
import { repositoryRoot } from './shop-files';
import { buildPosApp, loadDevSecrets, servePosApp, startShopRelay } from './shop-server';

function fail(lines: readonly string[]): never {
  process.stderr.write(`\nLoam POS did not start:\n${lines.map((l) => `  - ${l}`).join('\n')}\n\n`);
  process.exit(1);
}

function portOf(name: string, fallback: number): number {
  const raw = process.env[name];
  const port = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    fail([`${name}=${raw} is not a port number (1 to 65535).`]);
  return port;
}

const relayPort = portOf('LOAM_PORT', 8787);
const appPort = portOf('LOAM_POS_PORT', 4173);
const dataDir = resolve(process.env.LOAM_POS_DATA || join(repositoryRoot, '.loam-data'));
const appUrl = `http://127.0.0.1:${appPort}`;
const relayUrl = `http://127.0.0.1:${relayPort}`;

const problems = await startProblems(dataDir, [
  { port: relayPort, what: 'the relay', env: 'LOAM_PORT' },
  { port: appPort, what: 'the POS app', env: 'LOAM_POS_PORT' },
]);
if (problems.length > 0) fail(problems);

mkdirSync(dataDir, { recursive: true });
const release = claimInstance(dataDir, { appUrl: `${appUrl}/?terminal=1`, relayUrl });
let relay: LoamServer | undefined;
let app: PreviewServer | undefined;
let stopping = false;

async function stop(code = 0): Promise<never> {
  if (!stopping) {
    stopping = true;
    await app?.close().catch(() => undefined);
    await relay?.close().catch(() => undefined);
    release();
  }
  process.exit(code);
}
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());

let seeded: Awaited<ReturnType<typeof seedShop>>;
try {
  const secrets = loadDevSecrets(join(dataDir, 'pos-dev-secrets.json'));
  const appOrigins = [appUrl, `http://localhost:${appPort}`, 'loam://pos'];
  relay = await startShopRelay({
    port: relayPort,
    baseDir: repositoryRoot,
    storagePath: join(dataDir, 'server.db'),
    secrets,
    appOrigins,
  });
  seeded = await seedShop({ url: relay.url, serviceToken: secrets.serviceToken });
  process.stdout.write('Building the POS app…\n');
  const outDir = join(dataDir, `pos-app-${appPort}`);
  await buildPosApp(outDir);
  app = await servePosApp({ port: appPort, outDir, syncUrl: relay.wsUrl, secrets });

  const till = (n: number) => `${appUrl}/?terminal=${n}`;
  process.stdout.write(
    [
      '',
      'Loam POS is running.',
      '',
      `  Till 1       ${till(1)}`,
      `  Till 2       ${till(2)}   (a second terminal of the same store: another tab or window)`,
      `  Relay        ${relay.url}   (sync ${relay.wsUrl}, data in ${join(dataDir, 'server.db')})`,
      `  Demo data    ${seeded.created.length} documents created, ${seeded.existing.length} already there`,
      '',
      `  Back office (the HTTP API, as the service token in ${join(dataDir, 'pos-dev-secrets.json')}):`,
      `    curl -s -H "Authorization: Bearer ${secrets.serviceToken}" -H "content-type: application/json" \\`,
      `      -d '{"sort":[{"field":"createdAt","dir":"desc"}]}' ${relay.url}/v1/collections/orders/query`,
      '',
      'Ctrl+C stops the app and the relay.',
      '',
    ].join('\n'),
  );
} catch (error) {
  const { code, message } = error as NodeJS.ErrnoException;
  process.stderr.write(
    `\nLoam POS did not start: ${code === 'EADDRINUSE' ? `a port was taken while starting (${message}). Try again, or choose other ports with LOAM_PORT and LOAM_POS_PORT.` : message}\n\n`,
  );
  await stop(1);
}
