/** A MetricReader the tests drive by hand, as the SDK's own tests do. */
import { AggregationTemporality, MetricReader, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

export class ManualReader extends MetricReader {
  constructor(temporality: AggregationTemporality = AggregationTemporality.CUMULATIVE) {
    super({ aggregationTemporalitySelector: () => temporality });
  }
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}

  async metrics(): Promise<MetricData[]> {
    const { resourceMetrics } = await this.collect();
    return allMetrics(resourceMetrics);
  }
}

export function allMetrics(resourceMetrics: ResourceMetrics): MetricData[] {
  return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
}

/** value by attribute-set JSON for one metric, to compare whole series sets at once. */
export function seriesOf(metrics: readonly MetricData[], name: string): Record<string, number> {
  const metric = metrics.find((m) => m.descriptor.name === name);
  const series: Record<string, number> = {};
  for (const point of metric?.dataPoints ?? []) series[JSON.stringify(point.attributes)] = point.value as number;
  return series;
}
