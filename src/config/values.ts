/** Parsing of the value kinds more than one configuration module reads. */
import { ConfigError } from './errors.js';

/**
 * A whole number from `min` to `max`, or `fallback` when unset. `what` names the kind of number
 * in the error, e.g. "milliseconds, a whole number".
 */
export function parseInteger(variable: string, value: string | undefined, fallback: number, min: number, max: number, what = 'a whole number'): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new ConfigError(variable, value, `expected ${what} from ${min} to ${max}`);
  }
  return Number(value);
}

/** The errno name of a failed file operation (ENOENT, EACCES, ...), for an error message. */
export function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}
