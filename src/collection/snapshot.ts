/**
 * One collection: every procfs file the instruments need is read once, parsed, and reduced to
 * per-port listener state. Every instrument is recorded from the same Snapshot, and concurrent
 * collections (several scrapes, a scrape and an OTLP export) share one.
 */
import { endianness } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Config } from '../config/config.js';
import { failureOf, type ReadFailure } from '../procfs/errors.js';
import { DEFAULT_EPHEMERAL_PORT_RANGE, parseIpLocalPortRange, type PortRange } from '../procfs/ip-local-port-range.js';
import { parseNetUdp, UDP_STATE_UNCONNECTED, type IpFamily, type UdpSocket } from '../procfs/net-udp.js';
import type { ProcFs } from '../procfs/procfs.js';
import type { Logger } from '../log.js';
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

export interface CollectionFailure {
  readonly file: string;
  readonly failure: ReadFailure;
  readonly message: string;
}

export interface Snapshot {
  /**
   * Listeners of the selected ports, only ports that have one. Undefined when a socket table
   * could not be read: then nothing is known about any port, and nothing is reported.
   */
  readonly listeners: ReadonlyMap<number, PortListeners> | undefined;
  /** Discovery mode: listening ports left out because of the discovery limit. */
  readonly omittedPorts: number;
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

/**
 * How many times a collection reads the socket tables again when a listener the previous
 * collection saw is missing (see confirmVanished).
 */
const CONFIRMATION_READS = 2;

export interface SnapshotSourceOptions {
  readonly procfs: ProcFs;
  readonly config: Pick<Config, 'ports' | 'discoveryLimit' | 'collectionTimeoutMs'>;
  /** Directory holding the socket tables of the namespace to watch, e.g. <root>/1/net. */
  readonly netDirectory: string;
  readonly logger: Logger;
}

export class SnapshotSource {
  /** Takes a snapshot, or joins the one being taken. Never rejects. */
  readonly take: () => Promise<Snapshot>;
  /** How many snapshots were taken, i.e. how many times procfs was read. */
  collections = 0;
  /** Failures since start-up by file and kind, in the order first seen. */
  readonly failureCounts = new Map<string, FailureCount>();

  private readonly options: SnapshotSourceOptions;
  private readonly byteOrder = endianness();
  /** Files whose last read failed, for logging once per failure burst rather than per scrape. */
  private readonly failingFiles = new Set<string>();
  /** Configured mode: 1 at each watched port. Undefined in discovery mode. */
  private readonly watched: Uint8Array | undefined;
  /**
   * Ports that had a listener in the last collection that read both tables; before the first,
   * the configured ports, so that the very first collection confirms a missing one too.
   */
  private lastPorts: ReadonlySet<number>;

  constructor(options: SnapshotSourceOptions) {
    this.options = options;
    this.lastPorts = new Set(options.config.ports.map(({ port }) => port));
    if (options.config.ports.length > 0) {
      this.watched = new Uint8Array(65536);
      for (const { port } of options.config.ports) this.watched[port] = 1;
    }
    this.take = singleFlight(() => this.read());
  }

  private async read(): Promise<Snapshot> {
    this.collections++;
    const started = performance.now();
    const deadline = started + this.options.config.collectionTimeoutMs;
    const failures: CollectionFailure[] = [];
    const filesRead = new Map<string, boolean>();
    const fail = (file: string, error: unknown): void => {
      const failure: CollectionFailure = {
        file,
        failure: failureOf(error),
        message: error instanceof Error ? error.message : String(error),
      };
      failures.push(failure);
      filesRead.set(file, false);
      this.countFailure(failure);
    };

    const readOptions = { deadlineMs: Math.max(1, deadline - performance.now()) };
    const { procfs, netDirectory } = this.options;
    const udp4File = `${netDirectory}/udp`;
    const udp6File = `${netDirectory}/udp6`;
    const rangeFile = procfs.path('sys', 'net', 'ipv4', 'ip_local_port_range');
    const [udp4, udp6, rangeText] = await Promise.allSettled([
      procfs.read(udp4File, readOptions),
      procfs.read(udp6File, readOptions),
      this.watched === undefined ? procfs.read(rangeFile, readOptions) : Promise.resolve(undefined),
    ]);

    let ephemeral: PortRange = DEFAULT_EPHEMERAL_PORT_RANGE;
    if (rangeText.status === 'rejected') {
      fail(rangeFile, rangeText.reason);
    } else if (rangeText.value !== undefined) {
      try {
        ephemeral = parseIpLocalPortRange(rangeText.value.toString('latin1'), rangeFile);
        filesRead.set(rangeFile, true);
      } catch (error) {
        fail(rangeFile, error);
      }
    }

    const watched = this.watched;
    const include =
      watched === undefined
        ? (port: number, state: number) => state === UDP_STATE_UNCONNECTED && (port < ephemeral.low || port > ephemeral.high)
        : (port: number, state: number) => state === UDP_STATE_UNCONNECTED && watched[port] === 1;

    let tablesComplete = true;
    const tables: UdpSocket[][] = [];
    for (const [settled, file, family] of [
      [udp4, udp4File, 'ipv4'],
      [udp6, udp6File, 'ipv6'],
    ] as const) {
      if (settled.status === 'rejected') {
        // No udp6 means IPv6 is disabled: no data, not a failure.
        if (family === 'ipv6' && failureOf(settled.reason) === 'ENOENT') {
          filesRead.set(file, true);
          continue;
        }
        fail(file, settled.reason);
        tablesComplete = false;
        continue;
      }
      try {
        tables.push(parseNetUdp(settled.value, { file, family: family as IpFamily, byteOrder: this.byteOrder, include }));
        filesRead.set(file, true);
      } catch (error) {
        fail(file, error);
        tablesComplete = false;
      }
    }

    let listeners: Map<number, PortListeners> | undefined;
    let omittedPorts = 0;
    if (tablesComplete) {
      listeners = await this.confirmVanished(tables, { udp4File, udp6File, include, deadline });
      this.lastPorts = new Set(listeners.keys());
      if (watched === undefined && listeners.size > this.options.config.discoveryLimit) {
        const kept = [...listeners.keys()].sort((a, b) => a - b).slice(0, this.options.config.discoveryLimit);
        omittedPorts = listeners.size - kept.length;
        listeners = new Map(kept.map((port) => [port, listeners!.get(port)!]));
      }
    }
    this.logTransitions(failures, filesRead);
    return {
      listeners,
      omittedPorts,
      failures,
      filesRead,
      durationSeconds: (performance.now() - started) / 1000,
    };
  }

  /**
   * The kernel writes a socket table one page per read(2) and finds its place again by counting
   * entries from the start, so sockets that close elsewhere while the table is being read shift
   * it: a listener can be skipped, just as others get printed twice. Under socket churn (DNS
   * clients, say) that reported live listeners as down (found by the load test with churn). So
   * when a port the last collection saw has no listener now, the tables are read again, up to
   * CONFIRMATION_READS times within the deadline, and a socket any read saw counts (once, by
   * inode). A listener that really closed costs these extra reads once, on the first
   * collection that misses it.
   */
  private async confirmVanished(
    tables: UdpSocket[][],
    read: { udp4File: string; udp6File: string; include: (port: number, state: number) => boolean; deadline: number },
  ): Promise<Map<number, PortListeners>> {
    const seen = [...tables];
    let listeners = aggregateByPort(seen);
    for (let attempt = 0; attempt < CONFIRMATION_READS; attempt++) {
      const vanished = [...this.lastPorts].filter((port) => !listeners.has(port));
      const remainingMs = read.deadline - performance.now();
      if (vanished.length === 0 || remainingMs < 1) break;
      this.options.logger.debug('listeners missing since the last collection; reading the socket tables again to confirm', {
        ports: vanished.slice(0, 10).join(','),
        attempt: attempt + 1,
      });
      const again = await Promise.allSettled(
        ([
          [read.udp4File, 'ipv4'],
          [read.udp6File, 'ipv6'],
        ] as const).map(async ([file, family]) => {
          const bytes = await this.options.procfs.read(file, { deadlineMs: remainingMs });
          return parseNetUdp(bytes, { file, family, byteOrder: this.byteOrder, include: read.include });
        }),
      );
      // A confirmation that fails proves nothing either way: keep what the first read found.
      for (const settled of again) if (settled.status === 'fulfilled') seen.push(settled.value);
      listeners = aggregateByPort(seen);
    }
    return listeners;
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
