#!/usr/bin/env node
/**
 * Entry point. Owns the process: reads the command line and the configuration (exit 2 when
 * either is unusable), starts the service (exit 1 when it cannot), and shuts down cleanly on
 * SIGTERM or SIGINT (exit 0).
 */
import { parseCommandLine, PROGRAM, usageText, UsageError, versionText, type Command } from './cli.js';
import { loadConfig, type Config } from './config/config.js';
import { ConfigError } from './config/errors.js';
import { createLogger, type Logger } from './log.js';
import { startService, type RunningService } from './service.js';
import { routeOpenTelemetryDiagnostics } from './telemetry/diagnostics.js';
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
    process.stderr.write(`${PROGRAM}: ${error.message}\n`);
    process.exit(EXIT_CONFIG_ERROR);
  }
  if (command.kind === 'help') process.stdout.write(usageText());
  else if (command.kind === 'version') process.stdout.write(versionText(packageVersion()));
  else await serve();
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
  for (const { variable, resembles } of config.warnings) {
    // The value is left out: a misspelt OTEL_EXPORTER_OTLP_HEADERS holds a token.
    logger.warn('environment variable ignored: not one this service reads, but it resembles one', { variable, resembles });
  }
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
      exitNow(EXIT_START_FAILED, service, logger);
    }, SHUTDOWN_DEADLINE_MS).unref();
    if (service !== undefined) stopAndExit(service, logger);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  try {
    service = await startService(config, logger);
  } catch (error) {
    logger.error('start-up failed', { error: error instanceof Error ? error.message : String(error) });
    process.exit(EXIT_START_FAILED);
  }
  if (stopRequested !== undefined) stopAndExit(service, logger);
  else logger.info(service.metricsUrl === undefined ? 'started' : 'serving metrics', { url: service.metricsUrl, ...service.summary });
}

function stopAndExit(service: RunningService, logger: Logger): void {
  service.stop(STOP_BUDGET_MS).then(
    (finished) => {
      if (!finished) logger.warn('the final export did not finish in time; exiting without it', { budget_ms: STOP_BUDGET_MS });
      exitNow(0, service, logger);
    },
    (error: unknown) => {
      logger.error('shutdown failed', { error: error instanceof Error ? error.message : String(error) });
      exitNow(EXIT_START_FAILED, service, logger);
    },
  );
}

/**
 * process.exit() joins libuv's file I/O threads on the way out, so with a procfs read blocked
 * in the kernel (a hung mount) it would wait forever and the service would ignore every
 * further SIGTERM. Then the process ends by SIGTERM at its default disposition instead, which
 * the kernel carries out without joining anything; systemd counts it as a clean stop.
 */
function exitNow(code: number, service: RunningService | undefined, logger: Logger): void {
  const stuck = service?.stuckReads() ?? [];
  if (stuck.length === 0) process.exit(code);
  logger.warn('a procfs read is blocked in the kernel and cannot be waited for; ending by SIGTERM', { files: stuck.join(',') });
  process.removeAllListeners('SIGTERM');
  process.kill(process.pid, 'SIGTERM');
}

await main();
