/**
 * Page-side half of the harness's worker bridge: loaded by `startWorker` inside the test page, it starts a
 * module worker and keeps a Comlink proxy to it under an id the Node side calls through.
 */
import * as Comlink from 'comlink';

type Callable = Record<string, (...args: unknown[]) => Promise<unknown>>;

const workers = new Map<string, { worker: Worker; remote: Comlink.Remote<Callable> }>();

/**
 * Starts the module worker at `url` and registers it as `id`. Resolves once the worker's module has loaded;
 * rejects with the worker's error if its script fails to load or throws at top level.
 */
export async function startWorker(id: string, url: string): Promise<void> {
  const worker = new Worker(url, { type: 'module', name: id });
  const remote = Comlink.wrap<Callable>(worker);
  await new Promise<void>((resolve, reject) => {
    const onError = (event: ErrorEvent) =>
      reject(new Error(`Worker ${url} failed to start: ${event.message}`));
    worker.addEventListener('error', onError, { once: true });
    remote.ping?.().then(() => {
      worker.removeEventListener('error', onError);
      resolve();
    }, reject);
  });
  workers.set(id, { worker, remote });
}

/** Calls `method` on worker `id` and returns its (structured-clonable) result. */
export async function callWorker(id: string, method: string, args: unknown[]): Promise<unknown> {
  const entry = workers.get(id);
  if (!entry) throw new Error(`No worker ${id} in this page`);
  const fn = entry.remote[method];
  if (!fn) throw new Error(`Worker ${id} has no method ${method}`);
  return await fn(...args);
}

/** Terminates worker `id` at once, the way a crashing tab would: no cleanup runs inside it. */
export function terminateWorker(id: string): void {
  workers.get(id)?.worker.terminate();
  workers.delete(id);
}
