/**
 * All instruments of the exporter, and the one batch callback that records them: each
 * collection takes one procfs snapshot (shared with concurrent collections) and records every
 * instrument from it.
 */
import { ValueType, type Attributes, type BatchObservableResult, type Meter, type Observable } from '@opentelemetry/api';
import type { NetNamespace } from '../collection/namespaces.js';
import type { NamespaceSnapshot, Snapshot, SnapshotSource } from '../collection/snapshot.js';
import type { WatchedPort } from '../config/ports.js';
import {
  ATTR_CONTAINER_ID,
  ATTR_ERROR_TYPE,
  ATTR_FILE_PATH,
  ATTR_K8S_POD_UID,
  ATTR_LISTENER_NAME,
  ATTR_LOOKUP,
  ATTR_NETNS_INODE,
  ATTR_NETWORK_TYPE,
  ATTR_PORT,
  ATTR_PROCESS_EXECUTABLE_NAME,
  ATTR_PROCESS_PID,
  COLLECTION_DURATION,
  COLLECTION_ERRORS,
  COLLECTIONS,
  DISCOVERY_OMITTED_PORTS,
  HOST_COUNTERS,
  LISTENER_DROPS,
  LISTENER_OWNER_INFO,
  LISTENER_RECEIVE_QUEUE,
  LISTENER_SOCKETS,
  LISTENER_UP,
  OTLP_EXPORT_FAILURES,
  OTLP_EXPORTS,
  OWNER_UNRESOLVED_SOCKETS,
  READ_SUCCESS,
  UNREADABLE_PROCESSES,
  type InstrumentSpec,
} from './names.js';
import { AttributesCache, Observations } from './observations.js';
import type { ExportCounts } from './otlp.js';
import { StaleSeriesPruner } from './stale-series.js';

export interface InstrumentOptions {
  readonly meter: Meter;
  readonly source: SnapshotSource;
  /** Configured ports; empty means discovery mode. */
  readonly ports: readonly WatchedPort[];
  /** OTLP export results, when OTLP is on. */
  readonly otlpResults: (() => ExportCounts) | undefined;
}

/**
 * Upper bound of attribute sets one instrument may hold at once. Stale sets are pruned every
 * collection, so this only guards against a runaway; it allocates nothing.
 */
export const CARDINALITY_LIMIT = 50_000;

const NO_ATTRIBUTES: Attributes = Object.freeze({});

export class ExporterInstruments {
  private readonly source: SnapshotSource;
  private readonly ports: readonly WatchedPort[];
  private readonly portNames: ReadonlyMap<number, string>;
  private readonly otlpResults: (() => ExportCounts) | undefined;
  private readonly pruner: StaleSeriesPruner;

  private readonly up: Observable;
  private readonly sockets: Observable;
  private readonly receiveQueue: Observable;
  private readonly drops: Observable;
  private readonly ownerInfo: Observable;
  private readonly omittedPorts: Observable;
  private readonly hostCounters: readonly (readonly [Observable, string])[];
  private readonly collections: Observable;
  private readonly duration: Observable;
  private readonly errors: Observable;
  private readonly readSuccess: Observable;
  private readonly unresolvedOwners: Observable;
  private readonly unreadableProcesses: Observable;
  private readonly otlpExports: Observable;
  private readonly otlpFailures: Observable;

  /** One attributes object per distinct series, reused scrape after scrape. */
  private readonly attributes = new AttributesCache<string>();

  constructor(options: InstrumentOptions) {
    const { meter } = options;
    this.source = options.source;
    this.ports = options.ports;
    this.otlpResults = options.otlpResults;
    this.portNames = new Map(options.ports.filter((p) => p.name !== undefined).map((p) => [p.port, p.name!]));

    const create = (spec: InstrumentSpec): Observable => {
      const options = { description: spec.description, unit: spec.unit, valueType: spec.valueType === 'double' ? ValueType.DOUBLE : ValueType.INT };
      return spec.kind === 'counter' ? meter.createObservableCounter(spec.name, options) : meter.createObservableGauge(spec.name, options);
    };
    this.up = create(LISTENER_UP);
    this.sockets = create(LISTENER_SOCKETS);
    this.receiveQueue = create(LISTENER_RECEIVE_QUEUE);
    this.drops = create(LISTENER_DROPS);
    this.ownerInfo = create(LISTENER_OWNER_INFO);
    this.omittedPorts = create(DISCOVERY_OMITTED_PORTS);
    this.hostCounters = HOST_COUNTERS.map(([spec, column]) => [create(spec), column] as const);
    this.collections = create(COLLECTIONS);
    this.duration = create(COLLECTION_DURATION);
    this.errors = create(COLLECTION_ERRORS);
    this.readSuccess = create(READ_SUCCESS);
    this.unresolvedOwners = create(OWNER_UNRESOLVED_SOCKETS);
    this.unreadableProcesses = create(UNREADABLE_PROCESSES);
    this.otlpExports = create(OTLP_EXPORTS);
    this.otlpFailures = create(OTLP_EXPORT_FAILURES);

    const all = [
      this.up,
      this.sockets,
      this.receiveQueue,
      this.drops,
      this.ownerInfo,
      this.omittedPorts,
      ...this.hostCounters.map(([instrument]) => instrument),
      this.collections,
      this.duration,
      this.errors,
      this.readSuccess,
      this.unresolvedOwners,
      this.unreadableProcesses,
      this.otlpExports,
      this.otlpFailures,
    ];
    this.pruner = new StaleSeriesPruner(all);
    meter.addBatchObservableCallback(this.record, all);
  }

  private readonly record = async (result: BatchObservableResult): Promise<void> => {
    const snapshot = await this.source.take();
    const observations = new Observations();
    this.attributes.beginRound();
    for (const namespace of snapshot.namespaces) {
      this.observeListeners(namespace, snapshot, observations);
      this.observeHostCounters(namespace, observations);
    }
    this.observeSelf(snapshot, observations);
    this.attributes.endRound();
    this.pruner.retainOnly(observations.attributeSets());
    observations.recordTo(result);
  };

  private observeListeners(namespaceSnapshot: NamespaceSnapshot, snapshot: Snapshot, observations: Observations): void {
    const { namespace, listeners } = namespaceSnapshot;
    // Socket tables unreadable: say nothing rather than report every port down.
    if (listeners === undefined) return;
    const isHost = namespace === undefined || namespace.isHost;
    // Configured ports are always reported in the host namespace; elsewhere only where they listen.
    const reported =
      this.ports.length > 0 && isHost ? this.ports.map((p) => p.port) : [...listeners.keys()].sort((a, b) => a - b);
    const scope = namespace === undefined ? '' : `${namespace.inode}`;
    for (const port of reported) {
      const attributes = this.attributes.get(`${scope}:${port}`, () => this.listenerAttributes(namespace, port));
      const state = listeners.get(port);
      observations.add(this.up, state === undefined ? 0 : 1, attributes);
      observations.add(this.sockets, state?.sockets ?? 0, attributes);
      observations.add(this.receiveQueue, state?.receiveQueueBytes ?? 0, attributes);
      observations.add(this.drops, state?.drops ?? 0, attributes);
      if (state === undefined || snapshot.owners === undefined) continue;
      const seen = new Set<number>();
      for (const inode of state.inodes) {
        for (const { pid, executableName } of snapshot.owners.owners.get(inode) ?? []) {
          if (seen.has(pid)) continue;
          seen.add(pid);
          const ownerAttributes = this.attributes.get(`${scope}:${port}:${pid}:${executableName}`, () => ({
            ...attributes,
            [ATTR_PROCESS_PID]: pid,
            [ATTR_PROCESS_EXECUTABLE_NAME]: executableName,
          }));
          observations.add(this.ownerInfo, 1, ownerAttributes);
        }
      }
    }
  }

  /** Key order is label order on the page: port, name, then the namespace. */
  private listenerAttributes(namespace: NetNamespace | undefined, port: number): Attributes {
    const name = this.portNames.get(port);
    return {
      [ATTR_PORT]: port,
      ...(name === undefined ? {} : { [ATTR_LISTENER_NAME]: name }),
      ...namespaceAttributes(namespace),
    };
  }

  private observeHostCounters({ namespace, counters }: NamespaceSnapshot, observations: Observations): void {
    const scope = namespace === undefined ? '' : `${namespace.inode}`;
    for (const [family, columns] of [
      ['ipv4', counters.ipv4],
      ['ipv6', counters.ipv6],
    ] as const) {
      if (columns === undefined) continue;
      const attributes = this.attributes.get(`${scope}:${family}`, () => ({ [ATTR_NETWORK_TYPE]: family, ...namespaceAttributes(namespace) }));
      for (const [instrument, column] of this.hostCounters) {
        // Older kernels lack some columns: absent, not 0.
        const value = columns.get(column);
        if (value !== undefined) observations.add(instrument, value, attributes);
      }
    }
  }

  private observeSelf(snapshot: Snapshot, observations: Observations): void {
    observations.add(this.collections, this.source.collections, NO_ATTRIBUTES);
    observations.add(this.duration, snapshot.durationSeconds, NO_ATTRIBUTES);
    if (this.ports.length === 0) observations.add(this.omittedPorts, snapshot.omittedPorts, NO_ATTRIBUTES);
    for (const [file, ok] of snapshot.filesRead) {
      observations.add(this.readSuccess, ok ? 1 : 0, this.attributes.get(`file ${file}`, () => ({ [ATTR_FILE_PATH]: file })));
    }
    for (const [key, { file, failure, count }] of this.source.failureCounts) {
      const attributes = this.attributes.get(`error ${key}`, () => ({ [ATTR_FILE_PATH]: file, [ATTR_ERROR_TYPE]: failure }));
      observations.add(this.errors, count, attributes);
    }
    if (snapshot.owners !== undefined) {
      observations.add(this.unresolvedOwners, snapshot.owners.unresolvedSockets, NO_ATTRIBUTES);
      observations.add(this.unreadableProcesses, snapshot.owners.unreadableProcesses, this.attributes.get('lookup owners', () => ({ [ATTR_LOOKUP]: 'owners' })));
    }
    if (snapshot.namespaceUnreadableProcesses !== undefined) {
      const attributes = this.attributes.get('lookup namespaces', () => ({ [ATTR_LOOKUP]: 'namespaces' }));
      observations.add(this.unreadableProcesses, snapshot.namespaceUnreadableProcesses, attributes);
    }
    if (this.otlpResults !== undefined) {
      const { exports, failures } = this.otlpResults();
      observations.add(this.otlpExports, exports, NO_ATTRIBUTES);
      observations.add(this.otlpFailures, failures, NO_ATTRIBUTES);
    }
  }
}

function namespaceAttributes(namespace: NetNamespace | undefined): Attributes {
  if (namespace === undefined) return {};
  return {
    [ATTR_NETNS_INODE]: namespace.inode,
    ...(namespace.hints.containerId === undefined ? {} : { [ATTR_CONTAINER_ID]: namespace.hints.containerId }),
    ...(namespace.hints.podUid === undefined ? {} : { [ATTR_K8S_POD_UID]: namespace.hints.podUid }),
  };
}
