import { expect, it } from 'vitest';
import { useBrowserHarness } from '../../../test/browser/harness';
import { APP_PAGE, appReady, inApp, untilApp } from '../test-pages/app-driver';

const harness = useBrowserHarness();

async function leaderTab(db: string, query = '') {
  return appReady(await harness().newPage(`${APP_PAGE}?db=${db}&watchdog=1${query}`));
}

async function expectExactly(tab: Awaited<ReturnType<typeof leaderTab>>, count: number) {
  const titles = await inApp(tab, async (app) => (await app.notes.find()).map((d) => d.title));
  expect(titles).toHaveLength(count);
  expect(new Set(titles).size).toBe(count);
}

it("terminating the leader tab's worker mid-burst: the tab restarts it, every call settles, nothing lost or doubled", async () => {
  const tab = await leaderTab('crash');
  await inApp(tab, (app) => app.watch('all'));
  const burst = inApp(tab, (app) => app.burst('c', 120));
  await untilApp(tab, (app) => app.resolved().length >= 20);
  await inApp(tab, (app) => app.killWorker());
  await burst;
  expect(await inApp(tab, (app) => app.resolved().length)).toBe(120);
  expect(await inApp(tab, (app) => app.restarts())).toHaveLength(1);
  expect(await inApp(tab, (app) => app.role())).toBe('leader');
  await expectExactly(tab, 120);
  await untilApp(tab, (app) => app.live('all').length === 120);
});

it("blocking the worker's event loop: the tab replaces it and the burst completes", async () => {
  const tab = await leaderTab('blocked', '&blocking=1');
  const burst = inApp(tab, (app) => app.burst('b', 80));
  await untilApp(tab, (app) => app.resolved().length >= 10);
  await inApp(tab, (app) => app.blockWorker());
  await burst;
  const restarts = await inApp(tab, (app) => app.restarts());
  expect(restarts).toHaveLength(1);
  expect(restarts[0]).toMatch(/did not answer/);
  await expectExactly(tab, 80);
});

it('a tab with no leader to serve it gets leader_unavailable after the configured time', async () => {
  const tab = await leaderTab('host');
  const error = await inApp(tab, (app) => app.openWithoutLeader('orphan', 1000));
  expect(error).toMatchObject({
    code: 'leader_unavailable',
    name: 'LeaderUnavailableError',
    isLoamError: true,
  });
});
