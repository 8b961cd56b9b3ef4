/**
 * UDP_LISTENER_SOURCE=netlink: a namespace's UDP sockets from a NETLINK_SOCK_DIAG dump, the
 * interface `ss` uses, instead of the procfs text tables. The kernel walks its socket hash once
 * per dump and runs the port filter itself (bytecode), so a scrape costs far less than
 * formatting and re-walking a text table a page at a time, misses no socket, and brings each
 * socket's receive buffer size, which procfs does not show.
 *
 * A netlink socket answers for the network namespace it was created in. The exporter's own
 * namespace gets one from the main thread; another namespace (the host's, seen from a container;
 * each one under UDP_LISTENER_NETNS=all) gets one opened by a worker thread that enters it
 * (enter-namespace.ts). Sockets are kept per namespace and reused: opening one through a worker
 * costs tens of milliseconds, a dump far less. A socket that failed is closed and opened again
 * next time; one of a namespace no longer found is closed, so that it does not keep the
 * namespace alive.
 */
import { statSync } from 'node:fs';
import { endianness } from 'node:os';
import { performance } from 'node:perf_hooks';
import { ConfigError } from '../config/errors.js';
import { findHostNamespace, type HostNamespace, type NetNamespace } from '../collection/namespaces.js';
import type { ListenerFilter, PortRange, SocketTableSource, SocketTables, SocketTarget } from '../collection/socket-tables.js';
import { ProcReadError } from '../procfs/errors.js';
import type { IpFamily, UdpSocket } from '../procfs/net-udp.js';
import type { ProcFs } from '../procfs/procfs.js';
import { openSocketInNamespace } from './enter-namespace.js';
import { loadLibc, type Libc } from './libc.js';
import { portFilterBytecode } from './messages.js';
import { SockDiagSocket } from './sock-diag-socket.js';

/** `file_path` of the host namespace's dumps; other namespaces' carry `<pid>`, as their procfs paths do. */
const HOST_LABEL = 'netlink:sock_diag';
const OTHER_LABEL = 'netlink:<pid>/sock_diag';
const OWN = 'own';

export class NetlinkSocketTables implements SocketTableSource {
  readonly confirmsVanished = false;
  private readonly libc: Libc;
  private readonly procfs: ProcFs;
  /** Inode of the exporter's own network namespace; undefined when procfs does not show it. */
  private readonly ownInode: number | undefined;
  /** Open sockets by namespace inode; the exporter's own namespace under OWN. */
  private readonly sockets = new Map<number | typeof OWN, SockDiagSocket>();
  /** Sockets a worker is opening, by namespace inode: a collection that gave up waiting leaves it to the next. */
  private readonly opening = new Map<number, Promise<SockDiagSocket>>();
  private host: HostNamespace | undefined;
  private bytecode: { key: string; bytes: Uint8Array | undefined } | undefined;

  private constructor(libc: Libc, procfs: ProcFs, own: SockDiagSocket) {
    this.libc = libc;
    this.procfs = procfs;
    this.sockets.set(OWN, own);
    this.ownInode = inodeOf(procfs.path('self', 'ns', 'net'));
  }

  /**
   * Loads the binding and opens a socket in the exporter's own namespace, so that a platform
   * where this cannot work fails at start-up, naming the variable, rather than at every scrape.
   */
  static async open(procfs: ProcFs): Promise<NetlinkSocketTables> {
    let libc: Libc;
    try {
      libc = await loadLibc();
    } catch (error) {
      throw new ConfigError('UDP_LISTENER_SOURCE', 'netlink', `the netlink binding (koffi) cannot load here: ${(error as Error).message}; use procfs`);
    }
    let own: SockDiagSocket;
    try {
      own = SockDiagSocket.open(libc, HOST_LABEL);
    } catch (error) {
      throw new ConfigError('UDP_LISTENER_SOURCE', 'netlink', `${(error as Error).message}; use procfs`);
    }
    return new NetlinkSocketTables(libc, procfs, own);
  }

  labels({ isHost }: SocketTarget): { udp: string; udp6: string } {
    const prefix = isHost ? HOST_LABEL : OTHER_LABEL;
    return { udp: `${prefix}/udp`, udp6: `${prefix}/udp6` };
  }

  /**
   * Both families over the namespace's one socket, one dump after the other. A failure of the
   * IPv4 dump closes the socket, so the IPv6 table is reported failed with it.
   */
  async read(target: SocketTarget, filter: ListenerFilter, deadline: number): Promise<SocketTables> {
    const labels = this.labels(target);
    let socket: { key: number | typeof OWN; socket: SockDiagSocket };
    try {
      socket = await this.socketFor(target, deadline);
    } catch (error) {
      const failed: PromiseRejectedResult = { status: 'rejected', reason: error };
      return { udp: failed, udp6: failed };
    }
    const bytecode = this.bytecodeFor(filter.ports);
    const dump = async (family: IpFamily, file: string): Promise<PromiseSettledResult<UdpSocket[]>> => {
      try {
        return { status: 'fulfilled', value: await socket.socket.dump({ family, bytecode, include: filter.include, file, deadline }) };
      } catch (error) {
        socket.socket.close();
        this.sockets.delete(socket.key);
        return { status: 'rejected', reason: error };
      }
    };
    const udp = await dump('ipv4', labels.udp);
    const udp6 = udp.status === 'fulfilled' ? await dump('ipv6', labels.udp6) : udp;
    return { udp, udp6 };
  }

  keepNamespaces(namespaces: readonly NetNamespace[]): void {
    const found = new Set(namespaces.map(({ inode }) => inode));
    for (const [key, socket] of this.sockets) {
      if (key !== OWN && !found.has(key)) {
        socket.close();
        this.sockets.delete(key);
      }
    }
  }

  /** The socket of the target's namespace: our own, a kept one, or one a worker opens there. */
  private async socketFor(target: SocketTarget, deadline: number): Promise<{ key: number | typeof OWN; socket: SockDiagSocket }> {
    const { net } = target;
    let inode: number | undefined;
    let pid: number;
    if (net.pid === 'self') return this.own();
    if (target.isHost) {
      this.host ??= await findHostNamespace(this.procfs, deadline);
      ({ inode, pid } = this.host);
    } else {
      inode = target.namespace?.inode;
      pid = net.pid;
    }
    if (inode === undefined) throw new ProcReadError(this.procfs.path(String(pid), 'ns', 'net'), 'malformed', 'not a network namespace link');
    if (inode === this.ownInode) return this.own();
    const kept = this.sockets.get(inode);
    if (kept !== undefined) return { key: inode, socket: kept };
    return { key: inode, socket: await this.openIn(inode, pid, deadline) };
  }

  private own(): { key: typeof OWN; socket: SockDiagSocket } {
    let socket = this.sockets.get(OWN);
    if (socket === undefined) {
      socket = SockDiagSocket.open(this.libc, HOST_LABEL);
      this.sockets.set(OWN, socket);
    }
    return { key: OWN, socket };
  }

  /** Opens a socket in the namespace through `<root>/<pid>/ns/net`, waiting at most until the deadline. */
  private async openIn(inode: number, pid: number, deadline: number): Promise<SockDiagSocket> {
    let opening = this.opening.get(inode);
    if (opening === undefined) {
      const path = this.procfs.path(String(pid), 'ns', 'net');
      const started = openSocketInNamespace({ path, inode }).then((fd) => new SockDiagSocket(this.libc, fd));
      opening = started;
      this.opening.set(inode, started);
      started.then(
        (socket) => {
          this.opening.delete(inode);
          this.sockets.set(inode, socket);
        },
        () => this.opening.delete(inode),
      );
    }
    const file = this.procfs.path(String(pid), 'ns', 'net');
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ProcReadError(file, 'timeout', 'opening a netlink socket in the namespace did not finish in time; it goes on for the next collection')), Math.max(0, deadline - performance.now()));
    });
    try {
      return await Promise.race([opening, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The kernel-side filter for these ports, built again only when they change (discovery follows the ephemeral range). */
  private bytecodeFor(ports: readonly PortRange[]): Uint8Array | undefined {
    const key = ports.map(([low, high]) => `${low}-${high}`).join(',');
    if (this.bytecode?.key !== key) this.bytecode = { key, bytes: portFilterBytecode(ports, endianness()) };
    return this.bytecode.bytes;
  }
}

function inodeOf(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}
