/**
 * One NETLINK_SOCK_DIAG socket and the dumps made over it. A netlink socket belongs to the
 * network namespace it was created in for its whole life, so one socket per namespace is kept
 * and reused; it is closed after any failure, since a dump abandoned half way leaves replies
 * queued on it and the kernel refuses a new dump while one is running.
 *
 * A dump is read with non-blocking recv(2) calls on the main thread: the kernel produces each
 * next datagram of a dump inside recv itself, so the next one is always ready, and a dump that
 * stalls is an error rather than a hang. The event loop gets a turn every few milliseconds, as
 * the procfs reader gives it (procfs.ts readOnProcfs), and the deadline is checked then.
 */
import { endianness } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ProcFormatError, ProcReadError } from '../procfs/errors.js';
import type { IpFamily, UdpSocket } from '../procfs/net-udp.js';
import type { Libc } from './libc.js';
import { encodeDumpRequest, kernelError, SockDiagDumpParser } from './messages.js';

/** The kernel caps a dump's datagrams at 32 KiB (netlink_recvmsg); one more page tells a cut datagram apart. */
const RECEIVE_BUFFER_BYTES = 36 * 1024;
/** A dump blocks the event loop for at most about this long at a time. */
const SLICE_MS = 5;
const EINTR = 4;

export interface DumpOptions {
  readonly family: IpFamily;
  /** Kernel-side port filter (messages.ts portFilterBytecode); undefined: none. */
  readonly bytecode: Uint8Array | undefined;
  readonly include: (localPort: number, state: number) => boolean;
  /** What errors and the error metrics name, e.g. `netlink:sock_diag/udp`. */
  readonly file: string;
  readonly deadline: number;
}

export class SockDiagSocket {
  private readonly libc: Libc;
  private readonly fd: number;
  private readonly buffer = Buffer.allocUnsafe(RECEIVE_BUFFER_BYTES);
  private sequence = 0;
  private closed = false;

  constructor(libc: Libc, fd: number) {
    this.libc = libc;
    this.fd = fd;
  }

  /** A socket in this thread's own network namespace. */
  static open(libc: Libc, file: string): SockDiagSocket {
    const fd = libc.openSockDiagSocket();
    if (fd < 0) throw kernelError(file, -fd, 'socket(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG) failed');
    return new SockDiagSocket(libc, fd);
  }

  /** The namespace's unconnected UDP sockets of one family that pass the filters. */
  async dump(options: DumpOptions): Promise<UdpSocket[]> {
    const { file, family, deadline } = options;
    if (this.closed) throw new ProcReadError(file, 'other', 'the netlink socket was closed');
    // Scrapes arriving with the one that started this collection are still waiting in the
    // event loop: a turn first lets them join it rather than start their own (as procfs.ts).
    await yieldToEventLoop();
    const byteOrder = endianness();
    this.sequence = (this.sequence + 1) >>> 0;
    const sequence = this.sequence;
    const request = encodeDumpRequest({ family, sequence, byteOrder, ...(options.bytecode === undefined ? {} : { bytecode: options.bytecode }) });
    const sent = this.libc.send(this.fd, request);
    if (sent < 0) throw kernelError(file, -sent, 'send of the dump request failed');
    const parser = new SockDiagDumpParser({ file, family, sequence, byteOrder, include: options.include });
    let sliceStart = performance.now();
    for (;;) {
      const length = this.libc.receive(this.fd, this.buffer);
      if (length === -EINTR) continue;
      if (length < 0) throw kernelError(file, -length, 'recv of the dump failed');
      if (length > this.buffer.length) {
        throw new ProcFormatError(file, 0, 'datagram', String(length), `larger than the ${this.buffer.length}-byte receive buffer: cut short`);
      }
      // Parsed at once: the buffer is reused by the next recv.
      if (parser.push(this.buffer.subarray(0, length))) break;
      if (performance.now() - sliceStart >= SLICE_MS) {
        await yieldToEventLoop();
        sliceStart = performance.now();
        if (sliceStart > deadline) throw new ProcReadError(file, 'timeout', `dump did not finish within its deadline (${parser.sockets.length} sockets read)`);
      }
    }
    await yieldToEventLoop();
    return parser.sockets;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.libc.close(this.fd);
  }
}
