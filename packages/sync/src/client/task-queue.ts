/**
 * The sync client's one ordered pipeline: server frames, upload rounds and subscription changes run one at a time,
 * in the order they were queued, so a frame is applied after every frame that came before it.
 */

/** A serial queue of async tasks. */
export interface TaskQueue {
  /** Queues `task`; the promise settles like the task (a failure does not stop the queue). */
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Resolves once every task queued so far has settled. */
  idle(): Promise<void>;
}

/** Creates an empty queue. */
export function createTaskQueue(): TaskQueue {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    run(task) {
      const result = tail.then(task);
      tail = result.catch(() => undefined);
      return result;
    },
    async idle() {
      await tail;
    },
  };
}
