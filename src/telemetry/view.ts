/**
 * A Snapshot laid out as rows of series, each with its attributes: what the metric table's
 * observe functions read (metrics.ts). Built once per collection; the attributes objects are
 * reused from one collection to the next, so an unchanged page allocates no new ones.
 */
import type { Attributes } from '@opentelemetry/api';
import { ListenerTable, type PortRow } from '../collection/listener-table.js';
import type { NetNamespace } from '../collection/namespaces.js';
import type { FailureCount, NamespaceSnapshot, PortListeners, Snapshot } from '../collection/snapshot.js';
import type { WatchedPort } from '../config/ports.js';
import type { UdpCounters } from '../procfs/net-snmp.js';
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
} from './names.js';
import { AttributesCache } from './observations.js';
import type { ReloadState } from '../config/web-config.js';
import type { ExportCounts } from './otlp.js';

/** A reported port of one namespace. */
export interface ListenerRow {
  readonly attributes: Attributes;
  /** Undefined: the port has no listener (a configured port reads 0). */
  readonly listeners: PortListeners | undefined;
}

/** Host-wide counters of one IP version in one namespace. */
export interface HostCounterRow {
  readonly attributes: Attributes;
  readonly columns: UdpCounters;
}

/** A value with its attributes, for metrics with one series per file, error kind or lookup. */
export interface CountRow {
  readonly attributes: Attributes;
  readonly value: number;
}

export interface CollectionView {
  readonly listeners: readonly ListenerRow[];
  /** One per process holding a reported port's socket. */
  readonly owners: readonly Attributes[];
  readonly hostCounters: readonly HostCounterRow[];
  /** How many collections the source has made, this one included. */
  readonly collections: number;
  readonly durationSeconds: number;
  /** Discovery mode only. */
  readonly omittedPorts: number | undefined;
  /** 1 or 0 per file read. */
  readonly readSuccess: readonly CountRow[];
  /** Failures since start-up per file and kind. */
  readonly failureCounts: readonly CountRow[];
  /** Owner lookup on only. */
  readonly unresolvedOwners: number | undefined;
  readonly unreadableProcesses: readonly CountRow[];
  /** OTLP on only. */
  readonly otlp: ExportCounts | undefined;
  /** With a web configuration file only. */
  readonly webConfigReload: ReloadState | undefined;
}

/** What a view is built from besides the snapshot. */
export interface CollectionTotals {
  readonly collections: number;
  readonly failureCounts: ReadonlyMap<string, FailureCount>;
  readonly otlp: ExportCounts | undefined;
  readonly webConfigReload: ReloadState | undefined;
}

export const NO_ATTRIBUTES: Attributes = Object.freeze({});

export class CollectionViewBuilder {
  /** Configured ports; empty means discovery mode. */
  private readonly ports: readonly WatchedPort[];
  private readonly table: ListenerTable;
  /** One attributes object per distinct series, reused scrape after scrape. */
  private readonly attributes = new AttributesCache<string>();

  constructor(ports: readonly WatchedPort[]) {
    this.ports = ports;
    this.table = new ListenerTable(ports);
  }

  build(snapshot: Snapshot, totals: CollectionTotals): CollectionView {
    this.attributes.beginRound();
    const listeners: ListenerRow[] = [];
    const owners: Attributes[] = [];
    for (const row of this.table.rows(snapshot)) this.addListeners(row, listeners, owners);
    const hostCounters: HostCounterRow[] = [];
    for (const namespace of snapshot.namespaces) this.addHostCounters(namespace, hostCounters);
    const view: CollectionView = {
      listeners,
      owners,
      hostCounters,
      collections: totals.collections,
      durationSeconds: snapshot.durationSeconds,
      omittedPorts: this.ports.length === 0 ? snapshot.omittedPorts : undefined,
      readSuccess: [...snapshot.filesRead].map(([file, ok]) => ({
        attributes: this.attributes.get(`file ${file}`, () => ({ [ATTR_FILE_PATH]: file })),
        value: ok ? 1 : 0,
      })),
      failureCounts: [...totals.failureCounts].map(([key, { file, failure, count }]) => ({
        attributes: this.attributes.get(`error ${key}`, () => ({ [ATTR_FILE_PATH]: file, [ATTR_ERROR_TYPE]: failure })),
        value: count,
      })),
      unresolvedOwners: snapshot.owners?.unresolvedSockets,
      unreadableProcesses: [
        ...(snapshot.owners === undefined ? [] : [{ attributes: this.lookupAttributes('owners'), value: snapshot.owners.unreadableProcesses }]),
        ...(snapshot.namespaceUnreadableProcesses === undefined ? [] : [{ attributes: this.lookupAttributes('namespaces'), value: snapshot.namespaceUnreadableProcesses }]),
      ],
      otlp: totals.otlp,
      webConfigReload: totals.webConfigReload,
    };
    this.attributes.endRound();
    return view;
  }

  private addListeners(row: PortRow, listeners: ListenerRow[], owners: Attributes[]): void {
    const { namespace, port } = row;
    const scope = namespace === undefined ? '' : `${namespace.inode}`;
    const attributes = this.attributes.get(`${scope}:${port}`, () => listenerAttributes(row));
    listeners.push({ attributes, listeners: row.listeners });
    for (const { pid, executableName } of row.owners) {
      owners.push(
        this.attributes.get(`${scope}:${port}:${pid}:${executableName}`, () => ({
          ...attributes,
          [ATTR_PROCESS_PID]: pid,
          [ATTR_PROCESS_EXECUTABLE_NAME]: executableName,
        })),
      );
    }
  }

  private addHostCounters({ namespace, counters }: NamespaceSnapshot, rows: HostCounterRow[]): void {
    const scope = namespace === undefined ? '' : `${namespace.inode}`;
    for (const [family, columns] of [
      ['ipv4', counters.ipv4],
      ['ipv6', counters.ipv6],
    ] as const) {
      if (columns === undefined) continue;
      const attributes = this.attributes.get(`${scope}:${family}`, () => ({ [ATTR_NETWORK_TYPE]: family, ...namespaceAttributes(namespace) }));
      rows.push({ attributes, columns });
    }
  }

  private lookupAttributes(lookup: 'owners' | 'namespaces'): Attributes {
    return this.attributes.get(`lookup ${lookup}`, () => ({ [ATTR_LOOKUP]: lookup }));
  }
}

/** Key order is label order on the page: port, name, then the namespace. */
function listenerAttributes({ port, name, namespace }: PortRow): Attributes {
  return {
    [ATTR_PORT]: port,
    ...(name === undefined ? {} : { [ATTR_LISTENER_NAME]: name }),
    ...namespaceAttributes(namespace),
  };
}

function namespaceAttributes(namespace: NetNamespace | undefined): Attributes {
  if (namespace === undefined) return {};
  return {
    [ATTR_NETNS_INODE]: namespace.inode,
    ...(namespace.hints.containerId === undefined ? {} : { [ATTR_CONTAINER_ID]: namespace.hints.containerId }),
    ...(namespace.hints.podUid === undefined ? {} : { [ATTR_K8S_POD_UID]: namespace.hints.podUid }),
  };
}
