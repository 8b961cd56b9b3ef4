/** Small tools for bounded asynchronous work. Deadlines are performance.now() milliseconds. */
import { performance } from 'node:perf_hooks';

/**
 * Resolves true when `work` settles before the deadline, false otherwise (the work goes on).
 * The timer keeps the process alive until then: whoever waits is owed an answer, e.g. the
 * shutdown path, which logs a flush that ran out of time and exits with its own code.
 */
export async function settledBy(work: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()));
  });
  try {
    return await Promise.race([work.then(() => true, () => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `task` over `items` with at most `limit` in flight: enough to keep Node's four file-I/O
 * threads busy without queueing thousands of requests at once.
 */
export async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
