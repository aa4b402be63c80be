import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoamServer } from '@loam/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoProducts, demoStore } from './demo-shop';
import { seedShop } from './seed';
import { loadDevSecrets, startShopRelay } from './shop-server';

let dir: string;
let relay: LoamServer;
let serviceToken: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loam-pos-seed-'));
  const secrets = loadDevSecrets(join(dir, 'secrets.json'));
  serviceToken = secrets.serviceToken;
  relay = await startShopRelay({ port: 0, baseDir: dir, secrets, appOrigins: [] });
});

afterAll(async () => {
  await relay?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function query(collection: string): Promise<Record<string, unknown>[]> {
  const response = await fetch(`${relay.url}/v1/collections/${collection}/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${serviceToken}`, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { docs: Record<string, unknown>[] }).docs;
}

describe('seedShop against a real relay', () => {
  it('creates the store and catalog once; running it again duplicates nothing and keeps sold stock', async () => {
    const first = await seedShop({ url: relay.url, serviceToken });
    expect(first.created).toHaveLength(demoProducts.length + 1);
    expect(first.existing).toEqual([]);

    const croissant = demoProducts.find((p) => p.id === 'prod-croissant');
    const sold = await fetch(`${relay.url}/v1/collections/products/docs/prod-croissant/increment`, {
      method: 'POST',
      headers: { authorization: `Bearer ${serviceToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ field: 'stock', by: -3 }),
    });
    expect(sold.status).toBe(200);

    const second = await seedShop({ url: relay.url, serviceToken });
    expect(second.created).toEqual([]);
    expect(second.existing).toHaveLength(demoProducts.length + 1);

    const products = await query('products');
    expect(products).toHaveLength(demoProducts.length);
    expect(products.find((p) => p.id === 'prod-croissant')?.stock).toBe((croissant?.stock ?? 0) - 3);
    expect(await query('stores')).toEqual([
      expect.objectContaining({ id: demoStore.id, name: demoStore.name }),
    ]);
  });

  it('reports a refused request instead of claiming success', async () => {
    await expect(
      seedShop({ url: relay.url, serviceToken: 'wrong-token-wrong-token-wrong-token' }),
    ).rejects.toThrow(/HTTP 401/);
  });

  it('keeps the dev secrets it generated', () => {
    const file = join(dir, 'secrets.json');
    expect(loadDevSecrets(file)).toEqual(loadDevSecrets(file));
    expect(loadDevSecrets(file).hs256Secret.length).toBeGreaterThanOrEqual(32);
  });
});
