/**
 * Where a namespace's UDP sockets come from (UDP_LISTENER_SOURCE): the procfs text tables
 * `<root>/<pid>/net/udp` and `udp6` (the default), or a netlink sock_diag dump
 * (sockdiag/netlink-tables.ts). The collection reads every namespace through one of them and
 * records each table's outcome under the source's labels; the host counters (snmp, snmp6)
 * stay on procfs either way.
 */
import { settleAll } from '../async.js';
import { readNetUdp, readNetUdp6, type UdpSocket } from '../procfs/net-udp.js';
import type { NetDirectory } from '../procfs/procfs.js';
import type { NetNamespace } from './namespaces.js';

/** Local ports [low, high], both included. */
export type PortRange = readonly [number, number];

/** Which sockets a collection reports. */
export interface ListenerFilter {
  /** Decides from a socket's local port and state whether it is a listener this collection reports. */
  readonly include: (port: number, state: number) => boolean;
  /** The local ports `include` can accept, for a source that filters in the kernel. */
  readonly ports: readonly PortRange[];
}

/** A namespace to read, through one of its processes. */
export interface SocketTarget {
  readonly net: NetDirectory;
  /** Undefined when watching only the host namespace (UDP_LISTENER_NETNS=host). */
  readonly namespace: NetNamespace | undefined;
  readonly isHost: boolean;
}

export interface SocketTables {
  readonly udp: PromiseSettledResult<UdpSocket[]>;
  /** Undefined: IPv6 is off, which is no data rather than a failure. */
  readonly udp6: PromiseSettledResult<UdpSocket[] | undefined>;
}

export interface SocketTableSource {
  /**
   * Whether a read can miss a live socket. procfs hands a table out a page per read(2) and
   * finds its place again by counting, so a socket closing elsewhere can make a listener be
   * skipped: a listener missing since the last collection is read again to confirm
   * (confirm-vanished.ts). A netlink dump walks the socket hash once and misses nothing.
   */
  readonly confirmsVanished: boolean;
  /** The `file_path` labels of a target's IPv4 and IPv6 tables. */
  labels(target: SocketTarget): { readonly udp: string; readonly udp6: string };
  /** Reads both tables; each settles on its own. A failure of the target's process having exited is ENOENT. */
  read(target: SocketTarget, filter: ListenerFilter, deadline: number): Promise<SocketTables>;
  /** UDP_LISTENER_NETNS=all: the namespaces a collection found; anything held for others is let go. */
  keepNamespaces(namespaces: readonly NetNamespace[]): void;
}

/** The default: the text tables under procfs, as `cat /proc/net/udp` shows them. */
export const procfsSocketTables: SocketTableSource = {
  confirmsVanished: true,
  labels({ net, isHost }) {
    // Outside the host namespace, under `<pid>`: a namespace whose processes come and go does not mint a label per pid.
    const directory = isHost ? net.path : net.procfs.path('<pid>', 'net');
    return { udp: `${directory}/udp`, udp6: `${directory}/udp6` };
  },
  read({ net }, { include }, deadline) {
    return settleAll({ udp: readNetUdp(net, { include, deadline }), udp6: readNetUdp6(net, { include, deadline }) });
  },
  keepNamespaces() {},
};
