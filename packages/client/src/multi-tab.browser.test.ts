import type { Page } from 'playwright-core';
import { afterEach, expect, it } from 'vitest';
import { useBrowserHarness } from '../../../test/browser/harness';
import { APP_PAGE, appReady, inApp, openTab, untilApp } from '../test-pages/app-driver';

const harness = useBrowserHarness();
const tabErrors: string[] = [];

afterEach(() => {
  const errors = tabErrors.splice(0);
  expect(errors, 'errors reported by extra tabs').toEqual([]);
});

/** `count` tabs of database `db` in one browser context (shared OPFS, locks and channels); the first leads. */
async function openTabs(db: string, count: number): Promise<Page[]> {
  const first = await appReady(await harness().newPage(`${APP_PAGE}?db=${db}`));
  const tabs = [first];
  for (let i = 1; i < count; i++) tabs.push(await openTab(first.context(), harness().origin, db, tabErrors));
  return tabs;
}

it('three tabs writing at once: one leader, every write visible in every tab', async () => {
  const tabs = await openTabs('three', 3);
  expect(await Promise.all(tabs.map((tab) => inApp(tab, (app) => app.role())))).toEqual([
    'leader',
    'follower',
    'follower',
  ]);
  for (const tab of tabs) await inApp(tab, (app) => app.watch('all'));
  await Promise.all(tabs.map((tab, i) => inApp(tab, (app, prefix) => app.burst(prefix, 40), `t${i}`)));
  for (const tab of tabs) {
    await untilApp(tab, (app) => app.live('all').length === 120);
    const titles = await inApp(tab, async (app) => (await app.notes.find()).map((d) => d.title));
    expect(new Set(titles).size).toBe(120);
  }
  const followerError = await inApp(tabs[1]!, (app) => app.failure(() => app.notes.delete('no-such-id')));
  expect(followerError).toMatchObject({ code: 'not_found', name: 'NotFoundError', isLoamError: true });
});

it('closing the leader tab mid-burst: a follower takes over, nothing lost, doubled or half-applied', async () => {
  const [leader, ...followers] = await openTabs('takeover', 3);
  const [writer, transactor] = followers as [Page, Page];
  for (const tab of followers) await inApp(tab, (app) => app.watch('all'));
  const bursts = [
    inApp(writer, (app) => app.burst('w', 150)),
    inApp(transactor, (app) => app.pairBurst('t', 75)),
  ];
  await untilApp(writer, (app) => app.resolved().length >= 20);
  await leader!.close();
  await Promise.all(bursts);

  const roles = await Promise.all(followers.map((tab) => inApp(tab, (app) => app.role())));
  expect(roles.filter((r) => r === 'leader')).toHaveLength(1);
  for (const tab of followers) {
    await untilApp(tab, (app) => app.live('all').length === 300);
    const titles = await inApp(tab, async (app) => (await app.notes.find()).map((d) => d.title));
    expect(titles).toHaveLength(300);
    expect(new Set(titles).size).toBe(300);
  }
  await inApp(writer, (app) => app.notes.insert({ title: 'after takeover', n: 0 }));
  await untilApp(transactor, (app) => app.live('all').some((d) => d.title === 'after takeover'));
});
