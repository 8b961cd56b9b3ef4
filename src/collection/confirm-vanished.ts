/**
 * The re-read policy for listeners that seem to have vanished.
 *
 * The kernel writes a socket table one page (about 31 lines) per read(2) and finds its place
 * again by counting entries from the start, so sockets that close elsewhere while the table is
 * read shift it: a listener can be skipped, just as others get printed twice. Under socket
 * churn (DNS clients, say) that reported live listeners as down. So when a port the last
 * collection saw in a namespace has no listener now, its tables are read again, up to
 * CONFIRMATION_READS times within the deadline, and a socket any read saw counts (once, by
 * inode; one without an inode, from the first read that has it). A listener that really closed
 * costs these extra reads once, on the first collection that misses it. This lowers the odds of a false 0; only a netlink sock_diag dump makes the
 * read atomic.
 */
import { remainingMs } from '../async.js';
import type { Logger } from '../log.js';
import type { UdpSocket } from '../procfs/net-udp.js';
import { aggregateByPort, type PortListeners } from './listeners.js';

/** How many times a collection reads a namespace's socket tables again to confirm a missing listener. */
const CONFIRMATION_READS = 2;

export class VanishedListenerCheck {
  /**
   * Per namespace key, the ports that had a listener in the last collection that read its
   * tables. Before the first, `expectedAtStart` says which ports to confirm.
   */
  private readonly lastPorts = new Map<string, ReadonlySet<number>>();
  private readonly expectedAtStart: (key: string) => ReadonlySet<number>;
  private readonly logger: Logger;

  constructor(expectedAtStart: (key: string) => ReadonlySet<number>, logger: Logger) {
    this.expectedAtStart = expectedAtStart;
    this.logger = logger;
  }

  /**
   * The listeners of the namespace `key` from its first read (`tables`), with the tables read
   * again by `readAgain` while a port seen last time is missing. A confirming read that fails
   * proves nothing either way: what the first read found stays.
   */
  async listeners(key: string, tables: readonly UdpSocket[][], readAgain: () => Promise<UdpSocket[][]>, deadline: number): Promise<Map<number, PortListeners>> {
    const seen = [...tables];
    let listeners = aggregateByPort(seen);
    const last = this.lastPorts.get(key) ?? this.expectedAtStart(key);
    for (let attempt = 0; attempt < CONFIRMATION_READS; attempt++) {
      const vanished = [...last].filter((port) => !listeners.has(port));
      if (vanished.length === 0 || remainingMs(deadline) < 1) break;
      this.logger.debug('listeners missing since the last collection; reading the socket tables again to confirm', {
        ports: vanished.slice(0, 10).join(','),
        attempt: attempt + 1,
      });
      // A socket without an inode (kernel-owned: WireGuard, VXLAN) cannot be matched across
      // reads, so a read again counts one only on a port no read has found yet; the rest are
      // merged by inode.
      const found = listeners;
      seen.push(...(await readAgain()).map((table) => table.filter((socket) => socket.inode !== 0 || !found.has(socket.localPort))));
      listeners = aggregateByPort(seen);
    }
    this.lastPorts.set(key, new Set(listeners.keys()));
    return listeners;
  }
}
