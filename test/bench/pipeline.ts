/**
 * The service's collection path built in the benchmark's own process, wired as
 * src/service.ts wires it, so that one render of the page can be split into its phases:
 * reading procfs, parsing and aggregating, the SDK's collect, sorting and serializing.
 * Only the HTTP server is left out; the benchmark times it against the real process.
 *
 * If src/service.ts changes how it wires these objects, this file must follow.
 */
import { performance } from 'node:perf_hooks';
import { SnapshotSource, type Snapshot } from '../../src/collection/snapshot.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/log.js';
import { ProcFs } from '../../src/procfs/procfs.js';
import { findHostNetDirectory } from '../../src/collection/open-source.js';
import { CARDINALITY_LIMIT, ExporterInstruments } from '../../src/telemetry/instruments.js';
import { METER_NAME } from '../../src/telemetry/names.js';
import { createTelemetryPipeline, type TelemetryPipeline } from '../../src/telemetry/pipeline.js';
import type { PrometheusEndpoint } from '../../src/telemetry/prometheus.js';

export interface Phases {
  /**
   * Time during which at least one ProcFs read was in flight (reads overlap). The socket tables
   * are parsed as they are read (ProcFs.stream), so their parsing is in here.
   */
  readonly readMs: number;
  /** The snapshot beyond the reads: aggregating by port, finding owners (cached), small parsers. */
  readonly parseAndAggregateMs: number;
  /** reader.collect() beyond the snapshot: the batch callback, pruning, the SDK's storage. */
  readonly sdkCollectMs: number;
  /** render() beyond collect(): sorting the series and the text serialization. */
  readonly serializeMs: number;
  readonly renderMs: number;
  readonly bytes: number;
}

export class InProcessPipeline {
  private readonly endpoint: PrometheusEndpoint;
  private readonly telemetry: TelemetryPipeline;
  private readSpans: [number, number][] = [];
  private takeMs = 0;
  private collectMs = 0;

  /** `ports` as UDP_LISTENER_PORTS takes it; empty for discovery mode. */
  static async create(ports: string): Promise<InProcessPipeline> {
    const config = loadConfig({ HOST_PROC: '/proc', UDP_LISTENER_PORTS: ports, OTEL_LOG_LEVEL: 'none' });
    const logger = createLogger('none');
    const procfs = new ProcFs(config.procRoot);
    const source = new SnapshotSource({ procfs, config, hostNetDirectory: await findHostNetDirectory(procfs, logger), logger });
    const telemetry = await createTelemetryPipeline(config, logger, 'bench', CARDINALITY_LIMIT);
    new ExporterInstruments({ meter: telemetry.meterProvider.getMeter(METER_NAME, 'bench'), source, ports: config.ports, otlpResults: telemetry.otlpResults });
    return new InProcessPipeline(procfs, source, telemetry);
  }

  private constructor(procfs: ProcFs, source: SnapshotSource, telemetry: TelemetryPipeline) {
    this.telemetry = telemetry;
    this.endpoint = telemetry.prometheus!;

    // Timing hooks on the instances the pipeline calls through, not on the classes.
    const read = procfs.read.bind(procfs);
    procfs.read = async (file, options) => {
      const started = performance.now();
      try {
        return await read(file, options);
      } finally {
        this.readSpans.push([started, performance.now()]);
      }
    };
    const stream = procfs.stream.bind(procfs);
    procfs.stream = async (file, options, consume) => {
      const started = performance.now();
      try {
        return await stream(file, options, consume);
      } finally {
        this.readSpans.push([started, performance.now()]);
      }
    };
    const take = source.take;
    (source as { take: () => Promise<Snapshot> }).take = async () => {
      const started = performance.now();
      const snapshot = await take();
      this.takeMs = performance.now() - started;
      return snapshot;
    };
    const reader = this.endpoint.reader;
    const collect = reader.collect.bind(reader);
    reader.collect = async (options) => {
      const started = performance.now();
      const result = await collect(options);
      this.collectMs = performance.now() - started;
      return result;
    };
  }

  async render(): Promise<Phases> {
    this.readSpans = [];
    const started = performance.now();
    const page = await this.endpoint.render();
    const renderMs = performance.now() - started;
    const readMs = unionLength(this.readSpans);
    return {
      readMs,
      parseAndAggregateMs: this.takeMs - readMs,
      sdkCollectMs: this.collectMs - this.takeMs,
      serializeMs: renderMs - this.collectMs,
      renderMs,
      bytes: Buffer.byteLength(page),
    };
  }

  async shutdown(): Promise<void> {
    await this.telemetry.shutdown(1000);
  }
}

/** Total length covered by the intervals, overlaps counted once. */
function unionLength(spans: readonly [number, number][]): number {
  let total = 0;
  let coveredTo = -Infinity;
  for (const [begin, end] of [...spans].sort((a, b) => a[0] - b[0])) {
    if (end <= coveredTo) continue;
    total += end - Math.max(begin, coveredTo);
    coveredTo = end;
  }
  return total;
}
