/**
 * The network namespaces on the host, found through /proc/<pid>/ns/net (one readlink per
 * process), each read once through one of its processes' /proc/<pid>/net. Used only with
 * UDP_LISTENER_NETNS=all; by default only the host's namespace (that of PID 1) is watched.
 */
import { performance } from 'node:perf_hooks';
import { forEachLimited } from '../async.js';
import { failureOf } from '../procfs/errors.js';
import { readContainerHints, type ContainerHints } from '../procfs/pid-cgroup.js';
import { readExecutableName } from '../procfs/pid-comm.js';
import { readNetnsInode } from '../procfs/pid-links.js';
import type { ProcFs } from '../procfs/procfs.js';

export interface NetNamespace {
  /** Inode of the namespace (`ip netns identify`, `lsns -t net` show the same number). */
  readonly inode: number;
  /** The namespace of PID 1: the host's. */
  readonly isHost: boolean;
  /** The processes in it, lowest first; its tables are read through the first one still there. */
  readonly pids: readonly number[];
  readonly hints: ContainerHints;
}

/**
 * A namespace for people: `4026531840 (host)`, `4026532300 (container 0123456789ab, pod a-b)`, or
 * the bare inode. The status page and the check both write it so.
 */
export function describeNamespace(namespace: Pick<NetNamespace, 'inode' | 'isHost' | 'hints'>): string {
  if (namespace.isHost) return `${namespace.inode} (host)`;
  const { containerId, podUid } = namespace.hints;
  const hints = [containerId === undefined ? [] : [`container ${containerId.slice(0, 12)}`], podUid === undefined ? [] : [`pod ${podUid}`]].flat();
  return hints.length === 0 ? String(namespace.inode) : `${namespace.inode} (${hints.join(', ')})`;
}

export interface NamespaceDiscovery {
  readonly namespaces: readonly NetNamespace[];
  /** Processes whose ns/net link could not be read (another user's, without privileges). */
  readonly unreadableProcesses: number;
}

const CONCURRENCY = 8;

export class NamespaceFinder {
  private readonly procfs: ProcFs;
  /** Container hints by namespace inode: read once per namespace, not per collection. */
  private readonly hints = new Map<number, ContainerHints>();

  constructor(procfs: ProcFs) {
    this.procfs = procfs;
  }

  /** Throws when the host namespace itself cannot be identified. */
  async find(deadline: number): Promise<NamespaceDiscovery> {
    const { inode: hostInode } = await findHostNamespace(this.procfs, deadline);
    const pidsByInode = new Map<number, number[]>();
    let unreadableProcesses = 0;
    const pids = await this.procfs.pids();
    await forEachLimited(pids, CONCURRENCY, async (pid) => {
      if (performance.now() > deadline) return;
      let inode: number | undefined;
      try {
        inode = await readNetnsInode(this.procfs, pid);
      } catch (error) {
        const failure = failureOf(error);
        if (failure === 'EACCES' || failure === 'EPERM') unreadableProcesses++;
        return;
      }
      if (inode === undefined) return;
      const members = pidsByInode.get(inode);
      if (members === undefined) pidsByInode.set(inode, [pid]);
      else members.push(pid);
    });

    const namespaces: NetNamespace[] = [];
    for (const [inode, members] of pidsByInode) {
      members.sort((a, b) => a - b);
      namespaces.push({ inode, isHost: inode === hostInode, pids: members, hints: await this.hintsFor(inode, members[0]!, deadline) });
    }
    for (const inode of this.hints.keys()) if (!pidsByInode.has(inode)) this.hints.delete(inode);
    // Host first, then by inode, so the page and the discovery limit are stable.
    namespaces.sort((a, b) => Number(b.isHost) - Number(a.isHost) || a.inode - b.inode);
    return { namespaces, unreadableProcesses };
  }

  private async hintsFor(inode: number, pid: number, deadline: number): Promise<ContainerHints> {
    let hints = this.hints.get(inode);
    if (hints === undefined) {
      try {
        hints = await readContainerHints(this.procfs, pid, deadline);
      } catch {
        hints = {};
      }
      this.hints.set(inode, hints);
    }
    return hints;
  }
}

/** The host's network namespace, and the process through whose `ns/net` it was identified. */
export interface HostNamespace {
  readonly inode: number | undefined;
  readonly pid: number;
}

/**
 * The namespace of PID 1, or where PID 1 refuses inspection even to root (a non-dumpable init,
 * as in some VMs and sandboxes), that of kthreadd (PID 2): kernel threads always live in the
 * initial network namespace. Throws PID 1's error when neither can be read.
 */
export async function findHostNamespace(procfs: ProcFs, deadline: number): Promise<HostNamespace> {
  try {
    return { inode: await readNetnsInode(procfs, 1), pid: 1 };
  } catch (error) {
    try {
      if ((await readExecutableName(procfs, 2, deadline)) === 'kthreadd') return { inode: await readNetnsInode(procfs, 2), pid: 2 };
    } catch {
      // Fall through to PID 1's error, the one that explains the problem.
    }
    throw error;
  }
}
