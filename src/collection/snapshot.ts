/**
 * One collection: every procfs file the instruments need is read once, parsed, and reduced to
 * per-port listener state, host-wide UDP counters and listener owners. Every instrument is
 * recorded from the same Snapshot, and concurrent collections (several scrapes, a scrape and an
 * OTLP export) share one.
 */
import { endianness } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import { failureOf, ProcFormatError, type ReadFailure } from '../procfs/errors.js';
import { DEFAULT_EPHEMERAL_PORT_RANGE, parseIpLocalPortRange, type PortRange } from '../procfs/ip-local-port-range.js';
import { parseNetSnmp, parseNetSnmp6 } from '../procfs/net-snmp.js';
import { parseNetUdp, UDP_STATE_UNCONNECTED, type IpFamily, type UdpSocket } from '../procfs/net-udp.js';
import type { ProcFs } from '../procfs/procfs.js';
import { forEachLimited } from './deadline.js';
import { NamespaceFinder, type NetNamespace } from './namespaces.js';
import { OwnerResolver, type OwnerLookup } from './owners.js';
import { singleFlight } from './single-flight.js';

/** The listeners of one port, summed over its sockets (IPv4 and IPv6, SO_REUSEPORT siblings). */
export interface PortListeners {
  readonly port: number;
  readonly sockets: number;
  readonly receiveQueueBytes: number;
  readonly drops: number;
  /** Socket inodes, for finding the owning processes. */
  readonly inodes: readonly number[];
}

/** Host-wide UDP counters of a namespace by kernel column name (InDatagrams, NoPorts, ...). */
export interface UdpCounters {
  /** From snmp's Udp line; undefined when unreadable. */
  readonly ipv4: ReadonlyMap<string, number> | undefined;
  /** From snmp6's Udp6* lines, with the Udp6 prefix removed; undefined when IPv6 is off or unreadable. */
  readonly ipv6: ReadonlyMap<string, number> | undefined;
}

export interface NamespaceSnapshot {
  /** Undefined when watching only the host namespace (UDP_LISTENER_NETNS=host). */
  readonly namespace: NetNamespace | undefined;
  /**
   * Listeners of the selected ports that have one. Undefined when a socket table could not be
   * read: then nothing is known about any port, and nothing is reported.
   */
  readonly listeners: ReadonlyMap<number, PortListeners> | undefined;
  readonly counters: UdpCounters;
}

export interface CollectionFailure {
  readonly file: string;
  readonly failure: ReadFailure;
  readonly message: string;
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

/** Failures of one kind on one file, counted since start-up. */
export interface FailureCount {
  readonly file: string;
  readonly failure: ReadFailure;
  count: number;
}

export interface SnapshotSourceOptions {
  readonly procfs: ProcFs;
  readonly config: Pick<Config, 'ports' | 'discoveryLimit' | 'collectionTimeoutMs' | 'owners' | 'netns'>;
  /** Directory holding the host namespace's tables, normally <root>/1/net. */
  readonly hostNetDirectory: string;
  readonly logger: Logger;
}

/** A full walk of every process's fds at most this often when nothing new asks for one. */
export const OWNER_RESCAN_INTERVAL_MS = 10 * 60_000;
/** A namespace whose process exits while it is read is read through the next one, this many times. */
const NAMESPACE_READ_ATTEMPTS = 3;
/**
 * How many times a collection reads a namespace's socket tables again when a listener the
 * previous collection saw there is missing (see confirmVanished).
 */
const CONFIRMATION_READS = 2;
/** The socket tables of a namespace's net directory and the family of each. */
const SOCKET_TABLES = [
  ['udp', 'ipv4'],
  ['udp6', 'ipv6'],
] as const;

/** A namespace's snapshot while the collection is still trimming it to the discovery limit. */
interface NamespaceReading {
  readonly namespace: NetNamespace | undefined;
  listeners: ReadonlyMap<number, PortListeners> | undefined;
  readonly counters: UdpCounters;
}

interface NamespaceTarget {
  readonly namespace: NetNamespace | undefined;
  /** Candidate net directories, tried in order while they vanish (the process exited). */
  readonly directories: readonly string[];
}

type Include = (port: number, state: number) => boolean;

export class SnapshotSource {
  /** Takes a snapshot, or joins the one being taken. Never rejects. */
  readonly take: () => Promise<Snapshot>;
  /** How many snapshots were taken, i.e. how many times procfs was read. */
  collections = 0;
  /** Failures since start-up by file and kind, in the order first seen. */
  readonly failureCounts = new Map<string, FailureCount>();

  private readonly options: SnapshotSourceOptions;
  private readonly byteOrder = endianness();
  /** Configured mode: 1 at each watched port. Undefined in discovery mode. */
  private readonly watched: Uint8Array | undefined;
  private readonly namespaceFinder: NamespaceFinder | undefined;
  private readonly ownerResolver: OwnerResolver | undefined;
  private readonly configuredPorts: ReadonlySet<number>;
  /** Files whose last read failed, for logging once per failure burst rather than per scrape. */
  private readonly failingFiles = new Set<string>();
  /**
   * Per namespace ('' for the host when watching it alone, else the inode), the ports that had
   * a listener in the last collection that read its tables; before the first, the configured
   * ports, so that the very first collection confirms a missing one too.
   */
  private readonly lastPorts = new Map<string, ReadonlySet<number>>();

  constructor(options: SnapshotSourceOptions) {
    this.options = options;
    if (options.config.ports.length > 0) {
      this.watched = new Uint8Array(65536);
      for (const { port } of options.config.ports) this.watched[port] = 1;
    }
    this.namespaceFinder = options.config.netns === 'all' ? new NamespaceFinder(options.procfs) : undefined;
    this.configuredPorts = new Set(options.config.ports.map(({ port }) => port));
    this.ownerResolver = options.config.owners ? new OwnerResolver(options.procfs, { rescanIntervalMs: OWNER_RESCAN_INTERVAL_MS }) : undefined;
    this.take = singleFlight(() => this.read());
  }

  private async read(): Promise<Snapshot> {
    this.collections++;
    const started = performance.now();
    const collection = new Collection(this.options.procfs, started + this.options.config.collectionTimeoutMs, (failure) => this.countFailure(failure));

    const [targets, ephemeral] = await Promise.all([this.targets(collection), this.ephemeralRange(collection)]);
    const watched = this.watched;
    const include: Include =
      watched === undefined
        ? (port, state) => state === UDP_STATE_UNCONNECTED && (port < ephemeral.low || port > ephemeral.high)
        : (port, state) => state === UDP_STATE_UNCONNECTED && watched[port] === 1;

    const namespaces: (NamespaceReading | undefined)[] = new Array(targets.namespaces.length);
    await forEachLimited([...targets.namespaces.keys()], 4, async (index) => {
      namespaces[index] = await this.readNamespace(collection, targets.namespaces[index]!, include);
    });
    const present = namespaces.filter((reading) => reading !== undefined);
    const omittedPorts = watched === undefined ? applyDiscoveryLimit(present, this.options.config.discoveryLimit) : 0;
    const owners = await this.resolveOwners(present, collection.deadline);

    this.logTransitions(collection.failures, collection.filesRead);
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
      return {
        namespaces: found.namespaces.map((namespace) => ({
          namespace,
          directories: namespace.isHost ? [hostNetDirectory] : namespace.pids.slice(0, NAMESPACE_READ_ATTEMPTS).map((pid) => procfs.path(String(pid), 'net')),
        })),
        unreadableProcesses: found.unreadableProcesses,
      };
    } catch (error) {
      collection.fail((error as { file?: string }).file ?? procfs.path('1', 'ns', 'net'), error);
      return { namespaces: [], unreadableProcesses: undefined };
    }
  }

  private async ephemeralRange(collection: Collection): Promise<PortRange> {
    if (this.watched !== undefined) return DEFAULT_EPHEMERAL_PORT_RANGE;
    const file = this.options.procfs.path('sys', 'net', 'ipv4', 'ip_local_port_range');
    const text = await collection.readFile(file);
    if (text === undefined) return DEFAULT_EPHEMERAL_PORT_RANGE;
    return collection.parse(file, () => parseIpLocalPortRange(text.toString('latin1'), file)) ?? DEFAULT_EPHEMERAL_PORT_RANGE;
  }

  /**
   * Reads one namespace's four files. Outside the host namespace, files are reported under a
   * `<pid>` path, so a namespace whose processes come and go does not mint a label per pid; a
   * namespace whose every candidate process has exited is gone, and skipped.
   */
  private async readNamespace(collection: Collection, target: NamespaceTarget, include: Include): Promise<NamespaceReading | undefined> {
    const isHost = target.namespace === undefined || target.namespace.isHost;
    for (const directory of target.directories) {
      const label = isHost ? directory : this.options.procfs.path('<pid>', 'net');
      // The socket tables first, in SOCKET_TABLES order, then the counters.
      const settled = await Promise.all([...SOCKET_TABLES.map(([name]) => name), 'snmp', 'snmp6'].map((name) => collection.readRaw(`${directory}/${name}`)));
      const [udp4, , snmp, snmp6] = settled;
      if (!isHost && udp4!.status === 'rejected' && failureOf(udp4!.reason) === 'ENOENT') continue;

      let listeners: Map<number, PortListeners> | undefined;
      const tables: UdpSocket[][] = [];
      let tablesComplete = true;
      for (const [index, [name, family]] of SOCKET_TABLES.entries()) {
        const file = `${label}/${name}`;
        // No udp6 means IPv6 is disabled: no data, not a failure.
        const bytes = collection.settle(file, settled[index]!, family === 'ipv6');
        if (bytes === null) continue;
        const parsed = bytes === undefined ? undefined : collection.parse(file, () => this.parseTable(bytes, `${directory}/${name}`, family, include));
        if (parsed === undefined) tablesComplete = false;
        else tables.push(parsed);
      }
      if (tablesComplete) {
        const key = target.namespace === undefined ? '' : String(target.namespace.inode);
        listeners = await this.confirmVanished(key, tables, { directory, include, deadline: collection.deadline });
        this.lastPorts.set(key, new Set(listeners.keys()));
      }

      const snmpBytes = collection.settle(`${label}/snmp`, snmp!, false);
      const snmp6Bytes = collection.settle(`${label}/snmp6`, snmp6!, true);
      const ipv4 =
        snmpBytes === undefined || snmpBytes === null
          ? undefined
          : collection.parse(`${label}/snmp`, () => {
              const udp = parseNetSnmp(snmpBytes.toString('latin1'), `${directory}/snmp`).get('Udp');
              if (udp === undefined) throw new ProcFormatError(`${directory}/snmp`, 0, 'Udp', '', 'no Udp lines in the file');
              return udp;
            });
      const ipv6 =
        snmp6Bytes === undefined || snmp6Bytes === null
          ? undefined
          : collection.parse(`${label}/snmp6`, () => udp6Counters(parseNetSnmp6(snmp6Bytes.toString('latin1'), `${directory}/snmp6`)));
      return { namespace: target.namespace, listeners, counters: { ipv4, ipv6 } };
    }
    return undefined;
  }

  /**
   * The kernel writes a socket table one page (about 31 lines) per read(2) and finds its place
   * again by counting entries from the start, so sockets that close elsewhere while the table is
   * read shift it: a listener can be skipped, just as others get printed twice. Under socket
   * churn (DNS clients, say) that reported live listeners as down. So when a port the last
   * collection saw in this namespace has no listener now, its tables are read again, up to
   * CONFIRMATION_READS times within the deadline, and a socket any read saw counts (once, by
   * inode). A listener that really closed costs these extra reads once, on the first collection
   * that misses it. This lowers the odds of a false 0; only a netlink sock_diag dump would make
   * the read atomic, and Node has no netlink sockets.
   */
  private async confirmVanished(
    key: string,
    tables: UdpSocket[][],
    read: { directory: string; include: Include; deadline: number },
  ): Promise<Map<number, PortListeners>> {
    const seen = [...tables];
    let listeners = aggregateByPort(seen);
    const last = this.lastPorts.get(key) ?? (key === '' || this.watched !== undefined ? this.configuredPorts : new Set<number>());
    for (let attempt = 0; attempt < CONFIRMATION_READS; attempt++) {
      const vanished = [...last].filter((port) => !listeners.has(port));
      const remainingMs = read.deadline - performance.now();
      if (vanished.length === 0 || remainingMs < 1) break;
      this.options.logger.debug('listeners missing since the last collection; reading the socket tables again to confirm', {
        ports: vanished.slice(0, 10).join(','),
        attempt: attempt + 1,
      });
      const again = await Promise.allSettled(
        SOCKET_TABLES.map(async ([name, family]) => {
          const file = `${read.directory}/${name}`;
          return this.parseTable(await this.options.procfs.read(file, { deadlineMs: remainingMs }), file, family, read.include);
        }),
      );
      // A confirmation that fails proves nothing either way: keep what the first read found.
      for (const settled of again) if (settled.status === 'fulfilled') seen.push(settled.value);
      listeners = aggregateByPort(seen);
    }
    return listeners;
  }

  private parseTable(bytes: Buffer, file: string, family: IpFamily, include: Include): UdpSocket[] {
    return parseNetUdp(bytes, { file, family, byteOrder: this.byteOrder, include });
  }

  private async resolveOwners(namespaces: readonly NamespaceSnapshot[], deadline: number): Promise<OwnerLookup | undefined> {
    if (this.ownerResolver === undefined) return undefined;
    const inodes = new Set<number>();
    for (const { listeners } of namespaces) for (const port of listeners?.values() ?? []) for (const inode of port.inodes) inodes.add(inode);
    return this.ownerResolver.resolve(inodes, deadline);
  }

  private logTransitions(failures: readonly CollectionFailure[], filesRead: ReadonlyMap<string, boolean>): void {
    for (const { file, failure, message } of failures) {
      if (this.failingFiles.has(file)) continue;
      this.failingFiles.add(file);
      this.options.logger.warn('procfs read failed; series that depend on it are left out until it recovers', {
        file,
        failure,
        error: message,
      });
    }
    for (const [file, ok] of filesRead) {
      if (ok && this.failingFiles.delete(file)) this.options.logger.info('procfs read recovered', { file });
    }
  }

  private countFailure({ file, failure }: CollectionFailure): void {
    const key = `${failure} ${file}`;
    const known = this.failureCounts.get(key);
    if (known === undefined) this.failureCounts.set(key, { file, failure, count: 1 });
    else known.count++;
  }
}

/** The bookkeeping of one collection: its deadline, the files it read and what failed. */
class Collection {
  readonly deadline: number;
  readonly failures: CollectionFailure[] = [];
  readonly filesRead = new Map<string, boolean>();
  private readonly procfs: ProcFs;
  private readonly onFailure: (failure: CollectionFailure) => void;

  constructor(procfs: ProcFs, deadline: number, onFailure: (failure: CollectionFailure) => void) {
    this.procfs = procfs;
    this.deadline = deadline;
    this.onFailure = onFailure;
  }

  readRaw(file: string): Promise<PromiseSettledResult<Buffer>> {
    return this.procfs.read(file, { deadlineMs: Math.max(1, this.deadline - performance.now()) }).then(
      (value) => ({ status: 'fulfilled', value }),
      (reason: unknown) => ({ status: 'rejected', reason }),
    );
  }

  /** Reads a file, recording a failure under its own name; undefined when it failed. */
  async readFile(file: string): Promise<Buffer | undefined> {
    return this.settle(file, await this.readRaw(file), false) ?? undefined;
  }

  /**
   * The bytes of a settled read, or undefined after recording its failure, or null when the
   * file is absent and `absentIsNoData` (a disabled IPv6 stack).
   */
  settle(label: string, settled: PromiseSettledResult<Buffer>, absentIsNoData: boolean): Buffer | undefined | null {
    if (settled.status === 'fulfilled') return settled.value;
    if (absentIsNoData && failureOf(settled.reason) === 'ENOENT') {
      this.filesRead.set(label, true);
      return null;
    }
    this.fail(label, settled.reason);
    return undefined;
  }

  /** Runs a parser, recording success or the failure under `label`. */
  parse<T>(label: string, parser: () => T): T | undefined {
    try {
      const value = parser();
      this.filesRead.set(label, true);
      return value;
    } catch (error) {
      this.fail(label, error);
      return undefined;
    }
  }

  fail(file: string, error: unknown): void {
    const failure: CollectionFailure = { file, failure: failureOf(error), message: error instanceof Error ? error.message : String(error) };
    this.failures.push(failure);
    this.filesRead.set(file, false);
    this.onFailure(failure);
  }
}

/** snmp6's Udp6* counters under snmp's column names (Udp6InDatagrams -> InDatagrams). */
function udp6Counters(all: ReadonlyMap<string, number>): Map<string, number> {
  const udp = new Map<string, number>();
  for (const [name, value] of all) if (name.startsWith('Udp6')) udp.set(name.slice(4), value);
  return udp;
}

/**
 * Keeps the lowest `limit` ports over all namespaces (ties: host first) and returns how many
 * were left out.
 */
function applyDiscoveryLimit(namespaces: NamespaceReading[], limit: number): number {
  const all: { port: number; index: number }[] = [];
  namespaces.forEach(({ listeners }, index) => {
    for (const port of listeners?.keys() ?? []) all.push({ port, index });
  });
  if (all.length <= limit) return 0;
  all.sort((a, b) => a.port - b.port || a.index - b.index);
  const kept = new Set(all.slice(0, limit).map(({ port, index }) => `${index} ${port}`));
  namespaces.forEach((reading, index) => {
    if (reading.listeners !== undefined) {
      reading.listeners = new Map([...reading.listeners].filter(([port]) => kept.has(`${index} ${port}`)));
    }
  });
  return all.length - limit;
}

interface MutablePortListeners {
  port: number;
  sockets: number;
  receiveQueueBytes: number;
  drops: number;
  inodes: number[];
}

/**
 * Sums sockets per port. The kernel table can change while it is read, so the same socket may
 * be printed twice: each inode counts once.
 */
export function aggregateByPort(tables: readonly (readonly UdpSocket[])[]): Map<number, PortListeners> {
  const byPort = new Map<number, MutablePortListeners>();
  const seenInodes = new Set<number>();
  for (const table of tables) {
    for (const socket of table) {
      if (socket.inode !== 0) {
        if (seenInodes.has(socket.inode)) continue;
        seenInodes.add(socket.inode);
      }
      let entry = byPort.get(socket.localPort);
      if (entry === undefined) {
        entry = { port: socket.localPort, sockets: 0, receiveQueueBytes: 0, drops: 0, inodes: [] };
        byPort.set(socket.localPort, entry);
      }
      entry.sockets++;
      entry.receiveQueueBytes += socket.rxQueueBytes;
      entry.drops += socket.drops;
      entry.inodes.push(socket.inode);
    }
  }
  return byPort;
}
