/**
 * From parsed socket tables to listeners per port: the sums the instruments report, and the
 * discovery limit that keeps the lowest-numbered ports.
 */
import type { UdpSocket } from '../procfs/net-udp.js';

/** The listeners of one port, summed over its sockets (IPv4 and IPv6, SO_REUSEPORT siblings). */
export interface PortListeners {
  readonly port: number;
  readonly sockets: number;
  readonly receiveQueueBytes: number;
  readonly drops: number;
  /** Summed receive buffer sizes; undefined unless every socket's is known (netlink source only). */
  readonly receiveBufferBytes: number | undefined;
  /** Socket inodes, for finding the owning processes. */
  readonly inodes: readonly number[];
  /**
   * Drops of each socket, in the order of `inodes`: a socket's counter restarts with the socket,
   * so a comparison over time (the check's --window) pairs sockets by inode, not ports by sum.
   */
  readonly socketDrops: readonly number[];
}

interface MutablePortListeners {
  port: number;
  sockets: number;
  receiveQueueBytes: number;
  drops: number;
  receiveBufferBytes: number | undefined;
  inodes: number[];
  socketDrops: number[];
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
        entry = { port: socket.localPort, sockets: 0, receiveQueueBytes: 0, drops: 0, receiveBufferBytes: socket.receiveBufferBytes, inodes: [], socketDrops: [] };
        byPort.set(socket.localPort, entry);
      } else if (entry.receiveBufferBytes !== undefined) {
        entry.receiveBufferBytes = socket.receiveBufferBytes === undefined ? undefined : entry.receiveBufferBytes + socket.receiveBufferBytes;
      }
      entry.sockets++;
      entry.receiveQueueBytes += socket.rxQueueBytes;
      entry.drops += socket.drops;
      entry.inodes.push(socket.inode);
      entry.socketDrops.push(socket.drops);
    }
  }
  return byPort;
}

/** Listeners by port of one namespace; undefined when its socket tables could not be read. */
export interface ListenersHolder {
  listeners: ReadonlyMap<number, PortListeners> | undefined;
}

/**
 * Keeps the lowest `limit` ports over all namespaces (ties: the earlier namespace, the host
 * first), trimming each holder's listeners in place, and returns how many were left out.
 */
export function applyDiscoveryLimit(namespaces: readonly ListenersHolder[], limit: number): number {
  const all: { port: number; index: number }[] = [];
  namespaces.forEach(({ listeners }, index) => {
    for (const port of listeners?.keys() ?? []) all.push({ port, index });
  });
  if (all.length <= limit) return 0;
  all.sort((a, b) => a.port - b.port || a.index - b.index);
  const kept = new Set(all.slice(0, limit).map(({ port, index }) => `${index} ${port}`));
  namespaces.forEach((holder, index) => {
    if (holder.listeners !== undefined) {
      holder.listeners = new Map([...holder.listeners].filter(([port]) => kept.has(`${index} ${port}`)));
    }
  });
  return all.length - limit;
}
