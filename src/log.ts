/**
 * Logging as logfmt lines on stderr (`ts=... level=warn msg="..." key=value`), the format
 * Prometheus exporters use, so the same tools read both.
 */
import type { LogLevel } from './config/config.js';

export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
}

const SEVERITY: Readonly<Record<LogLevel, number>> = { none: 0, error: 1, warn: 2, info: 3, debug: 4 };

export function createLogger(level: LogLevel, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const threshold = SEVERITY[level];
  const emit = (lineLevel: Exclude<LogLevel, 'none'>, message: string, fields: LogFields = {}): void => {
    if (SEVERITY[lineLevel] > threshold) return;
    let line = `ts=${new Date().toISOString()} level=${lineLevel} msg=${logfmtValue(message)}`;
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) line += ` ${key}=${logfmtValue(String(value))}`;
    }
    write(`${line}\n`);
  };
  return {
    error: (message, fields) => emit('error', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    info: (message, fields) => emit('info', message, fields),
    debug: (message, fields) => emit('debug', message, fields),
  };
}

/** Quotes anything that is not a plain word; JSON escaping keeps hostile bytes on one line. */
export function logfmtValue(value: string): string {
  return /^[A-Za-z0-9_.:/@+-]+$/.test(value) ? value : JSON.stringify(value);
}
