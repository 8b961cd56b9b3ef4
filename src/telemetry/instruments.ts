/**
 * All instruments of the exporter, and the one batch callback that records them: each
 * collection takes one procfs snapshot (shared with concurrent collections) and records every
 * instrument from it.
 */
import { ValueType, type Attributes, type BatchObservableResult, type Meter, type Observable } from '@opentelemetry/api';
import type { WatchedPort } from '../config/ports.js';
import type { Snapshot, SnapshotSource } from '../collection/snapshot.js';
import {
  ATTR_ERROR_TYPE,
  ATTR_FILE_PATH,
  ATTR_LISTENER_NAME,
  ATTR_PORT,
  COLLECTION_DURATION,
  COLLECTION_ERRORS,
  COLLECTIONS,
  DISCOVERY_OMITTED_PORTS,
  LISTENER_DROPS,
  LISTENER_RECEIVE_QUEUE,
  LISTENER_SOCKETS,
  LISTENER_UP,
  READ_SUCCESS,
  type InstrumentSpec,
} from './names.js';
import { AttributesCache, Observations } from './observations.js';
import { StaleSeriesPruner } from './stale-series.js';

export interface InstrumentOptions {
  readonly meter: Meter;
  readonly source: SnapshotSource;
  /** Configured ports; empty means discovery mode. */
  readonly ports: readonly WatchedPort[];
  readonly discoveryLimit: number;
}

export class ExporterInstruments {
  private readonly source: SnapshotSource;
  private readonly ports: readonly WatchedPort[];
  private readonly discoveryLimit: number;
  private readonly pruner: StaleSeriesPruner;

  private readonly up: Observable;
  private readonly sockets: Observable;
  private readonly receiveQueue: Observable;
  private readonly drops: Observable;
  private readonly omittedPorts: Observable;
  private readonly collections: Observable;
  private readonly duration: Observable;
  private readonly errors: Observable;
  private readonly readSuccess: Observable;

  private readonly portNames: ReadonlyMap<number, string>;
  private readonly portAttributes = new AttributesCache<number>();
  private readonly fileAttributes = new AttributesCache<string>();
  private readonly errorAttributes = new AttributesCache<string>();
  private static readonly NO_ATTRIBUTES: Attributes = Object.freeze({});

  constructor(options: InstrumentOptions) {
    const { meter } = options;
    this.source = options.source;
    this.ports = options.ports;
    this.discoveryLimit = options.discoveryLimit;
    this.portNames = new Map(options.ports.filter((p) => p.name !== undefined).map((p) => [p.port, p.name!]));

    const gauge = (spec: InstrumentSpec, valueType = ValueType.INT) =>
      meter.createObservableGauge(spec.name, { description: spec.description, unit: spec.unit, valueType });
    const counter = (spec: InstrumentSpec) =>
      meter.createObservableCounter(spec.name, { description: spec.description, unit: spec.unit, valueType: ValueType.INT });
    this.up = gauge(LISTENER_UP);
    this.sockets = gauge(LISTENER_SOCKETS);
    this.receiveQueue = gauge(LISTENER_RECEIVE_QUEUE);
    this.drops = counter(LISTENER_DROPS);
    this.omittedPorts = gauge(DISCOVERY_OMITTED_PORTS);
    this.collections = counter(COLLECTIONS);
    this.duration = gauge(COLLECTION_DURATION, ValueType.DOUBLE);
    this.errors = counter(COLLECTION_ERRORS);
    this.readSuccess = gauge(READ_SUCCESS);

    const all = [
      this.up,
      this.sockets,
      this.receiveQueue,
      this.drops,
      this.omittedPorts,
      this.collections,
      this.duration,
      this.errors,
      this.readSuccess,
    ];
    this.pruner = new StaleSeriesPruner(all);
    meter.addBatchObservableCallback(this.record, all);
  }

  /** Upper bound of attribute sets any one instrument can hold, for the SDK's cardinality limit. */
  static cardinalityLimit(ports: readonly WatchedPort[], discoveryLimit: number): number {
    return (ports.length > 0 ? ports.length : discoveryLimit) + 100;
  }

  private readonly record = async (result: BatchObservableResult): Promise<void> => {
    const snapshot = await this.source.take();
    const observations = new Observations();
    this.observeListeners(snapshot, observations);
    this.observeSelf(snapshot, observations);
    this.pruner.retainOnly(observations.attributeSets());
    observations.recordTo(result);
  };

  private observeListeners(snapshot: Snapshot, observations: Observations): void {
    const { listeners } = snapshot;
    // Socket tables unreadable: say nothing rather than report every port down.
    if (listeners === undefined) return;
    const discovery = this.ports.length === 0;
    const reported = discovery ? [...listeners.keys()].sort((a, b) => a - b) : this.ports.map((p) => p.port);
    for (const port of reported) {
      const attributes = this.portAttributes.get(port, () => {
        const name = this.portNames.get(port);
        // Key order is label order on the page: port first.
        return name === undefined ? { [ATTR_PORT]: port } : { [ATTR_PORT]: port, [ATTR_LISTENER_NAME]: name };
      });
      const state = listeners.get(port);
      observations.add(this.up, state === undefined ? 0 : 1, attributes);
      observations.add(this.sockets, state?.sockets ?? 0, attributes);
      observations.add(this.receiveQueue, state?.receiveQueueBytes ?? 0, attributes);
      observations.add(this.drops, state?.drops ?? 0, attributes);
    }
    if (discovery) {
      observations.add(this.omittedPorts, snapshot.omittedPorts, ExporterInstruments.NO_ATTRIBUTES);
      if (this.portAttributes.size > 4 * this.discoveryLimit) this.portAttributes.retain((port) => listeners.has(port));
    }
  }

  private observeSelf(snapshot: Snapshot, observations: Observations): void {
    observations.add(this.collections, this.source.collections, ExporterInstruments.NO_ATTRIBUTES);
    observations.add(this.duration, snapshot.durationSeconds, ExporterInstruments.NO_ATTRIBUTES);
    for (const [file, ok] of snapshot.filesRead) {
      observations.add(this.readSuccess, ok ? 1 : 0, this.fileAttributes.get(file, () => ({ [ATTR_FILE_PATH]: file })));
    }
    for (const [key, { file, failure, count }] of this.source.failureCounts) {
      const attributes = this.errorAttributes.get(key, () => ({ [ATTR_FILE_PATH]: file, [ATTR_ERROR_TYPE]: failure }));
      observations.add(this.errors, count, attributes);
    }
  }
}
