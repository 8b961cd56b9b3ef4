/**
 * A Snapshot as a table of ports: which ports are reported in which namespace, each with its
 * listeners and the processes holding them. The metrics (telemetry/view.ts), the status page
 * and the check all read this one table, so they cannot disagree about what a port's row is.
 */
import type { WatchedPort } from '../config/ports.js';
import type { PortListeners } from './listeners.js';
import type { NetNamespace } from './namespaces.js';
import type { SocketOwner } from './owners.js';
import type { NamespaceSnapshot, Snapshot } from './snapshot.js';

/** One reported port of one namespace. */
export interface PortRow {
  /** Undefined when only the host namespace is watched (UDP_LISTENER_NETNS=host). */
  readonly namespace: NetNamespace | undefined;
  readonly port: number;
  /** From `name=` in the port list. */
  readonly name: string | undefined;
  /** Undefined: the port has no listener. */
  readonly listeners: PortListeners | undefined;
  /** Processes holding the port's sockets, each once, in the order of its sockets; empty without owner lookup. */
  readonly owners: readonly SocketOwner[];
}

export class ListenerTable {
  /** Configured ports; empty means discovery mode. */
  private readonly ports: readonly WatchedPort[];
  private readonly portNames: ReadonlyMap<number, string>;

  constructor(ports: readonly WatchedPort[]) {
    this.ports = ports;
    this.portNames = new Map(ports.filter((p) => p.name !== undefined).map((p) => [p.port, p.name!]));
  }

  /**
   * The rows of every namespace whose socket tables were read, namespace by namespace, ports
   * ascending. A namespace whose tables could not be read has no rows: nothing is known about
   * its ports, and reporting them down would be a lie.
   */
  rows(snapshot: Snapshot): PortRow[] {
    const rows: PortRow[] = [];
    for (const namespace of snapshot.namespaces) this.addRows(namespace, snapshot, rows);
    return rows;
  }

  private addRows({ namespace, listeners }: NamespaceSnapshot, snapshot: Snapshot, rows: PortRow[]): void {
    if (listeners === undefined) return;
    const isHost = namespace === undefined || namespace.isHost;
    // Configured ports are always reported in the host namespace; elsewhere only where they listen.
    const reported = this.ports.length > 0 && isHost ? this.ports.map((p) => p.port) : [...listeners.keys()].sort((a, b) => a - b);
    for (const port of reported) {
      const state = listeners.get(port);
      rows.push({ namespace, port, name: this.portNames.get(port), listeners: state, owners: ownersOf(state, snapshot) });
    }
  }
}

function ownersOf(listeners: PortListeners | undefined, snapshot: Snapshot): SocketOwner[] {
  if (listeners === undefined || snapshot.owners === undefined) return [];
  const owners: SocketOwner[] = [];
  const seen = new Set<number>();
  for (const inode of listeners.inodes) {
    for (const owner of snapshot.owners.owners.get(inode) ?? []) {
      if (seen.has(owner.pid)) continue;
      seen.add(owner.pid);
      owners.push(owner);
    }
  }
  return owners;
}
