/**
 * A long OTLP outage (`npm run outage`): the collector accepts every connection and never
 * answers, for minutes, while Prometheus keeps scraping. It reports whether the service's memory
 * stays bounded, whether exports pile up (hung connections to the collector, requests the
 * collector saw), and whether /metrics is affected; then it stops the service and times the exit.
 *
 *   npm run outage -- --minutes 3 --interval 1000 [--json]
 *
 * The push interval is short so that a few minutes hold many export attempts. test/outage-smoke.test.ts
 * runs a few seconds of it in `npm test`.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parseExposition, valueOf } from '../support/exposition.js';
import { OtlpReceiver } from '../support/otlp-receiver.js';
import { memoryOf } from '../support/process-stats.js';
import { startService } from '../support/service.js';

export interface OutageOptions {
  readonly seconds: number;
  readonly intervalMs: number;
  /** How often memory, connections and a scrape are sampled. */
  readonly sampleEveryMs: number;
}

export interface OutageSample {
  readonly atSeconds: number;
  readonly rssMiB: number;
  /** TCP connections from the service to the collector that are open now. */
  readonly collectorConnections: number;
  readonly scrapeMs: number;
  readonly exportFailures: number;
}

export interface OutageReport {
  readonly seconds: number;
  readonly intervalMs: number;
  /** Requests the collector received (and never answered). */
  readonly requestsReceived: number;
  readonly exportFailures: number;
  readonly rssMiB: { readonly first: number; readonly last: number; readonly max: number; readonly growthAfterFirstThird: number };
  readonly maxCollectorConnections: number;
  readonly scrapeMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly stopMs: number;
  readonly exitCode: number | null;
  readonly samples: readonly OutageSample[];
}

export async function runOutage(options: OutageOptions): Promise<OutageReport> {
  const receiver = await OtlpReceiver.start({ transport: 'http', behaviour: () => 'hang' });
  const collectorPort = Number(new URL(receiver.baseUrl).port);
  const service = await startService({
    OTEL_METRICS_EXPORTER: 'prometheus,otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.baseUrl,
    OTEL_METRIC_EXPORT_INTERVAL: String(options.intervalMs),
  }).catch(async (error: unknown) => {
    await receiver.close();
    throw error;
  });
  const pid = service.child.pid!;
  const samples: OutageSample[] = [];
  const started = performance.now();
  try {
    while (performance.now() - started < options.seconds * 1000) {
      await new Promise((resolve) => setTimeout(resolve, options.sampleEveryMs));
      const scrapeStarted = performance.now();
      const body = await (await fetch(`${service.baseUrl}/metrics`)).text();
      // The scrape alone: parsing the page and walking the process's fds come after.
      const scrapeMs = performance.now() - scrapeStarted;
      const page = parseExposition(body);
      samples.push({
        atSeconds: (performance.now() - started) / 1000,
        rssMiB: memoryOf(pid).vmRssMiB,
        collectorConnections: connectionsTo(pid, collectorPort),
        scrapeMs,
        exportFailures: valueOf(page, 'udp_listener_exporter_otlp_export_failures_total') ?? 0,
      });
    }
    const stopping = performance.now();
    const exitCode = await service.stop();
    const stopMs = performance.now() - stopping;
    const rss = samples.map((s) => s.rssMiB);
    const firstThird = samples.slice(0, Math.max(1, Math.floor(samples.length / 3)));
    const scrapes = samples.map((s) => s.scrapeMs).sort((a, b) => a - b);
    return {
      seconds: options.seconds,
      intervalMs: options.intervalMs,
      requestsReceived: receiver.requests.length,
      exportFailures: samples.at(-1)?.exportFailures ?? 0,
      rssMiB: {
        first: rss[0] ?? 0,
        last: rss.at(-1) ?? 0,
        max: Math.max(...rss),
        growthAfterFirstThird: (rss.at(-1) ?? 0) - Math.max(...firstThird.map((s) => s.rssMiB)),
      },
      maxCollectorConnections: Math.max(...samples.map((s) => s.collectorConnections)),
      scrapeMs: { p50: quantile(scrapes, 0.5), p99: quantile(scrapes, 0.99), max: scrapes.at(-1) ?? 0 },
      stopMs,
      exitCode,
      samples,
    };
  } finally {
    await service.stop();
    await receiver.close();
  }
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** Established TCP connections of a process to a local port, from its fds and /proc/net/tcp*. */
function connectionsTo(pid: number, port: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // closed while listing
    }
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'latin1').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === '01' && fields[2]?.endsWith(`:${hexPort}`) && inodes.has(fields[9]!)) count++;
    }
  }
  return count;
}

function printReport(report: OutageReport): void {
  const rows: [string, string][] = [
    ['outage', `${report.seconds} s, push every ${report.intervalMs} ms, collector never answers`],
    ['requests the collector saw', String(report.requestsReceived)],
    ['failed exports counted', String(report.exportFailures)],
    ['hung connections to the collector, at most', String(report.maxCollectorConnections)],
    ['service RSS first / last / max', `${report.rssMiB.first.toFixed(1)} / ${report.rssMiB.last.toFixed(1)} / ${report.rssMiB.max.toFixed(1)} MiB`],
    ['RSS growth after the first third', `${report.rssMiB.growthAfterFirstThird.toFixed(1)} MiB`],
    ['/metrics scrape p50 / p99 / max', `${report.scrapeMs.p50.toFixed(1)} / ${report.scrapeMs.p99.toFixed(1)} / ${report.scrapeMs.max.toFixed(1)} ms`],
    ['SIGTERM to exit', `${report.stopMs.toFixed(0)} ms, exit code ${report.exitCode}`],
  ];
  for (const [name, value] of rows) process.stdout.write(`${name.padEnd(45)} ${value}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '3' },
      interval: { type: 'string', default: '1000' },
      json: { type: 'boolean', default: false },
    },
  });
  const report = await runOutage({ seconds: Number(values.minutes) * 60, intervalMs: Number(values.interval), sampleEveryMs: 5000 });
  if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else printReport(report);
}
