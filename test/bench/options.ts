/**
 * The benchmarks' command-line values, checked once: a mistyped `--rounds ten` stops the run
 * with the option named instead of measuring NaN rounds.
 */

/** A bad option value: the message names the option and the value. */
class UsageError extends Error {}

/** A whole number of at least `min`; `_` may group digits (`100_000`). */
export function wholeNumber(option: string, value: string, min: number): number {
  const n = Number(value.replaceAll('_', ''));
  if (value.trim() === '' || !Number.isInteger(n) || n < min) throw new UsageError(`${option}: expected a whole number >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/** A duration as Prometheus writes them (`500ms`, `10s`, `1m`), in ms, of at least `min`. */
export function duration(option: string, value: string, min = 1): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(value);
  if (match === null) throw new UsageError(`${option}: expected a duration such as 500ms, 10s or 1m, got ${JSON.stringify(value)}`);
  const ms = Number(match[1]) * { ms: 1, s: 1000, m: 60_000 }[match[2] as 'ms' | 's' | 'm'];
  if (ms < min) throw new UsageError(`${option}: must be at least ${min} ms`);
  return ms;
}
