/**
 * Parsers for the targets of procfs symbolic links: /proc/<pid>/fd/<n> reads `socket:[INODE]`
 * for a socket, /proc/<pid>/ns/net reads `net:[INODE]`.
 */

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
