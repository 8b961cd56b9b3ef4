/**
 * The symbolic links of a process that say what it holds: /proc/<pid>/fd/<n> reads
 * `socket:[INODE]` for a socket, /proc/<pid>/ns/net reads `net:[INODE]`. Readers, and the
 * parsers of the link targets.
 */
import type { ProcFs } from './procfs.js';

const SOCKET_LINK = /^socket:\[(\d{1,15})\]$/;
const NETNS_LINK = /^net:\[(\d{1,15})\]$/;

/** The socket inode an fd link points at, or undefined for anything that is not a socket. */
export function socketInodeOfLink(target: string): number | undefined {
  const match = SOCKET_LINK.exec(target);
  return match === null ? undefined : Number(match[1]);
}

/** The network namespace inode of a ns/net link, or undefined when it is not one. */
export function netnsInodeOfLink(target: string): number | undefined {
  const match = NETNS_LINK.exec(target);
  return match === null ? undefined : Number(match[1]);
}

/** The fd numbers of a process, the entries of `<root>/<pid>/fd`. */
export async function listFds(procfs: ProcFs, pid: number): Promise<string[]> {
  return procfs.list(procfs.path(String(pid), 'fd'));
}

/** The socket inode `<root>/<pid>/fd/<fd>` points at, or undefined when it is not a socket. */
export async function readFdSocketInode(procfs: ProcFs, pid: number, fd: string): Promise<number | undefined> {
  return socketInodeOfLink(await procfs.link(procfs.path(String(pid), 'fd', fd)));
}

/** The inode of the network namespace of a process (`<root>/<pid>/ns/net`), or undefined when the link is not one. */
export async function readNetnsInode(procfs: ProcFs, pid: number): Promise<number | undefined> {
  return netnsInodeOfLink(await procfs.link(procfs.path(String(pid), 'ns', 'net')));
}
