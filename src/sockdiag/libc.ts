/**
 * The C library calls of the netlink source, made through koffi: a foreign-function library
 * whose npm package ships prebuilt binaries for each platform (the optional dependency
 * @koromix/koffi-<os>-<arch>), so `npm ci` needs no compiler, no node-gyp and no install script.
 * This is the only module that touches koffi; it is loaded on demand, only when
 * UDP_LISTENER_SOURCE=netlink, so the default procfs source never loads native code.
 *
 * Every call returns what the C function returns, except that a failure comes back as the
 * negated errno, read right after the call on the calling thread.
 */
import { NETLINK_SOCK_DIAG } from './messages.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
/** recv(2) flags: never block (a dump's next datagram is produced inside recv), report a datagram's true length. */
const MSG_DONTWAIT = 0x40;
const MSG_TRUNC = 0x20;
/** setns(2) nstype: a network namespace. */
const CLONE_NEWNET = 0x40000000;

export interface Libc {
  /** socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG) in the calling thread's network namespace. */
  openSockDiagSocket(): number;
  send(fd: number, bytes: Uint8Array): number;
  /** One datagram into `buffer`, without blocking; its full length, which may exceed the buffer. */
  receive(fd: number, buffer: Uint8Array): number;
  close(fd: number): number;
  /** Moves the calling thread (only it) into the network namespace `fd` refers to. */
  enterNetworkNamespace(fd: number): number;
}

/** Loads koffi and binds the calls. Throws when the binding cannot load on this platform. */
export async function loadLibc(): Promise<Libc> {
  const { default: koffi } = await import('koffi');
  // The process's own symbols: libc is already loaded into node, whichever libc it is (glibc, musl).
  const libc = koffi.load(null);
  const socket = libc.func('int socket(int domain, int type, int protocol)');
  const send = libc.func('intptr_t send(int fd, const void *buf, size_t len, int flags)');
  const recv = libc.func('intptr_t recv(int fd, void *buf, size_t len, int flags)');
  const close = libc.func('int close(int fd)');
  const setns = libc.func('int setns(int fd, int nstype)');
  const checked = (result: number | bigint): number => {
    const value = Number(result);
    return value < 0 ? -koffi.errno() : value;
  };
  return {
    openSockDiagSocket: () => checked(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)),
    send: (fd, bytes) => checked(send(fd, bytes, bytes.length, 0)),
    receive: (fd, buffer) => checked(recv(fd, buffer, buffer.length, MSG_DONTWAIT | MSG_TRUNC)),
    close: (fd) => checked(close(fd)),
    enterNetworkNamespace: (fd) => checked(setns(fd, CLONE_NEWNET)),
  };
}
