/**
 * The pieces `npm start` and the browser tests run: the shop's relay (in-process), the POS app's build, and a
 * static server of that build with the demo sign-in endpoint. Node only.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type LoamServer, parseConfig, startServer } from '@loam/server';
import { build, type PreviewServer, preview } from 'vite';
import { PEER_GROUP_CLAIMS } from '../shop/terminal';
import { demoStore } from './demo-shop';
import { rulesFile, schemaFile } from './shop-files';
import { DEV_AUDIENCE, DEV_ISSUER } from './terminal-tokens';
import { posViteConfig } from './vite-config';

/** The relay's development credentials: the HS256 secret terminals' tokens are signed with, and the HTTP API token. */
export interface DevSecrets {
  readonly hs256Secret: string;
  readonly serviceToken: string;
}

/** Reads the secrets saved at `file`, or creates random ones there (mode 600) on first use. */
export function loadDevSecrets(file: string): DevSecrets {
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevSecrets>;
    if (typeof saved.hs256Secret === 'string' && typeof saved.serviceToken === 'string')
      return { hs256Secret: saved.hs256Secret, serviceToken: saved.serviceToken };
  }
  const secrets: DevSecrets = {
    hs256Secret: randomBytes(32).toString('base64url'),
    serviceToken: randomBytes(32).toString('base64url'),
  };
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return secrets;
}

/** Options of {@link startShopRelay}. */
export interface ShopRelayOptions {
  /** `0` for any free port. */
  readonly port: number;
  /** Folder relative paths resolve against (and where `storagePath` defaults to `.loam-data/server.db`). */
  readonly baseDir: string;
  readonly storagePath?: string;
  readonly secrets: DevSecrets;
  /** Origins of the app allowed to open a sync connection. */
  readonly appOrigins: readonly string[];
  /** `LOAM_*` overrides (default none). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Starts the relay with the shop's schema and rules, HS256 dev auth, the HTTP API and peering within a store. */
export async function startShopRelay(options: ShopRelayOptions): Promise<LoamServer> {
  const config = parseConfig(
    {
      port: options.port,
      host: '127.0.0.1',
      ...(options.storagePath === undefined ? {} : { storagePath: options.storagePath }),
      schemaFile,
      rulesFile,
      allowedOrigins: [...options.appOrigins],
      serviceToken: options.secrets.serviceToken,
      // Tills of one store may peer: the relay signals their WebRTC links and lists them in each other's roster.
      peers: { sameClaims: [...PEER_GROUP_CLAIMS] },
      auth: {
        hs256Secret: options.secrets.hs256Secret,
        issuer: DEV_ISSUER,
        audience: DEV_AUDIENCE,
        anonymous: false,
      },
    },
    { baseDir: options.baseDir, env: options.env ?? {} },
  );
  return await startServer({ config });
}

/** Builds the POS app into `outDir` (absolute, or relative to `apps/pos`). */
export async function buildPosApp(outDir: string): Promise<void> {
  await build({ ...posViteConfig({ port: 0, outDir }), logLevel: 'error' });
}

/** Options of {@link servePosApp}. */
export interface ServePosOptions {
  readonly port: number;
  readonly outDir: string;
  /** The relay terminals sync with. */
  readonly syncUrl: string;
  readonly secrets: DevSecrets;
  readonly storeId?: string;
}

/** Serves a build of the app (as `vite preview`) with `GET /dev/session` signing terminals of the store in. */
export async function servePosApp(options: ServePosOptions): Promise<PreviewServer> {
  return await preview(
    posViteConfig({
      port: options.port,
      outDir: options.outDir,
      devSession: {
        secret: options.secrets.hs256Secret,
        syncUrl: options.syncUrl,
        storeId: options.storeId ?? demoStore.id,
      },
    }),
  );
}
