#!/usr/bin/env node
/**
 * Entry point. Owns the process: reads the command line and the configuration (exit 2 when
 * either is unusable), starts the service (exit 1 when it cannot), and shuts down cleanly on
 * SIGTERM or SIGINT (exit 0). `check` answers as a monitoring plugin instead: 0 OK, 1 WARNING,
 * 2 CRITICAL, 3 UNKNOWN, bad arguments and configuration included.
 */
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { PLUGIN_EXIT_CODES } from './check/evaluate.js';
import { checkUsageText, parseCommandLine, PROGRAM, usageText, UsageError, versionText, type CheckOptions, type Command } from './cli.js';
import { loadConfig, type Config, type LogLevel } from './config/config.js';
import { ConfigError } from './config/errors.js';
import { createLogger, type Logger } from './log.js';
import type { RunningService } from './service.js';
import { packageVersion } from './version.js';

/** A bad configuration or command line: systemd's unit does not restart on it. */
const EXIT_CONFIG_ERROR = 2;
const EXIT_START_FAILED = 1;
/** SIGTERM must end the process within this, whatever a reader or exporter is doing. */
const SHUTDOWN_DEADLINE_MS = 5000;
/** Time given to closing the server and the final OTLP export, leaving a margin before the deadline. */
const STOP_BUDGET_MS = 4000;

async function main(): Promise<void> {
  let command: Command;
  try {
    command = parseCommandLine(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.command === 'check') {
      // A monitoring system shows the plugin's stdout, and reads any other code as a verdict.
      process.stdout.write(`UNKNOWN - ${error.message}\n`);
      process.exit(PLUGIN_EXIT_CODES.UNKNOWN);
    }
    process.stderr.write(`${PROGRAM}: ${error.message}\n`);
    process.exit(EXIT_CONFIG_ERROR);
  }
  if (command.kind === 'help') process.stdout.write(usageText());
  else if (command.kind === 'version') process.stdout.write(versionText(packageVersion(), await sdkVersion()));
  else if (command.kind === 'check-help') process.stdout.write(checkUsageText());
  else if (command.kind === 'check') await check(command.options);
  else await serve();
}

/**
 * Loading the OpenTelemetry SDK took about 150 ms here, as long as a check's read of 10,000
 * sockets: only the service and --version load it.
 */
async function sdkVersion(): Promise<string> {
  const { SDK_INFO } = await import('@opentelemetry/core');
  return SDK_INFO['telemetry.sdk.version'] ?? 'unknown';
}

async function check(options: CheckOptions): Promise<void> {
  const { runCheck } = await import('./check/run.js');
  const { exitCode, output, stuckFiles } = await runCheck(options, process.env);
  process.stdout.write(output);
  exitNow(exitCode, stuckFiles, createLogger('warn'));
}

async function serve(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${PROGRAM}: configuration error: ${error.message}\n`);
    process.exit(EXIT_CONFIG_ERROR);
  }
  const logger = createLogger(config.logLevel);
  routeOpenTelemetryDiagnostics(logger, config.logLevel);
  // A stray rejection is a bug to log, not a reason to stop watching listeners.
  process.on('unhandledRejection', (reason) => {
    logger.error('unhandled promise rejection', { error: reason instanceof Error ? (reason.stack ?? reason.message) : String(reason) });
  });

  // Handlers first: a SIGTERM that arrives while starting must still end in a clean exit 0.
  let service: RunningService | undefined;
  let stopRequested: NodeJS.Signals | undefined;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopRequested !== undefined) return;
    stopRequested = signal;
    logger.info('shutting down', { signal });
    setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting anyway', { deadline_ms: SHUTDOWN_DEADLINE_MS });
      exitNow(EXIT_START_FAILED, service?.stuckReads() ?? [], logger);
    }, SHUTDOWN_DEADLINE_MS).unref();
    if (service !== undefined) stopAndExit(service, logger);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  try {
    const { startService } = await import('./service.js');
    service = await startService(config, logger);
  } catch (error) {
    logger.error('start-up failed', { error: error instanceof Error ? error.message : String(error) });
    // A setting this machine cannot honour (UDP_LISTENER_SOURCE=netlink without its binding) is a configuration error: restarting will not help.
    process.exit(error instanceof ConfigError ? EXIT_CONFIG_ERROR : EXIT_START_FAILED);
  }
  if (stopRequested !== undefined) stopAndExit(service, logger);
  else logger.info(service.metricsUrl === undefined ? 'started' : 'serving metrics', { url: service.metricsUrl, ...service.summary });
}

function stopAndExit(service: RunningService, logger: Logger): void {
  service.stop(STOP_BUDGET_MS).then(
    (finished) => {
      if (!finished) logger.warn('the final export did not finish in time; exiting without it', { budget_ms: STOP_BUDGET_MS });
      exitNow(0, service.stuckReads(), logger);
    },
    (error: unknown) => {
      logger.error('shutdown failed', { error: error instanceof Error ? error.message : String(error) });
      exitNow(EXIT_START_FAILED, service.stuckReads(), logger);
    },
  );
}

/**
 * process.exit() joins libuv's file I/O threads on the way out, so with a procfs read blocked
 * in the kernel (a hung mount) it would wait forever and the service would ignore every
 * further SIGTERM. Then the process ends by SIGTERM at its default disposition instead, which
 * the kernel carries out without joining anything; systemd counts it as a clean stop. (A check
 * ends the same way, after printing its UNKNOWN: no exit code can be had then, and a killed
 * plugin is never read as OK.)
 */
function exitNow(code: number, stuck: readonly string[], logger: Logger): void {
  if (stuck.length === 0) process.exit(code);
  logger.warn('a procfs read is blocked in the kernel and cannot be waited for; ending by SIGTERM', { files: stuck.join(',') });
  process.removeAllListeners('SIGTERM');
  process.kill(process.pid, 'SIGTERM');
}

const DIAG_LEVELS: Readonly<Record<LogLevel, DiagLogLevel>> = {
  none: DiagLogLevel.NONE,
  error: DiagLogLevel.ERROR,
  warn: DiagLogLevel.WARN,
  info: DiagLogLevel.INFO,
  debug: DiagLogLevel.DEBUG,
};

/** The SDK's own warnings and errors go through the same logfmt logger. */
function routeOpenTelemetryDiagnostics(logger: Logger, level: LogLevel): void {
  const line = (args: unknown[]): string => args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
  diag.setLogger(
    {
      error: (message, ...args) => logger.error(message, { source: 'opentelemetry', detail: line(args) || undefined }),
      warn: (message, ...args) => logger.warn(message, { source: 'opentelemetry', detail: line(args) || undefined }),
      info: (message, ...args) => logger.info(message, { source: 'opentelemetry', detail: line(args) || undefined }),
      debug: (message, ...args) => logger.debug(message, { source: 'opentelemetry', detail: line(args) || undefined }),
      verbose: (message, ...args) => logger.debug(message, { source: 'opentelemetry', detail: line(args) || undefined }),
    },
    { logLevel: DIAG_LEVELS[level], suppressOverrideMessage: true },
  );
}

await main();
