/**
 * The database worker with one extra: the message `'loam-test-block'` blocks its event loop for good (a runaway
 * computation), so the leader tab's heartbeat must replace it. Test page support, not part of the package's API.
 */
import '@loam/db-worker/worker';

self.addEventListener('message', (event: MessageEvent) => {
  if (event.data !== 'loam-test-block') return;
  for (;;) {
    // spin: the worker never answers again
  }
});
