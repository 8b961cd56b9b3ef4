/**
 * Builds the running service from a validated Config: procfs root, snapshot source, one
 * MeterProvider with its readers and instruments, and the HTTP server when Prometheus is on.
 * main() owns the process (signals, exit codes).
 */
import { once } from 'node:events';
import { hostname } from 'node:os';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openSnapshotSource } from './collection/open-source.js';
import type { Config } from './config/config.js';
import { WEB_CONFIG_VARIABLE } from './config/web-config.js';
import { renderLandingPage } from './http/landing-page.js';
import { gracefulCloser } from './http/graceful-close.js';
import { createHttpServer } from './http/server.js';
import { StatusPage } from './http/status-page.js';
import { WebConfigReloader, type ReloadTrigger } from './http/web-config-reloader.js';
import type { Logger } from './log.js';
import { CARDINALITY_LIMIT, ExporterInstruments } from './telemetry/instruments.js';
import { METER_NAME } from './telemetry/names.js';
import { createTelemetryPipeline } from './telemetry/pipeline.js';
import { packageVersion } from './version.js';

export interface RunningService {
  /** Where /metrics is served, e.g. http://127.0.0.1:9464/metrics; undefined without Prometheus. */
  readonly metricsUrl: string | undefined;
  /** What it watches and where it sends, for the start-up log line. */
  readonly summary: Readonly<Record<string, string | number>>;
  /**
   * Stops serving: no new connections, the scrapes in flight answered until `scrapesDeadline`
   * (then cut off), then a last push export given `flushBudgetMs`. Resolves what finished in time.
   */
  stop(options: StopOptions): Promise<StopOutcome>;
  /**
   * Waits until `deadline` for procfs reads that passed their own deadline and resolves with
   * the files whose read is still blocked in the kernel (see main's exit).
   */
  settleStuckReads(deadline: number): Promise<readonly string[]>;
  /** The same files, now, without waiting. */
  stuckReads(): readonly string[];
  /**
   * Reads the web configuration file again (SIGHUP). Resolves whether the new one serves; a
   * refused one is logged, and the previous one keeps serving.
   */
  reload(trigger: ReloadTrigger): Promise<boolean>;
}

export interface StopOptions {
  /** performance.now() time after which scrapes still running are cut off. */
  readonly scrapesDeadline: number;
  /** Time given to the final push export and the readers' shutdown, once scrapes are done. */
  readonly flushBudgetMs: number;
}

export interface StopOutcome {
  readonly scrapesFinished: boolean;
  readonly flushFinished: boolean;
}

export async function startService(config: Config, logger: Logger): Promise<RunningService> {
  const version = packageVersion();
  const { procfs, hostNetDirectory, source } = await openSnapshotSource(config, logger);
  const pipeline = await createTelemetryPipeline(config, logger, version, CARDINALITY_LIMIT);
  // The web configuration serves the HTTP endpoint only: without it there is nothing to reload.
  const webConfig = pipeline.prometheus !== undefined && config.web !== undefined ? await WebConfigReloader.start(WEB_CONFIG_VARIABLE, config.web, logger) : undefined;
  new ExporterInstruments({
    meter: pipeline.meterProvider.getMeter(METER_NAME, version),
    source,
    ports: config.ports,
    otlpResults: pipeline.otlpResults,
    webConfigReload: webConfig === undefined ? undefined : () => webConfig.state,
  });

  let closeServer: ((deadline: number) => Promise<boolean>) | undefined;
  let metricsUrl: string | undefined;
  // Push readers' timers do not keep Node alive; without an HTTP server something must.
  let keepAlive: NodeJS.Timeout | undefined;
  if (pipeline.prometheus !== undefined) {
    const statusPage = new StatusPage({
      version,
      hostname: hostname(),
      ports: config.ports,
      discoveryLimit: config.discoveryLimit,
      procRoot: config.procRoot,
      netns: config.netns,
    });
    const server = createHttpServer({
      renderMetrics: pipeline.prometheus.render,
      landingPage: renderLandingPage({ version, ports: config.ports, discoveryLimit: config.discoveryLimit, procRoot: config.procRoot }),
      // A page view is a collection, like a scrape, and shares the one in flight.
      statusPage: {
        contentSecurityPolicy: statusPage.contentSecurityPolicy,
        render: async () => statusPage.render(await source.take(), { collections: source.collections, readAt: new Date() }),
      },
      logger,
      web: webConfig,
    });
    webConfig?.attach(server);
    closeServer = gracefulCloser(server);
    try {
      metricsUrl = await listen(server, config);
    } catch (error) {
      await pipeline.shutdown(1000);
      throw error;
    }
  } else {
    keepAlive = setInterval(() => undefined, 2 ** 31 - 1);
  }
  const { exporters, otlp } = config.export;
  if (exporters.size === 0) logger.warn('OTEL_METRICS_EXPORTER=none: metrics are collected for nothing');

  return {
    metricsUrl,
    summary: {
      mode: config.ports.length > 0 ? 'configured' : 'discovery',
      ports: config.ports.length,
      exporters: [...exporters].join(',') || 'none',
      ...(otlp === undefined ? {} : { otlp_endpoint: otlp.endpoint, otlp_protocol: otlp.protocol }),
      sockets_from: config.netns === 'all' ? 'all network namespaces' : hostNetDirectory.path,
      socket_source: config.socketSource,
      owners: config.owners ? 'on' : 'off',
      tls: config.web?.tls === undefined ? 'off' : 'on',
      basic_auth: config.web === undefined || config.web.basicAuthUsers.size === 0 ? 'off' : 'on',
      version,
    },
    async reload(trigger) {
      if (webConfig !== undefined) return webConfig.reload(trigger);
      logger.info('nothing to reload: no web configuration file is served; environment variables are read only at start-up', { trigger });
      return true;
    },
    stuckReads: () => procfs.stuckFiles(),
    settleStuckReads: (deadline) => procfs.settleStuckReads(deadline),
    async stop({ scrapesDeadline, flushBudgetMs }) {
      const scrapesFinished = closeServer === undefined ? true : await closeServer(scrapesDeadline);
      clearInterval(keepAlive);
      const flushFinished = await pipeline.shutdown(flushBudgetMs);
      return { scrapesFinished, flushFinished };
    },
  };
}

async function listen(server: Server, config: Config): Promise<string> {
  server.listen({ host: config.prometheus.host, port: config.prometheus.port });
  try {
    await once(server, 'listening');
  } catch (error) {
    const where = `${config.prometheus.host ?? '*'}:${config.prometheus.port}`;
    throw new Error(`cannot listen on ${where} (OTEL_EXPORTER_PROMETHEUS_HOST/OTEL_EXPORTER_PROMETHEUS_PORT): ${(error as Error).message}`);
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const scheme = config.web?.tls === undefined ? 'http' : 'https';
  return `${scheme}://${host}:${address.port}/metrics`;
}
