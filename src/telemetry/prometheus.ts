/**
 * The Prometheus side of the MeterProvider: a PrometheusExporter used as a pull reader, and the
 * rendering of its collection as the text exposition format. The service's own HTTP server
 * calls render(); the exporter's built-in server is never started.
 */
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { singleFlight } from '../async.js';
import type { Logger } from '../log.js';
import { ATTR_PORT } from './names.js';
import { attributesKey } from './stale-series.js';

/** Prometheus text format 0.0.4, which Prometheus 2 and 3 both accept without fallback. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export class PrometheusEndpoint {
  // target_info stays; see serializeExposition for the scope labels.
  readonly reader = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
  private readonly logger: Logger;

  /** Renders the page; scrapes arriving while one renders share its result. */
  readonly render: () => Promise<string>;

  constructor(logger: Logger) {
    this.logger = logger;
    this.render = singleFlight(() => this.collectAndSerialize());
  }

  private async collectAndSerialize(): Promise<string> {
    const { resourceMetrics, errors } = await this.reader.collect();
    for (const error of errors) {
      this.logger.error('metric collection failed', { error: error instanceof Error ? error.message : String(error) });
    }
    return serializeExposition(resourceMetrics);
  }
}

/**
 * The page Prometheus reads: the OpenTelemetry serializer without otel_scope_* labels (they
 * would only repeat the service name), series in port order. Exported so that tests can push
 * hostile label values through exactly this path.
 */
export function serializeExposition(resourceMetrics: ResourceMetrics): string {
  return new PrometheusSerializer(undefined, false, undefined, false, true).serialize(sortedForReading(resourceMetrics));
}

/**
 * Series in port order (the SDK keeps first-seen order), so the page reads like a table and
 * two scrapes of the same state are byte-identical.
 */
export function sortedForReading(resourceMetrics: ResourceMetrics): ResourceMetrics {
  return {
    ...resourceMetrics,
    scopeMetrics: resourceMetrics.scopeMetrics.map((scope) => ({
      ...scope,
      metrics: scope.metrics.map(
        (metric) => ({ ...metric, dataPoints: [...metric.dataPoints].sort(compareDataPoints) }) as MetricData,
      ),
    })),
  };
}

type DataPoint = MetricData['dataPoints'][number];

function compareDataPoints(a: DataPoint, b: DataPoint): number {
  const portA = a.attributes[ATTR_PORT];
  const portB = b.attributes[ATTR_PORT];
  if (typeof portA === 'number' && typeof portB === 'number' && portA !== portB) return portA - portB;
  const keyA = attributesKey(a.attributes);
  const keyB = attributesKey(b.attributes);
  return keyA < keyB ? -1 : keyA > keyB ? 1 : 0;
}
