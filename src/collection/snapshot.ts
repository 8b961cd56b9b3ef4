/**
 * One collection: every procfs file the instruments need is read once and reduced to per-port
 * listener state, host-wide UDP counters and listener owners. Every instrument is recorded
 * from the same Snapshot, and concurrent collections (several scrapes, a scrape and an OTLP
 * export) share one.
 *
 * This module only orchestrates: the readers of each kernel file live beside their parsers in
 * procfs/, the bookkeeping of a collection in collection.ts, the sums per port and the
 * discovery limit in listeners.ts, the re-read of vanished listeners in confirm-vanished.ts.
 */
import { performance } from 'node:perf_hooks';
import { forEachLimited, settleAll, singleFlight } from '../async.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import { failureOf } from '../procfs/errors.js';
import { DEFAULT_EPHEMERAL_PORT_RANGE, ipLocalPortRangeFile, readIpLocalPortRange } from '../procfs/ip-local-port-range.js';
import { readNetSnmp6Udp, readNetSnmpUdp, type UdpCounters } from '../procfs/net-snmp.js';
import { UDP_STATE_UNCONNECTED, type UdpSocket } from '../procfs/net-udp.js';
import type { NetDirectory, ProcFs } from '../procfs/procfs.js';
import { Collection, FailureHistory, type CollectionFailure, type FailureCount } from './collection.js';
import { VanishedListenerCheck } from './confirm-vanished.js';
import { aggregateByPort, applyDiscoveryLimit, type PortListeners } from './listeners.js';
import { NamespaceFinder, type NetNamespace } from './namespaces.js';
import { OwnerResolver, type OwnerLookup } from './owners.js';
import { procfsSocketTables, type ListenerFilter, type PortRange, type SocketTableSource, type SocketTarget } from './socket-tables.js';

export type { CollectionFailure, FailureCount } from './collection.js';
export type { PortListeners } from './listeners.js';

/** Host-wide UDP counters of a namespace, per IP version. */
export interface HostCounters {
  /** From snmp's Udp line; undefined when unreadable. */
  readonly ipv4: UdpCounters | undefined;
  /** From snmp6's Udp6* lines; undefined when IPv6 is off or unreadable. */
  readonly ipv6: UdpCounters | undefined;
}

export interface NamespaceSnapshot {
  /** Undefined when watching only the host namespace (UDP_LISTENER_NETNS=host). */
  readonly namespace: NetNamespace | undefined;
  /**
   * Listeners of the selected ports that have one. Undefined when a socket table could not be
   * read: then nothing is known about any port, and nothing is reported.
   */
  readonly listeners: ReadonlyMap<number, PortListeners> | undefined;
  readonly counters: HostCounters;
}

export interface Snapshot {
  /** The host namespace first. Empty when the namespaces could not be listed. */
  readonly namespaces: readonly NamespaceSnapshot[];
  /** Discovery mode: listening ports left out because of the discovery limit. */
  readonly omittedPorts: number;
  /** Owners of the reported listeners' sockets; undefined when owner lookup is off. */
  readonly owners: OwnerLookup | undefined;
  /** UDP_LISTENER_NETNS=all: processes whose namespace could not be read. */
  readonly namespaceUnreadableProcesses: number | undefined;
  readonly failures: readonly CollectionFailure[];
  /** Every file this collection read, and whether it was read and parsed. */
  readonly filesRead: ReadonlyMap<string, boolean>;
  readonly durationSeconds: number;
}

export interface SnapshotSourceOptions {
  readonly procfs: ProcFs;
  readonly config: Pick<Config, 'ports' | 'discoveryLimit' | 'collectionTimeoutMs' | 'owners' | 'netns'>;
  /** The host namespace's net directory, normally <root>/1/net. */
  readonly hostNetDirectory: NetDirectory;
  /** Where the socket tables come from (UDP_LISTENER_SOURCE); procfs unless given. */
  readonly socketTables?: SocketTableSource;
  readonly logger: Logger;
}

/** A full walk of every process's fds at most this often when nothing new asks for one. */
export const OWNER_RESCAN_INTERVAL_MS = 10 * 60_000;
/** A namespace whose process exits while it is read is read through the next one, this many times. */
const NAMESPACE_READ_ATTEMPTS = 3;
/** Namespaces read at once. */
const NAMESPACE_CONCURRENCY = 4;

/** A namespace's snapshot while the collection is still trimming it to the discovery limit. */
interface NamespaceReading {
  readonly namespace: NetNamespace | undefined;
  listeners: ReadonlyMap<number, PortListeners> | undefined;
  readonly counters: HostCounters;
}

interface NamespaceTarget {
  readonly namespace: NetNamespace | undefined;
  /** Net directories of its processes, tried in order while they vanish (the process exited). */
  readonly directories: readonly NetDirectory[];
}

export class SnapshotSource {
  /** Takes a snapshot, or joins the one being taken. Never rejects. */
  readonly take: () => Promise<Snapshot>;
  /** How many snapshots were taken, i.e. how many times procfs was read. */
  collections = 0;

  private readonly options: SnapshotSourceOptions;
  private readonly socketTables: SocketTableSource;
  /** Configured mode: 1 at each watched port. Undefined in discovery mode. */
  private readonly watched: Uint8Array | undefined;
  /** Configured mode: the watched ports as ranges, for a source that filters in the kernel. */
  private readonly watchedRanges: readonly PortRange[];
  private readonly namespaceFinder: NamespaceFinder | undefined;
  private readonly ownerResolver: OwnerResolver | undefined;
  private readonly failureHistory: FailureHistory;
  private readonly vanished: VanishedListenerCheck;

  constructor(options: SnapshotSourceOptions) {
    this.options = options;
    this.socketTables = options.socketTables ?? procfsSocketTables;
    this.watchedRanges = options.config.ports.map(({ port }): PortRange => [port, port]);
    if (options.config.ports.length > 0) {
      this.watched = new Uint8Array(65536);
      for (const { port } of options.config.ports) this.watched[port] = 1;
    }
    this.namespaceFinder = options.config.netns === 'all' ? new NamespaceFinder(options.procfs) : undefined;
    this.ownerResolver = options.config.owners ? new OwnerResolver(options.procfs, { rescanIntervalMs: OWNER_RESCAN_INTERVAL_MS }) : undefined;
    this.failureHistory = new FailureHistory(options.logger);
    // Before its first collection, a namespace is expected to have the configured ports: the
    // very first collection confirms a missing one too. ('' is the host when watched alone.)
    const configuredPorts = new Set(options.config.ports.map(({ port }) => port));
    const none = new Set<number>();
    this.vanished = new VanishedListenerCheck((key) => (key === '' || this.watched !== undefined ? configuredPorts : none), options.logger);
    this.take = singleFlight(() => this.read());
  }

  /** Failures since start-up by file and kind, in the order first seen. */
  get failureCounts(): ReadonlyMap<string, FailureCount> {
    return this.failureHistory.counts;
  }

  private async read(): Promise<Snapshot> {
    this.collections++;
    const started = performance.now();
    const collection = new Collection(started + this.options.config.collectionTimeoutMs, this.failureHistory);

    const [targets, filter] = await Promise.all([this.targets(collection), this.listenerFilter(collection)]);
    const readings: (NamespaceReading | undefined)[] = new Array(targets.namespaces.length);
    await forEachLimited([...targets.namespaces.keys()], NAMESPACE_CONCURRENCY, async (index) => {
      readings[index] = await this.readNamespace(collection, targets.namespaces[index]!, filter);
    });
    const present = readings.filter((reading) => reading !== undefined);
    const omittedPorts = this.watched === undefined ? applyDiscoveryLimit(present, this.options.config.discoveryLimit) : 0;
    const owners = await this.resolveOwners(present, collection.deadline);

    this.failureHistory.logTransitions(collection);
    return {
      namespaces: present.map(({ namespace, listeners, counters }) => ({ namespace, listeners, counters })),
      omittedPorts,
      owners,
      namespaceUnreadableProcesses: targets.unreadableProcesses,
      failures: collection.failures,
      filesRead: collection.filesRead,
      durationSeconds: (performance.now() - started) / 1000,
    };
  }

  private async targets(collection: Collection): Promise<{ namespaces: NamespaceTarget[]; unreadableProcesses: number | undefined }> {
    const { procfs, hostNetDirectory } = this.options;
    if (this.namespaceFinder === undefined) {
      return { namespaces: [{ namespace: undefined, directories: [hostNetDirectory] }], unreadableProcesses: undefined };
    }
    try {
      const found = await this.namespaceFinder.find(collection.deadline);
      this.socketTables.keepNamespaces(found.namespaces);
      return {
        namespaces: found.namespaces.map((namespace) => ({
          namespace,
          directories: namespace.isHost ? [hostNetDirectory] : namespace.pids.slice(0, NAMESPACE_READ_ATTEMPTS).map((pid) => procfs.netDirectory(pid)),
        })),
        unreadableProcesses: found.unreadableProcesses,
      };
    } catch (error) {
      collection.fail((error as { file?: string }).file ?? procfs.path('1', 'ns', 'net'), error);
      return { namespaces: [], unreadableProcesses: undefined };
    }
  }

  /**
   * Configured mode: unconnected sockets on a watched port. Discovery: unconnected sockets
   * outside the ephemeral port range, where clients that only call sendto() sit in the same state.
   */
  private async listenerFilter(collection: Collection): Promise<ListenerFilter> {
    const { watched } = this;
    if (watched !== undefined) return { include: (port, state) => state === UDP_STATE_UNCONNECTED && watched[port] === 1, ports: this.watchedRanges };
    const { procfs } = this.options;
    const read = await collection.attempt(ipLocalPortRangeFile(procfs), () => readIpLocalPortRange(procfs, collection.deadline));
    const { low, high } = read?.value ?? DEFAULT_EPHEMERAL_PORT_RANGE;
    const outside: PortRange[] = [];
    if (low > 0) outside.push([0, low - 1]);
    if (high < 65535) outside.push([high + 1, 65535]);
    return { include: (port, state) => state === UDP_STATE_UNCONNECTED && (port < low || port > high), ports: outside };
  }

  /**
   * Reads one namespace's socket tables and counters. Outside the host namespace, a namespace
   * whose every candidate process has exited is gone, and skipped.
   */
  private async readNamespace(collection: Collection, target: NamespaceTarget, filter: ListenerFilter): Promise<NamespaceReading | undefined> {
    const isHost = target.namespace === undefined || target.namespace.isHost;
    const { deadline } = collection;
    for (const net of target.directories) {
      const socketTarget = { net, namespace: target.namespace, isHost };
      const countersDirectory = isHost ? net.path : this.options.procfs.path('<pid>', 'net');
      const [tables, counters] = await Promise.all([
        this.socketTables.read(socketTarget, filter, deadline),
        settleAll({ snmp: readNetSnmpUdp(net, deadline), snmp6: readNetSnmp6Udp(net, deadline) }),
      ]);
      if (!isHost && tables.udp.status === 'rejected' && failureOf(tables.udp.reason) === 'ENOENT') continue;

      const labels = this.socketTables.labels(socketTarget);
      const udp = collection.record(labels.udp, tables.udp);
      const udp6 = collection.record(labels.udp6, tables.udp6);
      let listeners: ReadonlyMap<number, PortListeners> | undefined;
      if (udp !== undefined && udp6 !== undefined) {
        const found = udp6.value === undefined ? [udp.value] : [udp.value, udp6.value];
        if (this.socketTables.confirmsVanished) {
          const key = target.namespace === undefined ? '' : String(target.namespace.inode);
          listeners = await this.vanished.listeners(key, found, () => this.readSocketTablesAgain(socketTarget, filter, deadline), deadline);
        } else {
          listeners = aggregateByPort(found);
        }
      }
      const ipv4 = collection.record(`${countersDirectory}/snmp`, counters.snmp)?.value;
      const ipv6 = collection.record(`${countersDirectory}/snmp6`, counters.snmp6)?.value;
      return { namespace: target.namespace, listeners, counters: { ipv4, ipv6 } };
    }
    return undefined;
  }

  /** A confirming read of both socket tables: whichever of them reads and parses. */
  private async readSocketTablesAgain(target: SocketTarget, filter: ListenerFilter, deadline: number): Promise<UdpSocket[][]> {
    const again = await this.socketTables.read(target, filter, deadline);
    const tables: UdpSocket[][] = [];
    if (again.udp.status === 'fulfilled') tables.push(again.udp.value);
    if (again.udp6.status === 'fulfilled' && again.udp6.value !== undefined) tables.push(again.udp6.value);
    return tables;
  }

  private async resolveOwners(namespaces: readonly NamespaceReading[], deadline: number): Promise<OwnerLookup | undefined> {
    if (this.ownerResolver === undefined) return undefined;
    const inodes = new Set<number>();
    for (const { listeners } of namespaces) for (const port of listeners?.values() ?? []) for (const inode of port.inodes) inodes.add(inode);
    return this.ownerResolver.resolve(inodes, deadline);
  }
}

