/**
 * NETLINK_SOCK_DIAG messages for UDP sockets, encoded and parsed without touching a socket:
 * the dump request (linux/inet_diag.h `inet_diag_req_v2`), the bytecode filter the kernel runs
 * on every socket before it is copied out (`INET_DIAG_REQ_BYTECODE`), and the parser of the
 * replies (`inet_diag_msg` with its `INET_DIAG_SKMEMINFO` attribute), which yields the same
 * UdpSocket values the procfs parser does, plus the receive buffer size procfs never shows.
 *
 * Every length in a reply is checked against what is left of the datagram, and anything that
 * is not the shape the kernel sends (a cut message, an unknown type, a reply to another
 * request, a socket without its memory counters) throws: a dump is used whole or not at all,
 * because skipping a message could hide exactly the listener someone alerts on.
 */
import { constants as osConstants } from 'node:os';
import { ProcFormatError, ProcReadError, type ReadFailure } from '../procfs/errors.js';
import { formatIpv6, type ByteOrder, type IpFamily, type UdpSocket } from '../procfs/net-udp.js';

/** linux/netlink.h */
export const NETLINK_SOCK_DIAG = 4;
const NLMSG_HDRLEN = 16;
const NLMSG_NOOP = 1;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_DUMP = 0x300;
const NLM_F_DUMP_INTR = 0x10;
/** linux/sock_diag.h */
const SOCK_DIAG_BY_FAMILY = 20;
const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_UDP = 17;
/** `idiag_states` bit of TCP_CLOSE: an unconnected UDP socket, what `ss` shows as UNCONN. */
const STATE_UNCONNECTED_BIT = 1 << 7;
/** linux/inet_diag.h: request attribute, reply attribute, bytecode operations. */
const INET_DIAG_REQ_BYTECODE = 1;
const INET_DIAG_SKMEMINFO = 7;
const INET_DIAG_BC_JMP = 1;
const INET_DIAG_BC_S_GE = 2;
const INET_DIAG_BC_S_LE = 3;
/** linux/sock_diag.h SK_MEMINFO_*: indexes into the u32 array of INET_DIAG_SKMEMINFO. */
const SK_MEMINFO_RCVBUF = 1;
const SK_MEMINFO_DROPS = 8;
/** `struct inet_diag_req_v2`: family, protocol, ext, pad, states, then the 48-byte socket id. */
const REQUEST_BYTES = 56;
/** `struct inet_diag_msg`: family, state, timer, retrans, socket id, expires, rqueue, wqueue, uid, inode. */
const INET_DIAG_MSG_BYTES = 72;
const NLA_HDRLEN = 4;
/** Bytes of one bytecode operation (`struct inet_diag_bc_op`: code, yes, no). */
const OP_BYTES = 4;
/** A port comparison is two operations: the second carries the port in its `no` field. */
const PORT_OP_BYTES = 8;
/**
 * At most this many port ranges go into the kernel's filter. The kernel checks a program before
 * running it by walking it from the start once per jump, which costs the square of its length:
 * about 0.1 ms at 128 ranges, 7 ms at 1,000. Beyond this, the ranges closest together are
 * joined; the filter then lets a few unwanted sockets through, which `include` drops.
 */
const MAX_FILTER_RANGES = 128;

/** Local ports [low, high], both included. */
export type PortRange = readonly [number, number];

export interface DumpRequestOptions {
  readonly family: IpFamily;
  /** Matched against the reply's nlmsg_seq. */
  readonly sequence: number;
  /** Kernel-side filter of local ports (see portFilterBytecode); none: every UDP socket. */
  readonly bytecode?: Uint8Array;
  readonly byteOrder: ByteOrder;
}

/**
 * A dump of the namespace's unconnected UDP sockets of one family, each with its memory
 * counters: one `nlmsghdr` + `inet_diag_req_v2` + optional bytecode attribute.
 */
export function encodeDumpRequest(options: DumpRequestOptions): Uint8Array {
  const bytecode = options.bytecode ?? new Uint8Array(0);
  const attributeBytes = bytecode.length === 0 ? 0 : align4(NLA_HDRLEN + bytecode.length);
  const total = NLMSG_HDRLEN + REQUEST_BYTES + attributeBytes;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  const le = options.byteOrder === 'LE';
  view.setUint32(0, total, le);
  view.setUint16(4, SOCK_DIAG_BY_FAMILY, le);
  view.setUint16(6, NLM_F_REQUEST | NLM_F_DUMP, le);
  view.setUint32(8, options.sequence, le);
  view.setUint8(NLMSG_HDRLEN, options.family === 'ipv4' ? AF_INET : AF_INET6);
  view.setUint8(NLMSG_HDRLEN + 1, IPPROTO_UDP);
  view.setUint8(NLMSG_HDRLEN + 2, 1 << (INET_DIAG_SKMEMINFO - 1));
  view.setUint32(NLMSG_HDRLEN + 4, STATE_UNCONNECTED_BIT, le);
  // The socket id stays zero: no exact-socket lookup, the bytecode does the filtering.
  if (bytecode.length > 0) {
    const at = NLMSG_HDRLEN + REQUEST_BYTES;
    view.setUint16(at, NLA_HDRLEN + bytecode.length, le);
    view.setUint16(at + 2, INET_DIAG_REQ_BYTECODE, le);
    bytes.set(bytecode, at + NLA_HDRLEN);
  }
  return bytes;
}

/**
 * Bytecode that accepts a socket whose local port lies in one of `ranges`, as a binary search:
 * each socket costs about log2(ranges) comparisons in the kernel, so a scrape grows with the
 * number of sockets and barely with the number of ports. Past MAX_FILTER_RANGES ranges it
 * accepts a few more ports than asked for (never fewer). Undefined for no ranges at all.
 *
 * The kernel's checker (inet_diag_bc_audit) walks the program along the `yes` jumps and
 * accepts a `no` jump only onto an operation of that walk, or to the end (accept) or 4 bytes
 * past it (reject). So every `yes` is the next operation and the tree is laid out in order:
 * a node tests `port <= pivot`, its left subtree follows, its `no` jumps to the right subtree.
 * A leaf tests `low <= port <= high` and ends in a JMP, which always takes its `no`: to the end.
 */
export function portFilterBytecode(ranges: readonly PortRange[], byteOrder: ByteOrder): Uint8Array | undefined {
  const sorted = coarsen(mergeRanges(ranges), MAX_FILTER_RANGES);
  if (sorted.length === 0) return undefined;
  const bytes = new Uint8Array(subtreeBytes(sorted.length));
  const view = new DataView(bytes.buffer);
  const le = byteOrder === 'LE';
  const op = (at: number, code: number, yes: number, no: number): void => {
    view.setUint8(at, code);
    view.setUint8(at + 1, yes);
    view.setUint16(at + 2, no, le);
  };
  /** A port comparison whose failure jumps `no` bytes; the port rides in the second operation. */
  const compare = (at: number, code: number, port: number, no: number): void => {
    op(at, code, PORT_OP_BYTES, no);
    op(at + OP_BYTES, 0, 0, port);
  };
  const end = bytes.length;
  const reject = (at: number): number => end - at + OP_BYTES;
  const emit = (at: number, first: number, count: number): void => {
    if (count === 1) {
      const [low, high] = sorted[first]!;
      compare(at, INET_DIAG_BC_S_GE, low, reject(at));
      compare(at + PORT_OP_BYTES, INET_DIAG_BC_S_LE, high, reject(at + PORT_OP_BYTES));
      op(at + 2 * PORT_OP_BYTES, INET_DIAG_BC_JMP, OP_BYTES, end - (at + 2 * PORT_OP_BYTES));
      return;
    }
    const left = Math.ceil(count / 2);
    compare(at, INET_DIAG_BC_S_LE, sorted[first + left - 1]![1], PORT_OP_BYTES + subtreeBytes(left));
    emit(at + PORT_OP_BYTES, first, left);
    emit(at + PORT_OP_BYTES + subtreeBytes(left), first + left, count - left);
  };
  emit(0, 0, sorted.length);
  return bytes;
}

/** Leaves are two comparisons and a JMP; each inner node one comparison. */
function subtreeBytes(leaves: number): number {
  return leaves * (2 * PORT_OP_BYTES + OP_BYTES) + (leaves - 1) * PORT_OP_BYTES;
}

/** At most `limit` ranges covering all of `sorted`: the smallest gaps between them are closed. */
function coarsen(sorted: readonly PortRange[], limit: number): PortRange[] {
  if (sorted.length <= limit) return [...sorted];
  const gaps = sorted.slice(1).map((range, i) => ({ after: i, width: range[0] - sorted[i]![1] }));
  const closed = new Set(
    gaps
      .sort((a, b) => a.width - b.width || a.after - b.after)
      .slice(0, sorted.length - limit)
      .map(({ after }) => after),
  );
  const joined: [number, number][] = [];
  sorted.forEach(([low, high], i) => {
    if (i > 0 && closed.has(i - 1)) joined[joined.length - 1]![1] = high;
    else joined.push([low, high]);
  });
  return joined;
}

/** Sorted, with overlapping and adjacent ranges joined: 9000,9001,...,9010 is one range. */
function mergeRanges(ranges: readonly PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [low, high] of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && low <= last[1] + 1) last[1] = Math.max(last[1], high);
    else merged.push([low, high]);
  }
  return merged;
}

export interface ParseDumpOptions {
  /** What errors name as the source, e.g. `netlink:sock_diag/udp`. */
  readonly file: string;
  readonly family: IpFamily;
  /** The request's sequence number: a reply carrying another belongs to another request. */
  readonly sequence: number;
  /** Byte order of the machine that sent the replies (netlink headers are host order). */
  readonly byteOrder: ByteOrder;
  /** As for the procfs parser: decides from local port and state whether a socket is wanted. */
  readonly include?: (localPort: number, state: number) => boolean;
}

/**
 * Parses the datagrams of one dump as they arrive. `push` takes one datagram (a recv(2)
 * result; messages never straddle datagrams) and says whether the dump is complete.
 */
export class SockDiagDumpParser {
  readonly sockets: UdpSocket[] = [];
  private readonly options: ParseDumpOptions;
  private readonly le: boolean;
  private readonly familyCode: number;
  private done = false;
  /** Messages seen so far, for error messages. */
  private messages = 0;

  constructor(options: ParseDumpOptions) {
    this.options = options;
    this.le = options.byteOrder === 'LE';
    this.familyCode = options.family === 'ipv4' ? AF_INET : AF_INET6;
  }

  /** True once NLMSG_DONE has arrived. Throws on anything malformed, or an error from the kernel. */
  push(datagram: Uint8Array): boolean {
    if (this.done) this.fail('datagram', 0, datagram.length, 'data after the end of the dump (NLMSG_DONE)');
    const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
    let at = 0;
    while (at < datagram.length) {
      this.messages++;
      if (datagram.length - at < NLMSG_HDRLEN) this.fail('nlmsghdr', at, datagram.length - at, `${datagram.length - at} bytes left, a header needs ${NLMSG_HDRLEN}`);
      const length = view.getUint32(at, this.le);
      const type = view.getUint16(at + 4, this.le);
      const flags = view.getUint16(at + 6, this.le);
      const sequence = view.getUint32(at + 8, this.le);
      if (length < NLMSG_HDRLEN || length > datagram.length - at) {
        this.fail('nlmsg_len', at, length, `outside ${NLMSG_HDRLEN}..${datagram.length - at}, the bytes left in the datagram`);
      }
      if (sequence !== this.options.sequence) this.fail('nlmsg_seq', at, sequence, `a reply to another request (expected ${this.options.sequence})`);
      if ((flags & NLM_F_DUMP_INTR) !== 0) {
        throw new ProcReadError(this.options.file, 'other', 'the kernel marked the dump as interrupted (NLM_F_DUMP_INTR): it may be inconsistent');
      }
      const payload = at + NLMSG_HDRLEN;
      const payloadBytes = length - NLMSG_HDRLEN;
      if (type === SOCK_DIAG_BY_FAMILY) this.socket(view, payload, payloadBytes);
      else if (type === NLMSG_DONE) {
        this.status(view, payload, payloadBytes, 'NLMSG_DONE');
        this.done = true;
        if (align4(at + length) < datagram.length) this.fail('datagram', at + length, datagram.length - at - length, 'bytes after NLMSG_DONE');
        return true;
      } else if (type === NLMSG_ERROR) {
        this.status(view, payload, payloadBytes, 'NLMSG_ERROR');
        this.fail('nlmsgerr', payload, 0, 'an acknowledgement nobody asked for, inside a dump');
      } else if (type !== NLMSG_NOOP) this.fail('nlmsg_type', at, type, `expected SOCK_DIAG_BY_FAMILY (${SOCK_DIAG_BY_FAMILY}) or NLMSG_DONE`);
      at += align4(length);
    }
    return false;
  }

  /** The whole dump arrived: NLMSG_DONE was its last message. */
  get complete(): boolean {
    return this.done;
  }

  /** NLMSG_DONE and NLMSG_ERROR start with an int: 0, or a negative errno from the kernel. */
  private status(view: DataView, at: number, bytes: number, what: string): void {
    if (bytes < 4) this.fail(what, at, bytes, `${bytes}-byte payload, expected an int`);
    const error = view.getInt32(at, this.le);
    if (error < 0) throw kernelError(this.options.file, -error, `the kernel answered the dump with ${what}`);
  }

  private socket(view: DataView, at: number, bytes: number): void {
    if (bytes < INET_DIAG_MSG_BYTES) this.fail('inet_diag_msg', at, bytes, `${bytes}-byte payload, expected at least ${INET_DIAG_MSG_BYTES}`);
    const family = view.getUint8(at);
    if (family !== this.familyCode) this.fail('idiag_family', at, family, `expected ${this.familyCode}, the family asked for`);
    const state = view.getUint8(at + 1);
    const localPort = view.getUint16(at + 4);
    const meminfo = this.findMeminfo(view, at + INET_DIAG_MSG_BYTES, bytes - INET_DIAG_MSG_BYTES);
    if (this.options.include !== undefined && !this.options.include(localPort, state)) return;
    this.sockets.push({
      family: this.options.family,
      localAddress: this.address(view, at + 8),
      localPort,
      remoteAddress: this.address(view, at + 24),
      remotePort: view.getUint16(at + 6),
      state,
      rxQueueBytes: view.getUint32(at + 56, this.le),
      txQueueBytes: view.getUint32(at + 60, this.le),
      uid: view.getUint32(at + 64, this.le),
      inode: view.getUint32(at + 68, this.le),
      drops: view.getUint32(meminfo + SK_MEMINFO_DROPS * 4, this.le),
      receiveBufferBytes: view.getUint32(meminfo + SK_MEMINFO_RCVBUF * 4, this.le),
    });
  }

  /** Offset of the INET_DIAG_SKMEMINFO values among the attributes in [at, at + bytes). */
  private findMeminfo(view: DataView, at: number, bytes: number): number {
    const end = at + bytes;
    let meminfo: number | undefined;
    while (at < end) {
      if (end - at < NLA_HDRLEN) this.fail('rtattr', at, end - at, `${end - at} bytes left, an attribute header needs ${NLA_HDRLEN}`);
      const length = view.getUint16(at, this.le);
      const type = view.getUint16(at + 2, this.le);
      if (length < NLA_HDRLEN || length > end - at) this.fail('rta_len', at, length, `outside ${NLA_HDRLEN}..${end - at}, the bytes left in the message`);
      if (type === INET_DIAG_SKMEMINFO) {
        const values = (length - NLA_HDRLEN) >>> 2;
        if (values <= SK_MEMINFO_DROPS) this.fail('INET_DIAG_SKMEMINFO', at, values, `${values} counters, the drops are counter ${SK_MEMINFO_DROPS + 1}`);
        meminfo = at + NLA_HDRLEN;
      }
      at += align4(length);
    }
    if (meminfo === undefined) this.fail('INET_DIAG_SKMEMINFO', end, 0, 'missing: the socket has no memory counters');
    return meminfo;
  }

  /** The socket id's addresses are in network byte order: 4 bytes for IPv4, 16 for IPv6. */
  private address(view: DataView, at: number): string {
    if (this.options.family === 'ipv4') return `${view.getUint8(at)}.${view.getUint8(at + 1)}.${view.getUint8(at + 2)}.${view.getUint8(at + 3)}`;
    return formatIpv6([view.getUint32(at), view.getUint32(at + 4), view.getUint32(at + 8), view.getUint32(at + 12)]);
  }

  private fail(field: string, offset: number, value: number, problem: string): never {
    throw new ProcFormatError(this.options.file, 0, `${field} of message ${this.messages} (byte ${offset})`, String(value), problem);
  }
}

/** Parses a whole dump, which must end with NLMSG_DONE: a dump cut short is an error. */
export function parseSockDiagDump(datagrams: readonly Uint8Array[], options: ParseDumpOptions): UdpSocket[] {
  const parser = new SockDiagDumpParser(options);
  for (const datagram of datagrams) parser.push(datagram);
  if (!parser.complete) throw new ProcFormatError(options.file, 0, 'NLMSG_DONE', '', 'the dump ended without NLMSG_DONE: it was cut short');
  return parser.sockets;
}

const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, number]) => [number, name]));
const KNOWN_FAILURES = new Set<ReadFailure>(['ENOENT', 'EACCES', 'EPERM', 'EIO']);

/** An errno from the kernel or libc as a read failure naming its source, e.g. `EPERM`, or `other` for EINVAL. */
export function kernelError(file: string, errno: number, what: string): ProcReadError {
  return errnoError(file, kernelErrnoName(errno), what);
}

/** `EPERM` for 1, and so on. */
export function kernelErrnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

/** The same from the errno's name, as Node's errors carry it in `code`. */
export function errnoError(file: string, name: string, what: string): ProcReadError {
  const failure = KNOWN_FAILURES.has(name as ReadFailure) ? (name as ReadFailure) : 'other';
  return new ProcReadError(file, failure, `${what}: ${name}`);
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
