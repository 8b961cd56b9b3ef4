/**
 * The OpenTelemetry SDK's own messages, through the service's logfmt logger: its diag logger
 * and its global error handler (which would otherwise log a JSON-encoded stack trace).
 *
 * What the service already reports goes to debug. With a collector down, the SDK says so at
 * every interval: an error line from the periodic reader ("metrics export failed", with a stack
 * trace, or "timed out") and an info line from the retrying transport ("Export retry time ...
 * exceeds remaining timeout"), 300 lines in ten minutes at a 1 s interval. ReportingExporter
 * (otlp.ts) logs one warning when exports start failing and one line when they recover, and
 * udp_listener_exporter_otlp_export_failures_total counts every one.
 */
import { inspect } from 'node:util';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { setGlobalErrorHandler } from '@opentelemetry/core';
import type { LogLevel } from '../config/config.js';
import type { LogFields, Logger } from '../log.js';

const DIAG_LEVELS: Readonly<Record<LogLevel, DiagLogLevel>> = {
  none: DiagLogLevel.NONE,
  error: DiagLogLevel.ERROR,
  warn: DiagLogLevel.WARN,
  info: DiagLogLevel.INFO,
  debug: DiagLogLevel.DEBUG,
};

/**
 * SDK messages about a failed OTLP export (sdk-metrics 2.12 PeriodicExportingMetricReader,
 * otlp-exporter-base 0.223 retrying-transport). Should a new SDK word them differently, they
 * are logged at their own level again, and test/otlp-outage-logs.test.ts fails.
 */
const REPORTED_BY_SERVICE: readonly RegExp[] = [
  /^PeriodicExportingMetricReader: metrics export (failed|timed out)\b/,
  /^Export retry time \d+ms exceeds remaining timeout\b/,
  /^Export failed after maximum retry attempts\b/,
  /^Export failed with non-retryable error\b/,
];

const SOURCE = 'opentelemetry';

export function routeOpenTelemetryDiagnostics(logger: Logger, level: LogLevel): void {
  const log = (severity: 'error' | 'warn' | 'info' | 'debug', message: string, args: unknown[]): void => {
    const fields: LogFields = { source: SOURCE, detail: args.map(describe).join(' ') || undefined };
    if (REPORTED_BY_SERVICE.some((pattern) => pattern.test(message))) logger.debug(message, fields);
    else logger[severity](message, fields);
  };
  diag.setLogger(
    {
      error: (message, ...args) => log('error', message, args),
      warn: (message, ...args) => log('warn', message, args),
      info: (message, ...args) => log('info', message, args),
      debug: (message, ...args) => log('debug', message, args),
      verbose: (message, ...args) => log('debug', message, args),
    },
    { logLevel: DIAG_LEVELS[level], suppressOverrideMessage: true },
  );
  // The SDK's default handler logs JSON.stringify of the error, stack trace included.
  setGlobalErrorHandler((error) => log('error', describe(error), []));
}

/** A debug detail object is cut here: the SDK passes whole payloads ("items to be sent"). */
const MAX_DETAIL_CHARS = 500;

/** An error's message without its stack; an object in one bounded line; anything else as text. */
function describe(value: unknown): string {
  if (typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string') return (value as { message: string }).message;
  if (typeof value !== 'object' || value === null) return String(value);
  const text = inspect(value, { depth: 2, breakLength: Infinity, compact: true });
  return text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS)}...` : text;
}
