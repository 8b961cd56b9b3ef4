/**
 * One MeterProvider and the readers the configuration asks for: the Prometheus pull reader, an
 * OTLP push reader, a console reader. All share one set of instruments, so a scrape and an
 * export at the same moment share one procfs read.
 */
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { detectResources, defaultResource, hostDetector, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import { settledBy } from '../async.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import { METER_NAME } from './names.js';
import type { ExportCounts, ReportingExporter } from './otlp.js';
import { PrometheusEndpoint } from './prometheus.js';

export interface TelemetryPipeline {
  readonly meterProvider: MeterProvider;
  /** Set when `prometheus` is among the exporters. */
  readonly prometheus: PrometheusEndpoint | undefined;
  /** OTLP export results so far, when `otlp` is among the exporters. */
  readonly otlpResults: (() => ExportCounts) | undefined;
  /**
   * Flushes a final push export and shuts the provider down, giving up after `budgetMs`: a
   * collector that does not answer must not hold the process past its shutdown deadline.
   * Resolves with whether it finished in time.
   */
  shutdown(budgetMs: number): Promise<boolean>;
}

export async function createTelemetryPipeline(config: Config, logger: Logger, version: string, cardinalityLimit: number): Promise<TelemetryPipeline> {
  const readers: MetricReader[] = [];
  const { exporters, otlp, intervalMs, timeoutMs } = config.export;

  const prometheus = exporters.has('prometheus') ? new PrometheusEndpoint(logger) : undefined;
  if (prometheus !== undefined) readers.push(prometheus.reader);

  let otlpExporter: ReportingExporter | undefined;
  if (otlp !== undefined) {
    // Loaded only when asked for: the OTLP exporters and gRPC cost about 10 MB of memory that a
    // scrape-only exporter, the default, has no use for.
    const { createOtlpExporter, ReportingExporter } = await import('./otlp.js');
    otlpExporter = new ReportingExporter(createOtlpExporter(otlp), logger, otlp.endpoint);
    readers.push(new PeriodicExportingMetricReader({ exporter: otlpExporter, exportIntervalMillis: intervalMs, exportTimeoutMillis: timeoutMs }));
  }
  if (exporters.has('console')) {
    readers.push(new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: intervalMs, exportTimeoutMillis: timeoutMs }));
  }

  const meterProvider = new MeterProvider({
    resource: await buildResource(config, version),
    readers,
    views: [{ meterName: METER_NAME, aggregationCardinalityLimit: cardinalityLimit }],
  });

  return {
    meterProvider,
    prometheus,
    otlpResults: otlpExporter === undefined ? undefined : () => otlpExporter.results,
    shutdown(budgetMs) {
      const finished = meterProvider.shutdown().catch((error: unknown) => {
        logger.warn('shutting down the metric readers failed', { error: error instanceof Error ? error.message : String(error) });
      });
      return settledBy(finished, performance.now() + budgetMs);
    },
  };
}

/**
 * `new MeterProvider({ resource })` replaces the SDK's default resource, so it is merged here:
 * SDK attributes, then the host, then service.version and service.instance.id, then
 * OTEL_RESOURCE_ATTRIBUTES, then the service name (OTEL_SERVICE_NAME wins over a service.name in
 * OTEL_RESOURCE_ATTRIBUTES).
 *
 * service.instance.id defaults to the host name: one exporter runs per host, and a Collector's
 * prometheus exporter turns service.instance.id into the `instance` label, without which the
 * series of every host it receives would collide. (The SDK's own default is a random UUID per
 * start, which would make every restart a new instance.)
 */
async function buildResource(config: Config, version: string): Promise<Resource> {
  const host = detectResources({ detectors: [hostDetector] });
  // host.id is read asynchronously; a provider serving before it settles warns on every scrape.
  await host.waitForAsyncAttributes?.();
  return defaultResource()
    .merge(host)
    .merge(resourceFromAttributes({ 'service.version': version, 'service.instance.id': hostname() }))
    .merge(resourceFromAttributes(config.resource.attributes))
    .merge(resourceFromAttributes({ 'service.name': config.resource.serviceName }));
}
