/**
 * Seeds a store and its catalog through the relay's HTTP API, as a back office would. Idempotent: documents are
 * created with fixed ids, and one that already exists is left as it is (its stock and price may have moved on).
 */
import { demoProducts, demoStore, type SeedDoc } from './demo-shop';

/** Where and as whom to seed. */
export interface SeedOptions {
  /** `http://host:port` of the relay. */
  readonly url: string;
  /** The relay's `serviceToken`. */
  readonly serviceToken: string;
  readonly store?: SeedDoc<'stores'>;
  readonly products?: readonly SeedDoc<'products'>[];
}

/** What seeding did. */
export interface SeedReport {
  /** Ids of the documents created now. */
  readonly created: string[];
  /** Ids of the documents that were already there. */
  readonly existing: string[];
}

/** Calls the relay's HTTP API; rejects with the server's `{ code, message }` on unexpected statuses. */
async function call(options: SeedOptions, method: string, path: string, body?: unknown): Promise<Response> {
  return await fetch(new URL(path, options.url), {
    method,
    headers: { authorization: `Bearer ${options.serviceToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function failure(response: Response, what: string): Promise<Error> {
  const text = await response.text();
  return new Error(`Seeding ${what} failed: HTTP ${response.status} ${text}`);
}

/** Creates the store and every product that does not exist yet. */
export async function seedShop(options: SeedOptions): Promise<SeedReport> {
  const report: SeedReport = { created: [], existing: [] };
  const docs: [string, SeedDoc<'stores'> | SeedDoc<'products'>][] = [
    ['stores', options.store ?? demoStore],
    ...(options.products ?? demoProducts).map((p): [string, SeedDoc<'products'>] => ['products', p]),
  ];
  for (const [collection, doc] of docs) {
    const response = await call(options, 'POST', `/v1/collections/${collection}/docs`, doc);
    if (response.status === 201) report.created.push(doc.id);
    else if (response.status === 409) report.existing.push(doc.id);
    else throw await failure(response, `${collection}/${doc.id}`);
    await response.body?.cancel();
  }
  return report;
}
