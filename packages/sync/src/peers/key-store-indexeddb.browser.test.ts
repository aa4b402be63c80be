import { expect, it } from 'vitest';
import { useBrowserHarness } from '../../../../test/browser/harness';

const browser = useBrowserHarness();

type Keys = { publicKey: number[]; extractable: boolean; verifies: boolean };

it('keeps one non-extractable Ed25519 key pair in IndexedDB across workers of one origin', async () => {
  const page = await browser().newPage();
  const first = await browser().startWorker(page, '/packages/sync/test-pages/key-store-worker.ts');
  const made = await first.call<Keys>('keys', 'till-1');
  expect(made).toMatchObject({ extractable: false, verifies: true });
  expect(made.publicKey).toHaveLength(32);
  const second = await browser().startWorker(page, '/packages/sync/test-pages/key-store-worker.ts');
  expect((await second.call<Keys>('keys', 'till-1')).publicKey).toEqual(made.publicKey);
  expect((await second.call<Keys>('keys', 'till-2')).publicKey).not.toEqual(made.publicKey);
});
