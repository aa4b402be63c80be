import { defineConfig } from 'vitest/config';

/**
 * One config for the whole repository.
 * - `unit`: pure Node tests (`*.test.ts`), run in parallel across the two cores.
 * - `browser`: `*.browser.test.ts`, Node-side tests that drive Debian's Chromium through Playwright;
 *   they start their own servers and pages, so they run one file at a time.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'packages/**/*.test.ts',
            'apps/**/*.test.ts',
            'workers/**/*.test.ts',
            'test/**/*.test.ts',
          ],
          exclude: ['**/node_modules/**', '**/*.browser.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['**/*.browser.test.ts'],
          exclude: ['**/node_modules/**'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
