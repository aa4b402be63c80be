/**
 * `npm start`: the demo shop on this machine. Starts the relay (SQLite in `.loam-data/server.db`), seeds the demo
 * store and catalog through its HTTP API (idempotent), builds the POS app and serves it, then prints the URLs.
 *
 * Ports: `LOAM_PORT` (relay, default 8787) and `LOAM_POS_PORT` (app, default 4173), both on 127.0.0.1.
 * Ctrl+C stops both servers.
 */
import { join } from 'node:path';
import { seedShop } from './seed';
import { repositoryRoot } from './shop-files';
import { buildPosApp, loadDevSecrets, servePosApp, startShopRelay } from './shop-server';

const relayPort = Number(process.env.LOAM_PORT ?? 8787);
const appPort = Number(process.env.LOAM_POS_PORT ?? 4173);
const appOrigins = [`http://127.0.0.1:${appPort}`, `http://localhost:${appPort}`, 'loam://pos'];
const secretsFile = join(repositoryRoot, '.loam-data', 'pos-dev-secrets.json');

const secrets = loadDevSecrets(secretsFile);
const relay = await startShopRelay({ port: relayPort, baseDir: repositoryRoot, secrets, appOrigins });
const seeded = await seedShop({ url: relay.url, serviceToken: secrets.serviceToken });
process.stdout.write('Building the POS app…\n');
const outDir = join(repositoryRoot, 'apps', 'pos', 'dist');
await buildPosApp(outDir);
const app = await servePosApp({ port: appPort, outDir, syncUrl: relay.wsUrl, secrets });

const till = (n: number) => `http://127.0.0.1:${appPort}/?terminal=${n}`;
process.stdout.write(
  [
    '',
    'Loam POS is running.',
    '',
    `  Till 1       ${till(1)}`,
    `  Till 2       ${till(2)}   (a second terminal of the same store: another tab or window)`,
    `  Relay        ${relay.url}   (sync ${relay.wsUrl}, data in .loam-data/server.db)`,
    `  Demo data    ${seeded.created.length} documents created, ${seeded.existing.length} already there`,
    '',
    '  Back office (the HTTP API, as the service token in .loam-data/pos-dev-secrets.json):',
    `    curl -s -H "Authorization: Bearer ${secrets.serviceToken}" -H "content-type: application/json" \\`,
    `      -d '{"sort":[{"field":"createdAt","dir":"desc"}]}' ${relay.url}/v1/collections/orders/query`,
    '',
    'Ctrl+C stops the app and the relay.',
    '',
  ].join('\n'),
);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await app.close();
  await relay.close();
  process.exit(0);
}
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
