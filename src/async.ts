/**
 * Small tools for bounded asynchronous work, shared by the collection, the procfs reader and
 * the telemetry pipeline. A deadline is always an absolute performance.now() time in
 * milliseconds: it is computed once, where a collection starts, and handed down unchanged.
 */
import { performance } from 'node:perf_hooks';

/** The absolute deadline `ms` milliseconds from now. */
export function deadlineIn(ms: number): number {
  return performance.now() + ms;
}

/** Milliseconds left before the deadline, never less than 0. */
export function remainingMs(deadline: number): number {
  return Math.max(0, deadline - performance.now());
}

/**
 * Resolves true when `work` settles before the deadline, false otherwise (the work goes on).
 * The timer keeps the process alive until then: whoever waits is owed an answer, e.g. the
 * shutdown path, which logs a flush that ran out of time and exits with its own code.
 */
export async function settledBy(work: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), remainingMs(deadline));
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

/**
 * Wraps an async function so that callers arriving while a call is in flight share its result
 * instead of starting another: twenty concurrent scrapes cost one procfs read.
 */
export function singleFlight<T>(run: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  return () => {
    inFlight ??= run().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}

/** Settles every promise of a record, keeping the names: results are read by name, not position. */
export async function settleAll<T extends Record<string, Promise<unknown>>>(promises: T): Promise<{ [K in keyof T]: PromiseSettledResult<Awaited<T[K]>> }> {
  const names = Object.keys(promises) as (keyof T)[];
  const settled = await Promise.allSettled(names.map((name) => promises[name]));
  return Object.fromEntries(names.map((name, index) => [name, settled[index]])) as { [K in keyof T]: PromiseSettledResult<Awaited<T[K]>> };
}
