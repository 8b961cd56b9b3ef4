/**
 * `udp-listener-exporter check`: reads procfs with the service's own collection (one
 * SnapshotSource, built as the service builds it, no HTTP), once or, with --window, twice, and
 * answers with monitoring-plugin output or JSON. main.ts prints the output and exits with the
 * code.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { deadlineIn, remainingMs } from '../async.js';
import { CHECK_WAIT_POLL_MS, type CheckOptions } from '../cli.js';
import { openSnapshotSource, type OpenedSource } from '../collection/open-source.js';
import type { Snapshot, SnapshotSource } from '../collection/snapshot.js';
import { loadCollectionConfig, type CollectionConfig } from '../config/config.js';
import { ConfigError } from '../config/errors.js';
import type { WatchedPort } from '../config/ports.js';
import { createLogger } from '../log.js';
import { evaluateCheck, unknownReport, type CheckReadings, type CheckReport, type CheckThresholds } from './evaluate.js';
import { pluginOutput } from './output.js';

/**
 * A read abandoned at the collection deadline may only be slow (a huge table), not hung: it is
 * given this long to return before the check counts it as stuck and must end without an exit
 * code (see main's exit).
 */
const ABANDONED_READ_GRACE_MS = 2000;

export interface CheckOutcome {
  readonly exitCode: number;
  /** What to print on stdout. */
  readonly output: string;
  /** procfs files whose read is still blocked in the kernel (see main's exit). */
  readonly stuckFiles: readonly string[];
}

/**
 * Never rejects for a bad environment or an unreadable procfs: those are UNKNOWN answers. `env` is
 * the process's environment unless the caller (the benchmark) passes its own.
 */
export async function runCheck(options: CheckOptions, env?: NodeJS.ProcessEnv): Promise<CheckOutcome> {
  const thresholds: CheckThresholds = { queueWarningBytes: options.queueWarningBytes, queueCriticalBytes: options.queueCriticalBytes };
  const answer = (report: CheckReport, stuckFiles: readonly string[] = []): CheckOutcome => ({
    exitCode: report.exit_code,
    output: options.json ? `${JSON.stringify(report, null, 2)}\n` : pluginOutput(report, thresholds),
    stuckFiles,
  });

  const configurationError = (error: ConfigError): CheckOutcome => {
    const problem = { source: error.variable, error: 'configuration', message: error.message };
    return answer(unknownReport(options.ports ?? [], `configuration error: ${error.message}`, [problem]));
  };

  let config: CollectionConfig;
  try {
    config = loadCollectionConfig(env, { ports: options.ports });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return configurationError(error);
  }
  const { ports } = config;
  if (ports.length === 0) {
    return answer(unknownReport([], 'no ports to check: give PORTSPEC arguments (e.g. syslog=514) or set UDP_LISTENER_PORTS', []));
  }

  // What went wrong is in the answer; stderr stays quiet unless asked (OTEL_LOG_LEVEL=debug).
  const logger = createLogger(config.logLevel === 'debug' ? 'debug' : 'error');
  let opened: OpenedSource;
  try {
    opened = await openSnapshotSource(config, logger);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return configurationError(error);
  }
  const { procfs, source } = opened;

  let first = await source.take();
  if (options.waitMs !== undefined) first = await untilListening(source, first, ports, deadlineIn(options.waitMs));
  let readings: CheckReadings = { last: first };
  if (options.windowMs !== undefined && evaluateCheck(ports, readings).status !== 'UNKNOWN') {
    await sleep(options.windowMs);
    readings = { first, last: await source.take(), windowSeconds: options.windowMs / 1000 };
  }
  return answer(evaluateCheck(ports, readings, thresholds), await procfs.settleStuckReads(deadlineIn(ABANDONED_READ_GRACE_MS)));
}

/**
 * Reads again every CHECK_WAIT_POLL_MS until every port has a listener or the deadline comes; the
 * last read is at the deadline, so a wait shorter than one interval still reads again.
 */
async function untilListening(source: SnapshotSource, snapshot: Snapshot, ports: readonly WatchedPort[], deadline: number): Promise<Snapshot> {
  let latest = snapshot;
  while (!evaluateCheck(ports, { last: latest }).ports.every((port) => port.up === true) && remainingMs(deadline) > 0) {
    await sleep(Math.min(CHECK_WAIT_POLL_MS, remainingMs(deadline)));
    latest = await source.take();
  }
  return latest;
}
