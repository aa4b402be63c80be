import { expect, it } from 'vitest';
import { useBrowserHarness } from '../../../test/browser/harness';
import { APP_PAGE, appReady, inApp, untilApp } from '../test-pages/app-driver';

const harness = useBrowserHarness();

async function openApp(query: string) {
  return await appReady(await harness().newPage(`${APP_PAGE}?${query}`));
}

it('stores on OPFS in the leader tab and keeps documents across a reload', async () => {
  const page = await openApp('db=reload');
  expect(await inApp(page, (app) => app.storage())).toMatchObject({ kind: 'opfs', persistent: true });
  expect(await inApp(page, (app) => app.role())).toBe('leader');
  await inApp(page, (app) => app.notes.insert({ title: 'kept', n: 1 }));
  await page.reload();
  await appReady(page);
  expect(await inApp(page, async (app) => (await app.notes.find()).map((d) => d.title))).toEqual(['kept']);
});

it('falls back to IndexedDB where OPFS sync access handles are missing, says so, and keeps data', async () => {
  const page = await openApp('db=fallback&fallback=1');
  expect(await inApp(page, (app) => app.storage())).toMatchObject({ kind: 'indexeddb', persistent: true });
  await inApp(page, (app) => app.notes.insert({ title: 'in idb', n: 1 }));
  await page.reload();
  await appReady(page);
  expect(await inApp(page, async (app) => (await app.notes.find()).map((d) => d.title))).toEqual(['in idb']);
});

it('updates live queries on the UI thread after inserts, updates and deletes, until unsubscribed', async () => {
  const page = await openApp('db=live');
  await inApp(page, (app) => {
    app.watch('sorted', { sort: [{ field: 'n', dir: 'asc' }] });
    app.watch('stopped', {});
  });
  await untilApp(page, (app) => app.calls('sorted') === 1 && app.calls('stopped') === 1);
  expect(await inApp(page, (app) => app.live('sorted'))).toEqual([]);

  const ids = await inApp(page, async (app) => [
    await app.notes.insert({ title: 'b', n: 2 }),
    await app.notes.insert({ title: 'a', n: 1 }),
  ]);
  await untilApp(page, (app) => app.live('sorted').length === 2);
  expect(await inApp(page, (app) => app.live('sorted').map((d) => d.title))).toEqual(['a', 'b']);

  await inApp(page, (app, id) => app.notes.update(id, { n: 0, title: 'b first' }), ids[0]);
  await untilApp(page, (app) => app.live('sorted')[0]?.title === 'b first');
  expect(await inApp(page, (app) => app.live('sorted').map((d) => [d.title, d.n]))).toEqual([
    ['b first', 0],
    ['a', 1],
  ]);

  const stoppedCalls = await inApp(page, (app) => {
    app.unwatch('stopped');
    return app.calls('stopped');
  });
  await inApp(page, (app, id) => app.notes.delete(id), ids[1]);
  await untilApp(page, (app) => app.live('sorted').length === 1);
  expect(await inApp(page, (app) => app.live('sorted').map((d) => d.title))).toEqual(['b first']);
  expect(await inApp(page, (app) => app.calls('stopped'))).toBe(stoppedCalls);
});

it('refuses writes that break the schema, and errors keep their code and class across the worker', async () => {
  const page = await openApp('db=errors');
  const invalid = await inApp(page, (app) =>
    app.failure(() => app.notes.insert({ title: 42, n: 'x' } as never)),
  );
  expect(invalid).toMatchObject({ code: 'validation_failed', name: 'ValidationError', isLoamError: true });
  expect(invalid?.problems?.map((p) => p.path.join('.')).sort()).toEqual(['n', 'title']);

  const missing = await inApp(page, (app) => app.failure(() => app.notes.update('no-such-id', { n: 1 })));
  expect(missing).toMatchObject({ code: 'not_found', name: 'NotFoundError', isLoamError: true });

  const rolledBack = await inApp(page, (app) =>
    app.failure(() =>
      app.db.transaction(async (tx) => {
        await tx.collection('notes').insert({ title: 'never kept', n: 1 });
        await tx.collection('notes').update('no-such-id', { n: 2 });
      }),
    ),
  );
  expect(rolledBack).toMatchObject({ code: 'not_found', isLoamError: true });
  expect(await inApp(page, (app) => app.notes.find())).toEqual([]);
});

it('after the worker is killed and the page closed mid-burst of transactions, keeps every resolved one whole', async () => {
  const page = await openApp('db=crash');
  await inApp(page, (app) => {
    app.pairBurst('p', 10_000).catch(() => undefined);
  });
  await untilApp(page, (app) => app.resolved().length >= 30);
  const resolved = await inApp(page, (app) => app.killWorker());
  const context = page.context();
  await page.close();

  const reopened = await context.newPage();
  await reopened.goto(`${harness().origin}${APP_PAGE}?db=crash`);
  await appReady(reopened);
  const titles = await inApp(reopened, async (app) => (await app.notes.find()).map((d) => d.title));
  const stored = new Set(titles);
  for (const pair of resolved) {
    expect(stored.has(`${pair}-a`) && stored.has(`${pair}-b`), `${pair} resolved but is missing`).toBe(true);
  }
  const halves = titles.filter(
    (t) => !stored.has(t.endsWith('-a') ? `${t.slice(0, -2)}-b` : `${t.slice(0, -2)}-a`),
  );
  expect(halves).toEqual([]);
  expect(titles.length).toBeGreaterThanOrEqual(resolved.length * 2);
  await reopened.close();
});
