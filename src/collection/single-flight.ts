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
