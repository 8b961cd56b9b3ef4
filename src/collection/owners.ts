/**
 * Which processes hold each listening socket, found by mapping socket inodes to the
 * fd links of each process (`<procfs root>/<pid>/fd/*`) that read `socket:[INODE]`.
 *
 * Walking every fd of every process is the expensive part (thousands of processes and links),
 * so it does not run on every scrape. A full walk indexes every socket's holders; each
 * collection then only re-reads the links of the holders it reports, which is one readlink per
 * holder and catches a process that closed the socket or exited. A new walk starts when a
 * listener appears whose holders are unknown and no walk has looked since it appeared, or when
 * the index is older than the rescan interval (to notice processes that forked and share a
 * socket). A collection waits for a walk only until its deadline and otherwise reports the
 * socket as unresolved; the walk finishes in the background and the next collection uses it.
 */
import { performance } from 'node:perf_hooks';
import { forEachLimited, settledBy } from '../async.js';
import { failureOf } from '../procfs/errors.js';
import { readExecutableName } from '../procfs/pid-comm.js';
import { listFds, readFdSocketInode } from '../procfs/pid-links.js';
import type { ProcFs } from '../procfs/procfs.js';

export interface SocketOwner {
  readonly pid: number;
  /** From /proc/<pid>/comm, made printable. */
  readonly executableName: string;
}

export interface OwnerLookup {
  /** Owners per socket inode asked about; an inode with none found is absent. */
  readonly owners: ReadonlyMap<number, readonly SocketOwner[]>;
  /** Sockets asked about whose owner is not known after this collection. */
  readonly unresolvedSockets: number;
  /** Processes whose fd directory the last complete walk could not read (EACCES/EPERM). */
  readonly unreadableProcesses: number;
}

interface Holder {
  readonly pid: number;
  readonly fd: string;
}

/** Enough parallel requests to keep libuv's four file threads busy. */
const WALK_CONCURRENCY = 8;

export class OwnerResolver {
  private readonly procfs: ProcFs;
  private readonly rescanIntervalMs: number;
  /** Holders by socket inode, from the last complete walk, minus holders found gone since. */
  private holders = new Map<number, Holder[]>();
  /** When each inode asked about was first asked about, to know whether a walk has looked for it. */
  private readonly firstAsked = new Map<number, number>();
  private lastWalkStartedAt = Number.NEGATIVE_INFINITY;
  private unreadableProcesses = 0;
  private walkInProgress: Promise<void> | undefined;
  /** Completed walks, for tests and diagnostics. */
  walks = 0;

  constructor(procfs: ProcFs, options: { rescanIntervalMs: number }) {
    this.procfs = procfs;
    this.rescanIntervalMs = options.rescanIntervalMs;
  }

  async resolve(inodes: ReadonlySet<number>, deadline: number): Promise<OwnerLookup> {
    const now = performance.now();
    for (const inode of this.firstAsked.keys()) if (!inodes.has(inode)) this.firstAsked.delete(inode);
    for (const inode of inodes) if (!this.firstAsked.has(inode)) this.firstAsked.set(inode, now);

    await settledBy(this.dropGoneHolders(inodes), deadline);

    const unknown = [...inodes].some((inode) => !this.holders.has(inode) && this.firstAsked.get(inode)! > this.lastWalkStartedAt);
    if ((unknown || now - this.lastWalkStartedAt > this.rescanIntervalMs) && this.walkInProgress === undefined) {
      this.walkInProgress = this.walk().finally(() => {
        this.walkInProgress = undefined;
      });
    }
    if (unknown && this.walkInProgress !== undefined) await settledBy(this.walkInProgress, deadline);

    const owners = new Map<number, SocketOwner[]>();
    const names = new Map<number, string | undefined>();
    const pids = new Set<number>();
    for (const inode of inodes) for (const holder of this.holders.get(inode) ?? []) pids.add(holder.pid);
    await settledBy(
      forEachLimited([...pids], WALK_CONCURRENCY, async (pid) => {
        names.set(pid, await this.executableName(pid, deadline));
      }),
      deadline,
    );
    let unresolvedSockets = 0;
    for (const inode of inodes) {
      const found: SocketOwner[] = [];
      for (const { pid } of this.holders.get(inode) ?? []) {
        const executableName = names.get(pid);
        if (executableName !== undefined && !found.some((owner) => owner.pid === pid)) found.push({ pid, executableName });
      }
      if (found.length === 0) unresolvedSockets++;
      else owners.set(inode, found);
    }
    return { owners, unresolvedSockets, unreadableProcesses: this.unreadableProcesses };
  }

  /** Re-reads the fd link of every known holder of these inodes; a changed or missing link drops it. */
  private async dropGoneHolders(inodes: ReadonlySet<number>): Promise<void> {
    const checks: { inode: number; holder: Holder }[] = [];
    for (const inode of inodes) for (const holder of this.holders.get(inode) ?? []) checks.push({ inode, holder });
    const gone = new Set<Holder>();
    await forEachLimited(checks, WALK_CONCURRENCY, async ({ inode, holder }) => {
      try {
        if ((await readFdSocketInode(this.procfs, holder.pid, holder.fd)) !== inode) gone.add(holder);
      } catch {
        gone.add(holder);
      }
    });
    if (gone.size === 0) return;
    for (const inode of inodes) {
      const kept = (this.holders.get(inode) ?? []).filter((holder) => !gone.has(holder));
      if (kept.length > 0) {
        this.holders.set(inode, kept);
      } else if (this.holders.delete(inode)) {
        // Every known holder let go, yet the socket is still listening: another process holds it
        // (systemd socket activation keeps a socket across service restarts). Look again.
        this.firstAsked.set(inode, performance.now());
      }
    }
  }

  /** Indexes every socket of every process. A process that exits mid-walk is simply skipped. */
  private async walk(): Promise<void> {
    const startedAt = performance.now();
    const found = new Map<number, Holder[]>();
    let unreadable = 0;
    let pids: number[];
    try {
      pids = await this.procfs.pids();
    } catch {
      return;
    }
    await forEachLimited(pids, WALK_CONCURRENCY, async (pid) => {
      let fds: string[];
      try {
        fds = await listFds(this.procfs, pid);
      } catch (error) {
        const failure = failureOf(error);
        if (failure === 'EACCES' || failure === 'EPERM') unreadable++;
        return;
      }
      for (const fd of fds) {
        let inode: number | undefined;
        try {
          inode = await readFdSocketInode(this.procfs, pid, fd);
        } catch (error) {
          // With CAP_DAC_READ_SEARCH alone the directory lists but its links do not read
          // (the kernel also asks for ptrace access): the whole process is unreadable.
          const failure = failureOf(error);
          if (failure === 'EACCES' || failure === 'EPERM') {
            unreadable++;
            return;
          }
          continue;
        }
        if (inode === undefined) continue;
        const holders = found.get(inode);
        if (holders === undefined) found.set(inode, [{ pid, fd }]);
        else holders.push({ pid, fd });
      }
    });
    this.holders = found;
    this.lastWalkStartedAt = startedAt;
    this.unreadableProcesses = unreadable;
    this.walks++;
  }

  private async executableName(pid: number, deadline: number): Promise<string | undefined> {
    try {
      return await readExecutableName(this.procfs, pid, deadline);
    } catch {
      // The process exited after its fd was seen: it no longer owns anything.
      return undefined;
    }
  }
}
