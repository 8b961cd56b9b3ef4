#!/usr/bin/env node
/**
 * Entry point. Owns the process: reads the command line and the configuration (exit 2 when
 * either is unusable), starts the service (exit 1 when it cannot), reloads the web configuration
 * file on SIGHUP, and shuts down gracefully on SIGTERM or SIGINT (exit 0), or at once on a second
 * one. `check` answers as a monitoring plugin instead: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN,
 * bad arguments and configuration included.
 */
import { performance } from 'node:perf_hooks';
import { PLUGIN_EXIT_CODES } from './check/evaluate.js';
import { checkUsageText, parseCommandLine, PROGRAM, usageText, UsageError, versionText, type CheckOptions, type Command } from './cli.js';
import { loadConfig, type Config } from './config/config.js';
import { ConfigError } from './config/errors.js';
import { createLogger, type Logger } from './log.js';
import type { RunningService, StopOutcome } from './service.js';
import { packageVersion } from './version.js';

/** A bad configuration or command line: systemd's unit does not restart on it. */
const EXIT_CONFIG_ERROR = 2;
const EXIT_FAILURE = 1;
/** Scrapes in flight at SIGTERM get the collection timeout plus this, for rendering and sending. */
const SCRAPE_MARGIN_MS = 1000;
/** The final push export (its collection included), once the scrapes are answered. */
const FLUSH_BUDGET_MS = 4000;
/** Past the stop's own deadlines, before the process ends whatever it is doing. */
const EXIT_MARGIN_MS = 1000;

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
  const { exitCode, output, stuckFiles } = await runCheck(options);
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
  // Imported here, not at the top: it loads the OpenTelemetry API and core, which check does without.
  const { routeOpenTelemetryDiagnostics } = await import('./telemetry/diagnostics.js');
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
  let stopping: { readonly signal: NodeJS.Signals; readonly at: number } | undefined;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping !== undefined) {
      logger.warn('second signal: exiting now, without waiting for scrapes, the final export or procfs reads', { signal });
      endBySignal(signal);
      return;
    }
    stopping = { signal, at: performance.now() };
    const deadlineMs = config.collectionTimeoutMs + SCRAPE_MARGIN_MS + FLUSH_BUDGET_MS + EXIT_MARGIN_MS;
    logger.info('shutting down', { signal, deadline_ms: deadlineMs });
    setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting anyway', { deadline_ms: deadlineMs });
      exitNow(EXIT_FAILURE, service?.stuckReads() ?? [], logger);
    }, deadlineMs).unref();
    if (service !== undefined) void stopAndExit(service, logger, config, stopping.at);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // SIGHUP's default disposition ends the process (exit 129): here it reloads the web
  // configuration file. During start-up the file has just been read.
  process.on('SIGHUP', () => {
    if (service === undefined) logger.info('SIGHUP during start-up: the configuration being started with is current');
    else void service.reload('SIGHUP');
  });

  try {
    const { startService } = await import('./service.js');
    service = await startService(config, logger);
  } catch (error) {
    logger.error('start-up failed', { error: error instanceof Error ? error.message : String(error) });
    // A setting this machine cannot honour (UDP_LISTENER_SOURCE=netlink without its binding) is a configuration error: restarting will not help.
    process.exit(error instanceof ConfigError ? EXIT_CONFIG_ERROR : EXIT_FAILURE);
  }
  if (stopping !== undefined) void stopAndExit(service, logger, config, stopping.at);
  else logger.info(service.metricsUrl === undefined ? 'started' : 'serving metrics', { url: service.metricsUrl, ...service.summary });
}

/**
 * The graceful stop: no new connections; scrapes in flight answered (a collection ends within
 * its timeout, whatever procfs does); the final push export; then exit 0. A procfs read that
 * passed its deadline is given until one collection timeout after the signal to return, since
 * a slow read is not a hung one; only one still in the kernel then is reported as blocked.
 */
async function stopAndExit(service: RunningService, logger: Logger, config: Config, signalledAt: number): Promise<void> {
  let outcome: StopOutcome;
  try {
    outcome = await service.stop({ scrapesDeadline: signalledAt + config.collectionTimeoutMs + SCRAPE_MARGIN_MS, flushBudgetMs: FLUSH_BUDGET_MS });
  } catch (error) {
    logger.error('shutdown failed', { error: error instanceof Error ? error.message : String(error) });
    exitNow(EXIT_FAILURE, service.stuckReads(), logger);
    return;
  }
  if (!outcome.scrapesFinished) logger.warn('scrapes still running at the shutdown deadline were cut off', { deadline_ms: config.collectionTimeoutMs + SCRAPE_MARGIN_MS });
  if (!outcome.flushFinished) logger.warn('the final export did not finish in time; exiting without it', { budget_ms: FLUSH_BUDGET_MS });
  exitNow(0, await service.settleStuckReads(signalledAt + config.collectionTimeoutMs), logger);
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
  endBySignal('SIGTERM');
}

/** Ends the process by `signal` at its default disposition: at once, joining no thread. */
function endBySignal(signal: NodeJS.Signals): void {
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
}

await main();
