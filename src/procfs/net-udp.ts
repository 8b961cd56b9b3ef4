/**
 * /proc/net/udp and /proc/net/udp6 (<pid>/net/udp* below the procfs root): the readers, and the
 * pure parser they feed.
 *
 * The kernel writes one header line, then one line per socket (net/ipv4/udp.c
 * udp4_format_sock, net/ipv6/datagram.c __ip6_dgram_sock_seq_show):
 *
 *   sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer drops
 *
 * A hand-written byte scanner rather than a regex or split(): at 10,000 sockets the text is
 * over a megabyte and is parsed on every scrape, and sockets on ports nobody asked about are
 * skipped without allocating anything for them.
 */
import { endianness } from 'node:os';
import { failureOf, ProcFormatError } from './errors.js';
import type { NetDirectory } from './procfs.js';

export type IpFamily = 'ipv4' | 'ipv6';
export type ByteOrder = 'LE' | 'BE';

/** `st` of an unconnected socket (TCP_CLOSE, shown as UNCONN by ss): what a UDP listener is. */
export const UDP_STATE_UNCONNECTED = 0x07;
/** `st` of a socket that called connect() (TCP_ESTABLISHED). */
export const UDP_STATE_CONNECTED = 0x01;

export interface UdpSocket {
  readonly family: IpFamily;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly state: number;
  /** Bytes of kernel memory charged to the send queue (skb overhead included). */
  readonly txQueueBytes: number;
  /** Bytes of kernel memory charged to the receive queue (skb overhead included). */
  readonly rxQueueBytes: number;
  readonly uid: number;
  readonly inode: number;
  /** Datagrams dropped by this socket since it was created. */
  readonly drops: number;
  /**
   * The receive buffer size as the kernel holds it (SO_RCVBUF, doubled by the kernel). Only a
   * netlink sock_diag dump has it; procfs never shows it.
   */
  readonly receiveBufferBytes?: number;
}

export interface ParseNetUdpOptions {
  /** Path shown in error messages. */
  readonly file: string;
  readonly family: IpFamily;
  /** Byte order of the machine that wrote the file: addresses are printed as host-order words. */
  readonly byteOrder: ByteOrder;
  /**
   * Decides from the local port and state alone whether a line is wanted; lines it rejects
   * are checked for their column count but not decoded. Default: every line.
   */
  readonly include?: (localPort: number, state: number) => boolean;
}

const FIELD_NAMES = [
  'sl',
  'local_address',
  'rem_address',
  'st',
  'tx_queue:rx_queue',
  'tr:tm->when',
  'retrnsmt',
  'uid',
  'timeout',
  'inode',
  'ref',
  'pointer',
  'drops',
] as const;
const FIELD_COUNT = FIELD_NAMES.length;
const F_SL = 0;
const F_LOCAL = 1;
const F_REMOTE = 2;
const F_STATE = 3;
const F_QUEUES = 4;
const F_UID = 7;
const F_INODE = 9;
const F_DROPS = 12;

const NEWLINE = 0x0a;
const SPACE = 0x20;
const DEL = 0x7f;
const COLON = 0x3a;

const HEX_VALUE = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX_VALUE[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX_VALUE[0x41 + c] = 10 + c;
  HEX_VALUE[0x61 + c] = 10 + c;
}

export interface ReadNetUdpOptions {
  /** Which lines to decode, as in ParseNetUdpOptions; default every line. */
  readonly include?: ParseNetUdpOptions['include'];
  /** performance.now() time after which the read is given up (ProcReadError `timeout`). */
  readonly deadline: number;
}

/** Reads and parses `<net>/udp`, the IPv4 sockets of the namespace. */
export async function readNetUdp(net: NetDirectory, options: ReadNetUdpOptions): Promise<UdpSocket[]> {
  return readTable(net, 'udp', 'ipv4', options);
}

/**
 * Reads and parses `<net>/udp6`, the IPv6 sockets, dual-stack ones included. Undefined when
 * the file does not exist: IPv6 is disabled, which is no data rather than a failure.
 */
export async function readNetUdp6(net: NetDirectory, options: ReadNetUdpOptions): Promise<UdpSocket[] | undefined> {
  try {
    return await readTable(net, 'udp6', 'ipv6', options);
  } catch (error) {
    if (failureOf(error) === 'ENOENT') return undefined;
    throw error;
  }
}

async function readTable(net: NetDirectory, name: string, family: IpFamily, options: ReadNetUdpOptions): Promise<UdpSocket[]> {
  const file = `${net.path}/${name}`;
  const parser = new NetUdpParser({ file, family, byteOrder: endianness(), ...(options.include === undefined ? {} : { include: options.include }) });
  // Parsed as it is read: memory stays at one chunk and the sockets kept, whatever the table's size.
  await net.procfs.stream(file, { deadline: options.deadline }, (chunk) => parser.feed(chunk));
  return parser.finish();
}

/**
 * Parses the whole file. Throws ProcFormatError naming the line, field and token of the first
 * malformed line: one bad line voids the whole read, because skipping it could hide exactly
 * the listener someone alerts on.
 */
export function parseNetUdp(bytes: Uint8Array, options: ParseNetUdpOptions): UdpSocket[] {
  const parser = new NetUdpParser(options);
  parser.feed(bytes);
  return parser.finish();
}

/**
 * A line is at most this long: a socket line is about 170 bytes in udp6, and columns a newer
 * kernel appends are tolerated; a "line" past this is not the kernel's, and is not buffered.
 */
const MAX_LINE_BYTES = 4096;

/**
 * The same parser fed the file chunk by chunk, as it is read: the complete lines of each chunk
 * are parsed at once, a line cut at the chunk's end is carried to the next, and a chunk is not
 * kept after feed() returns. The result is the same as parseNetUdp's on the whole file.
 */
export class NetUdpParser {
  private readonly options: ParseNetUdpOptions;
  private readonly addressDigits: number;
  private readonly tokenStart = new Int32Array(FIELD_COUNT);
  private readonly tokenEnd = new Int32Array(FIELD_COUNT);
  private readonly sockets: UdpSocket[] = [];
  /** The text the current line is read from: a chunk, or a line joined across two. */
  private bytes: Uint8Array = new Uint8Array(0);
  /** The start of a line the previous chunks cut, copied. */
  private carry: Buffer = Buffer.alloc(0);
  private lineNumber = 0;
  private headerSeen = false;

  constructor(options: ParseNetUdpOptions) {
    this.options = options;
    this.addressDigits = options.family === 'ipv4' ? 8 : 32;
  }

  feed(chunk: Uint8Array): void {
    let position = 0;
    if (this.carry.length > 0) {
      const newline = chunk.indexOf(NEWLINE);
      if (newline < 0) {
        this.keep(chunk, 0);
        return;
      }
      const line = Buffer.concat([this.carry, chunk.subarray(0, newline + 1)]);
      this.carry = Buffer.alloc(0);
      this.bytes = line;
      this.line(0, line.length - 1);
      position = newline + 1;
    }
    this.bytes = chunk;
    while (position < chunk.length) {
      const lineEnd = chunk.indexOf(NEWLINE, position);
      if (lineEnd < 0) {
        this.keep(chunk, position);
        break;
      }
      this.line(position, lineEnd);
      position = lineEnd + 1;
    }
    // The chunk's buffer is the reader's to fill again.
    this.bytes = this.carry;
  }

  /** The sockets the include filter wanted; throws when the file ended inside a line. */
  finish(): UdpSocket[] {
    if (!this.headerSeen) {
      this.bytes = this.carry;
      this.lineNumber = 1;
      this.failHeader(0, this.carry.length);
    }
    if (this.carry.length > 0) {
      this.bytes = this.carry;
      this.lineNumber++;
      this.fail('end of line', 0, this.carry.length, 'line has no newline: the file was cut short');
    }
    return this.sockets;
  }

  /** Keeps the cut line starting at `start` for the next chunk. */
  private keep(chunk: Uint8Array, start: number): void {
    this.carry = Buffer.concat([this.carry, chunk.subarray(start)]);
    if (this.carry.length > MAX_LINE_BYTES) {
      this.bytes = this.carry;
      this.lineNumber++;
      this.failLongLine(0);
    }
  }

  /** The line [start, end) of this.bytes, end being its newline. */
  private line(start: number, end: number): void {
    this.lineNumber++;
    // Refused whether it came in one chunk or several, so that chunking never changes the result.
    if (end - start > MAX_LINE_BYTES) this.failLongLine(start);
    if (!this.headerSeen) {
      const header = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, end - start).toString('latin1');
      if (!/^\s*sl\s+local_address\s/.test(header)) this.failHeader(start, end);
      this.headerSeen = true;
      return;
    }
    this.tokenize(start, end);
    const localPort = this.portOf(F_LOCAL);
    const state = this.hexField(F_STATE, this.tokenStart[F_STATE]!, this.tokenEnd[F_STATE]!, 2);
    if (this.options.include !== undefined && !this.options.include(localPort, state)) return;
    this.sockets.push(this.decode(localPort, state));
  }

  private failLongLine(start: number): never {
    const field = this.headerSeen ? FIELD_NAMES[0] : 'header';
    this.fail(field, start, start + 40, `line longer than ${MAX_LINE_BYTES} bytes`);
  }

  private failHeader(start: number, end: number): never {
    const header = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, end - start).toString('latin1');
    throw new ProcFormatError(this.options.file, 1, 'header', header, 'expected the header line "sl local_address ..."');
  }

  /**
   * Splits [start, end) on spaces into the token tables; every column must be present. The
   * kernel writes only printable ASCII and spaces, so any control byte (a CR, a NUL, a tab)
   * means the text is not what the kernel wrote, even on a line nobody asked about.
   */
  private tokenize(start: number, end: number): void {
    const { bytes, tokenStart, tokenEnd } = this;
    let count = 0;
    let i = start;
    while (i < end) {
      if (bytes[i] === SPACE) {
        i++;
        continue;
      }
      const tokenBegin = i;
      for (; i < end; i++) {
        const c = bytes[i]!;
        if (c === SPACE) break;
        if (c < SPACE || c === DEL) {
          const field = FIELD_NAMES[Math.min(count, FIELD_COUNT - 1)]!;
          this.fail(field, tokenBegin, i + 1, `control byte 0x${c.toString(16).padStart(2, '0')} in the text`);
        }
      }
      // Columns after drops are tolerated: a newer kernel may append some.
      if (count < FIELD_COUNT) {
        tokenStart[count] = tokenBegin;
        tokenEnd[count] = i;
      }
      count++;
    }
    if (count < FIELD_COUNT) {
      const missing = FIELD_NAMES[count]!;
      this.fail(missing, start, end, `line has ${count} of ${FIELD_COUNT} columns; ${missing} is missing`);
    }
  }

  private decode(localPort: number, state: number): UdpSocket {
    const { tokenStart: s, tokenEnd: e } = this;
    this.decimalField(F_SL, s[F_SL]!, e[F_SL]! - 1);
    if (this.bytes[e[F_SL]! - 1] !== COLON) {
      this.fail(FIELD_NAMES[F_SL], s[F_SL]!, e[F_SL]!, 'expected a slot number followed by ":"');
    }
    const queuesColon = this.colonIn(F_QUEUES);
    return {
      family: this.options.family,
      localAddress: this.addressOf(F_LOCAL),
      localPort,
      remoteAddress: this.addressOf(F_REMOTE),
      remotePort: this.portOf(F_REMOTE),
      state,
      txQueueBytes: this.hexField(F_QUEUES, s[F_QUEUES]!, queuesColon, 8),
      rxQueueBytes: this.hexField(F_QUEUES, queuesColon + 1, e[F_QUEUES]!, 8),
      uid: this.decimalField(F_UID, s[F_UID]!, e[F_UID]!),
      inode: this.decimalField(F_INODE, s[F_INODE]!, e[F_INODE]!),
      drops: this.decimalField(F_DROPS, s[F_DROPS]!, e[F_DROPS]!),
    };
  }

  /** Offset of the ":" inside a field, which must be there exactly once. */
  private colonIn(field: number): number {
    const start = this.tokenStart[field]!;
    const end = this.tokenEnd[field]!;
    // Exactly one: the first ":" from the field's start is inside it and is also the last one.
    const colon = this.bytes.indexOf(COLON, start);
    if (colon < 0 || colon >= end || this.bytes.lastIndexOf(COLON, end - 1) !== colon) {
      this.fail(FIELD_NAMES[field]!, start, end, 'expected two hex numbers separated by ":"');
    }
    return colon;
  }

  private portOf(field: number): number {
    const colon = this.addressColon(field);
    return this.hexField(field, colon + 1, this.tokenEnd[field]!, 4);
  }

  private addressColon(field: number): number {
    const start = this.tokenStart[field]!;
    const colon = start + this.addressDigits;
    if (this.tokenEnd[field]! !== colon + 5 || this.bytes[colon] !== COLON) {
      const expected = this.options.family === 'ipv4' ? 'XXXXXXXX:PPPP' : '32 hex digits:PPPP';
      this.fail(FIELD_NAMES[field]!, start, this.tokenEnd[field]!, `expected an ${this.options.family} address as ${expected}`);
    }
    return colon;
  }

  /** The kernel prints each 32-bit word of the address as the CPU holds it in memory. */
  private addressOf(field: number): string {
    const start = this.tokenStart[field]!;
    this.addressColon(field);
    const words: number[] = [];
    for (let w = 0; w < this.addressDigits / 8; w++) {
      const word = this.hexField(field, start + w * 8, start + w * 8 + 8, 8);
      words.push(this.options.byteOrder === 'LE' ? swap32(word) : word);
    }
    return this.options.family === 'ipv4' ? formatIpv4(words[0]!) : formatIpv6(words);
  }

  private hexField(field: number, start: number, end: number, maxDigits: number): number {
    if (end <= start || end - start > maxDigits) {
      this.fail(FIELD_NAMES[field]!, start, end, `expected 1 to ${maxDigits} hex digits`);
    }
    let value = 0;
    for (let i = start; i < end; i++) {
      const digit = HEX_VALUE[this.bytes[i]!]!;
      if (digit < 0) this.fail(FIELD_NAMES[field]!, start, end, 'not a hex number');
      value = value * 16 + digit;
    }
    return value;
  }

  private decimalField(field: number, start: number, end: number): number {
    // 15 digits always fit a double exactly; the kernel prints at most 20 (u64) but never that many here.
    if (end <= start || end - start > 15) {
      this.fail(FIELD_NAMES[field]!, start, end, 'expected a decimal number of 1 to 15 digits');
    }
    let value = 0;
    for (let i = start; i < end; i++) {
      const digit = this.bytes[i]! - 0x30;
      if (digit < 0 || digit > 9) this.fail(FIELD_NAMES[field]!, start, end, 'not a decimal number');
      value = value * 10 + digit;
    }
    return value;
  }

  private fail(field: string, start: number, end: number, problem: string): never {
    const token = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, Math.max(0, end - start)).toString('latin1');
    throw new ProcFormatError(this.options.file, this.lineNumber, field, token, problem);
  }
}

function swap32(word: number): number {
  return (((word & 0xff) << 24) | ((word & 0xff00) << 8) | ((word >>> 8) & 0xff00) | (word >>> 24)) >>> 0;
}

function formatIpv4(word: number): string {
  return `${word >>> 24}.${(word >>> 16) & 0xff}.${(word >>> 8) & 0xff}.${word & 0xff}`;
}

/** RFC 5952 text: lower case, longest run of two or more zero groups as "::", v4-mapped in dotted form. */
export function formatIpv6(words: readonly number[]): string {
  const groups: number[] = [];
  for (const word of words) groups.push(word >>> 16, word & 0xffff);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIpv4(words[3]!)}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
