#!/usr/bin/env -S node --import tsx
/**
 * `loam-server [--config <file>] [--store <postgres://… | sqlite file>]`: starts the relay (`npm start -w
 * @loam/server`).
 *
 * The configuration file defaults to `./loam-server.json`; `LOAM_*` environment variables override it, and
 * `--store` overrides `LOAM_STORE` (see this package's README). A bad configuration exits with status 2 and names the key at fault; SIGINT and SIGTERM close the
 * server cleanly (committed batches are already durable).
 */
import { existsSync } from 'node:fs';
import { loadConfig } from './config/config';
import { ConfigError } from './errors';
import { startServer } from './server';
import { parsePostgresUrl } from './storage/storage-postgres';

function argument(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
}

const file = argument('--config') ?? process.env.LOAM_CONFIG ?? './loam-server.json';
try {
  if (!existsSync(file)) throw new ConfigError('--config', `no configuration file at ${file}`);
  const store = argument('--store');
  const config = loadConfig(file, store === undefined ? process.env : { ...process.env, LOAM_STORE: store });
  const server = await startServer({ config });
  const data =
    config.databaseUrl === undefined ? config.storagePath : parsePostgresUrl(config.databaseUrl).safe;
  process.stdout.write(`loam-server listening on ${server.url} (sync: ${server.wsUrl}, data: ${data})\n`);
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  process.stderr.write(`loam-server: ${(error as Error).message}\n`);
  process.exit(error instanceof ConfigError ? 2 : 1);
}
