/**
 * The instruments of the metric table (metrics.ts), and the one batch callback that records
 * them all: each collection takes one procfs snapshot (shared with concurrent collections),
 * lays it out as a view, and every metric observes its values from that view.
 */
import { ValueType, type BatchObservableResult, type Meter, type Observable } from '@opentelemetry/api';
import type { SnapshotSource } from '../collection/snapshot.js';
import type { WatchedPort } from '../config/ports.js';
import { METRICS, type MetricDefinition } from './metrics.js';
import { Observations } from './observations.js';
import type { ReloadState } from '../config/web-config.js';
import type { ExportCounts } from './otlp.js';
import { StaleSeriesPruner } from './stale-series.js';
import { CollectionViewBuilder } from './view.js';

export interface InstrumentOptions {
  readonly meter: Meter;
  readonly source: SnapshotSource;
  /** Configured ports; empty means discovery mode. */
  readonly ports: readonly WatchedPort[];
  /** OTLP export results, when OTLP is on. */
  readonly otlpResults: (() => ExportCounts) | undefined;
  /** How the last reload of the web configuration went, when one is served. */
  readonly webConfigReload?: (() => ReloadState) | undefined;
}

/**
 * Upper bound of attribute sets one instrument may hold at once. Stale sets are pruned every
 * collection, so this only guards against a runaway; it allocates nothing.
 */
export const CARDINALITY_LIMIT = 50_000;

export class ExporterInstruments {
  private readonly source: SnapshotSource;
  private readonly otlpResults: (() => ExportCounts) | undefined;
  private readonly webConfigReload: (() => ReloadState) | undefined;
  private readonly instruments: readonly (readonly [MetricDefinition, Observable])[];
  private readonly views: CollectionViewBuilder;
  private readonly pruner: StaleSeriesPruner;

  constructor(options: InstrumentOptions) {
    const { meter } = options;
    this.source = options.source;
    this.otlpResults = options.otlpResults;
    this.webConfigReload = options.webConfigReload;
    this.views = new CollectionViewBuilder(options.ports);
    this.instruments = METRICS.map((metric) => [metric, createInstrument(meter, metric)] as const);
    const all = this.instruments.map(([, instrument]) => instrument);
    this.pruner = new StaleSeriesPruner(all);
    meter.addBatchObservableCallback(this.record, all);
  }

  private readonly record = async (result: BatchObservableResult): Promise<void> => {
    const snapshot = await this.source.take();
    const view = this.views.build(snapshot, {
      collections: this.source.collections,
      failureCounts: this.source.failureCounts,
      otlp: this.otlpResults?.(),
      webConfigReload: this.webConfigReload?.(),
    });
    const observations = new Observations();
    for (const [metric, instrument] of this.instruments) {
      metric.observe(view, (value, attributes) => observations.add(instrument, value, attributes));
    }
    this.pruner.retainOnly(observations.attributeSets());
    observations.recordTo(result);
  };
}

function createInstrument(meter: Meter, metric: MetricDefinition): Observable {
  const options = { description: metric.description, unit: metric.unit, valueType: metric.valueType === 'double' ? ValueType.DOUBLE : ValueType.INT };
  return metric.kind === 'counter' ? meter.createObservableCounter(metric.name, options) : meter.createObservableGauge(metric.name, options);
}
