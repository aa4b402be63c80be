import type { Rules } from '@loam/core';
import { startTestRelay, type TestRelay } from '@loam/server/testing';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBrowserHarness } from '../../../test/browser/harness';
import { inPageGlobal, pageGlobalReady, untilPageGlobal } from '../../../test/browser/page-globals';
import type { HooksApp } from '../test-pages/hooks-app';
import { schema } from '../test-pages/hooks-schema';

// biome-ignore lint/correctness/useHookAtTopLevel: vitest hooks for this file, not a React hook
const harness = useBrowserHarness({
  preBundle: ['react', 'react-dom/client', 'react/jsx-dev-runtime', 'react/jsx-runtime'],
});

const inHooks = <T, A = null>(page: Page, fn: (app: HooksApp, arg: A) => T | Promise<T>, arg?: A) =>
  inPageGlobal(page, 'hooksApp', fn, arg);
const untilHooks = <A = null>(page: Page, predicate: (app: HooksApp, arg: A) => boolean, arg?: A) =>
  untilPageGlobal(page, 'hooksApp', predicate, arg);

async function openHooks(query: string): Promise<Page> {
  return await pageGlobalReady(
    await harness().newPage(`/packages/react/test-pages/hooks.html?${query}`),
    'hooksApp',
  );
}

describe('@loam/react hooks in Chromium', () => {
  it('says loading, then ready with an empty list (not loading), then follows every write', async () => {
    const page = await openHooks('db=loading');
    await inHooks(page, (app) =>
      app.mount('list', { kind: 'query', options: { sort: [{ field: 'n', dir: 'asc' }] } }),
    );
    await untilHooks(page, (app) => app.last('list')?.status === 'ready');
    expect(await inHooks(page, (app) => app.renders('list'))).toEqual([
      { status: 'loading' },
      { status: 'ready', data: [] },
    ]);

    const id = await inHooks(page, (app) => app.notes.insert({ title: 'b', n: 2 }));
    await inHooks(page, (app) => app.notes.insert({ title: 'a', n: 1 }));
    await untilHooks(page, (app) => (app.last('list')?.data as string[] | undefined)?.length === 2);
    expect(await inHooks(page, (app) => app.last('list'))).toEqual({ status: 'ready', data: ['a', 'b'] });
    await inHooks(page, (app, docId) => app.notes.delete(docId), id);
    await untilHooks(page, (app) => (app.last('list')?.data as string[] | undefined)?.length === 1);

    await inHooks(page, (app) =>
      app.mount('bad', { kind: 'query', options: { sort: [{ field: 'nope', dir: 'asc' }] } }),
    );
    await untilHooks(page, (app) => app.last('bad')?.status === 'error');
    expect(await inHooks(page, (app) => app.last('bad'))).toEqual({ status: 'error', code: 'query_invalid' });
  });

  it('shares one worker live query among every component asking the same query, and stops it with the last', async () => {
    const page = await openHooks('db=shared');
    const before = await inHooks(page, (app) => app.workerCalls());
    await inHooks(page, (app) => {
      for (const id of ['a', 'b', 'c', 'd', 'e'])
        app.mount(id, {
          kind: 'query',
          options: { filter: { op: 'eq', field: 'group', value: 'x' }, limit: 10 },
        });
      app.mount('other', { kind: 'query', options: { filter: { op: 'eq', field: 'group', value: 'y' } } });
    });
    await untilHooks(page, (app) =>
      ['a', 'b', 'c', 'd', 'e', 'other'].every((id) => app.last(id)?.status === 'ready'),
    );
    expect(await inHooks(page, (app) => app.workerCalls())).toEqual({ watch: before.watch + 2, unwatch: 0 });
    expect(await inHooks(page, (app) => app.activeQueries().length)).toBe(2);

    await inHooks(page, (app) => app.notes.insert({ title: 'in x', n: 1, group: 'x' }));
    await untilHooks(page, (app) =>
      ['a', 'b', 'c', 'd', 'e'].every((id) => app.last(id)?.data?.toString() === 'in x'),
    );
    expect(await inHooks(page, (app) => app.last('other'))).toEqual({ status: 'ready', data: [] });

    await inHooks(page, (app) => app.unmount('a', 'b', 'c', 'd'));
    await inHooks(page, (app) => app.notes.insert({ title: 'in x too', n: 2, group: 'x' }));
    await untilHooks(page, (app) => (app.last('e')?.data as string[] | undefined)?.length === 2);
    expect(await inHooks(page, (app) => app.workerCalls())).toEqual({ watch: before.watch + 2, unwatch: 0 });

    await inHooks(page, (app) => app.unmount('e'));
    await untilHooks(page, (app) => app.workerCalls().unwatch === 1);
    expect(await inHooks(page, (app) => app.activeQueries().length)).toBe(1);
    await inHooks(page, (app) =>
      app.mount('again', {
        kind: 'query',
        options: { limit: 10, filter: { field: 'group', value: 'x', op: 'eq' } },
      }),
    );
    await untilHooks(page, (app) => app.last('again')?.status === 'ready');
    expect(await inHooks(page, (app) => app.last('again'))).toEqual({
      status: 'ready',
      data: ['in x', 'in x too'],
    });
    expect(await inHooks(page, (app) => app.workerCalls())).toEqual({ watch: before.watch + 3, unwatch: 1 });
  });

  it('useDoc is ready with null for a missing document, then follows it; useAggregate follows every write', async () => {
    const page = await openHooks('db=doc');
    const id = '0190c0de-0000-7000-8000-000000000001';
    await inHooks(
      page,
      (app, docId) => {
        app.mount('doc', { kind: 'doc', id: docId });
        app.mount('none', { kind: 'doc' });
        app.mount('totals', { kind: 'aggregate' });
      },
      id,
    );
    await untilHooks(
      page,
      (app) => app.last('doc')?.status === 'ready' && app.last('totals')?.status === 'ready',
    );
    expect(
      await inHooks(page, (app) => [app.renders('doc'), app.renders('none'), app.last('totals')]),
    ).toEqual([
      [{ status: 'loading' }, { status: 'ready', data: null }],
      [{ status: 'ready', data: null }],
      { status: 'ready', data: [] },
    ]);

    await inHooks(
      page,
      (app, docId) => app.notes.insert({ id: docId, title: 'first', n: 3, group: 'g' }),
      id,
    );
    await inHooks(page, (app) => app.notes.insert({ title: 'second', n: 4, group: 'g' }));
    await inHooks(page, (app) => app.notes.insert({ title: 'third', n: 5 }));
    await untilHooks(page, (app) => app.last('doc')?.data === 'first');
    await untilHooks(page, (app) => (app.last('totals')?.data as unknown[] | undefined)?.length === 2);
    expect(await inHooks(page, (app) => app.last('totals')?.data)).toEqual([
      { group: null, count: 1, sum: 5 },
      { group: 'g', count: 2, sum: 7 },
    ]);
    await inHooks(page, (app, docId) => app.notes.update(docId, { title: 'renamed' }), id);
    await untilHooks(page, (app) => app.last('doc')?.data === 'renamed');
    await inHooks(page, (app, docId) => app.notes.delete(docId), id);
    await untilHooks(page, (app) => app.last('doc')?.data === null);
    expect((await inHooks(page, (app) => app.renders('doc'))).map((r) => r.data)).toEqual([
      undefined,
      null,
      'first',
      'renamed',
      null,
    ]);
  });

  describe('with a relay', () => {
    /** Writers change notes but may not pin them. */
    const rules: Rules = {
      notes: {
        roles: [
          {
            name: 'writer',
            applyWhen: { op: 'eq', field: 'role', value: 'writer' },
            read: true,
            write: true,
            insert: true,
            delete: true,
            fields: { write: ['title', 'n', 'group'] },
          },
        ],
      },
    };
    let relay: TestRelay;
    beforeAll(async () => {
      relay = await startTestRelay(schema, rules);
    });
    afterAll(() => relay?.close());

    it('shows the sync status, hides what the rules forbid, and lists a forced write the relay refused', async () => {
      const token = await relay.tokenFor('wendy', { claims: { role: 'writer' } });
      const page = await openHooks(`db=relay&sync=${encodeURIComponent(relay.server.wsUrl)}&token=${token}`);
      await inHooks(page, async (app) => {
        await app.db.subscribe('notes');
        app.mount('status', { kind: 'status' });
        app.mount('refused', { kind: 'refused' });
      });
      const id = await inHooks(page, (app) => app.notes.insert({ title: 'mine', n: 1 }));
      await inHooks(
        page,
        (app, docId) => {
          app.mount('title', { kind: 'can', id: docId, field: 'title' });
          app.mount('pin', { kind: 'can', id: docId, field: 'pinned' });
        },
        id,
      );
      await untilHooks(page, (app) => app.last('status')?.data === 'connected');
      await untilHooks(page, (app) => app.last('pin')?.data === false);
      expect(
        await inHooks(page, (app) => [app.last('title')?.data, app.db.permissions?.claims.role]),
      ).toEqual([true, 'writer']);
      expect(await inHooks(page, (app) => app.last('refused'))).toEqual({ status: 'ready', data: [] });

      await inHooks(page, (app, docId) => app.notes.update(docId, { pinned: true }), id);
      await untilHooks(page, (app) => (app.last('refused')?.data as string[] | undefined)?.length === 1);
      expect(await inHooks(page, (app) => app.last('refused'))).toEqual({
        status: 'ready',
        data: ['field_denied'],
      });
    });
  });
});
