/**
 * The obvious ways to parse /proc/net/udp, as baselines for the service's byte scanner
 * (src/procfs/net-udp.ts): `parseBySplit` splits the text into lines and each line on
 * whitespace, as prometheus/procfs does in Go (strings.Fields) and most hand-written parsers
 * do; `parseByRegex` matches one regular expression per line. Both return exactly what the
 * scanner returns (the benchmark checks that), with less validation, so they are if anything
 * flattered.
 */
import { formatIpv6, type ParseNetUdpOptions, type UdpSocket } from '../../src/procfs/net-udp.js';

const HEADER = /^\s*sl\s+local_address\s/;
const LINE =
  /^\s*\d+: ([0-9A-F]{8}|[0-9A-F]{32}):([0-9A-F]{4}) ([0-9A-F]{8}|[0-9A-F]{32}):([0-9A-F]{4}) ([0-9A-F]{2}) ([0-9A-F]{8}):([0-9A-F]{8}) [0-9A-F]{2}:[0-9A-F]{8} [0-9A-F]{8} +(\d+) +\d+ (\d+) \d+ \S+ (\d+)/;

export function parseBySplit(bytes: Uint8Array, options: ParseNetUdpOptions): UdpSocket[] {
  const lines = textLines(bytes, options.file);
  const sockets: UdpSocket[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const fields = line.trim().split(/\s+/);
    if (fields.length < 13) throw new Error(`${options.file}:${i + 1}: ${fields.length} columns`);
    const [localAddress, localPort] = fields[1]!.split(':') as [string, string];
    const port = parseInt(localPort, 16);
    const state = parseInt(fields[3]!, 16);
    if (options.include !== undefined && !options.include(port, state)) continue;
    const [remoteAddress, remotePort] = fields[2]!.split(':') as [string, string];
    const [tx, rx] = fields[4]!.split(':') as [string, string];
    sockets.push({
      family: options.family,
      localAddress: formatAddress(localAddress, options),
      localPort: port,
      remoteAddress: formatAddress(remoteAddress, options),
      remotePort: parseInt(remotePort, 16),
      state,
      txQueueBytes: parseInt(tx, 16),
      rxQueueBytes: parseInt(rx, 16),
      uid: Number(fields[7]),
      inode: Number(fields[9]),
      drops: Number(fields[12]),
    });
  }
  return sockets;
}

export function parseByRegex(bytes: Uint8Array, options: ParseNetUdpOptions): UdpSocket[] {
  const lines = textLines(bytes, options.file);
  const sockets: UdpSocket[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const m = LINE.exec(line);
    if (m === null) throw new Error(`${options.file}:${i + 1}: not a socket line`);
    const port = parseInt(m[2]!, 16);
    const state = parseInt(m[5]!, 16);
    if (options.include !== undefined && !options.include(port, state)) continue;
    sockets.push({
      family: options.family,
      localAddress: formatAddress(m[1]!, options),
      localPort: port,
      remoteAddress: formatAddress(m[3]!, options),
      remotePort: parseInt(m[4]!, 16),
      state,
      txQueueBytes: parseInt(m[6]!, 16),
      rxQueueBytes: parseInt(m[7]!, 16),
      uid: Number(m[8]),
      inode: Number(m[9]),
      drops: Number(m[10]),
    });
  }
  return sockets;
}

function textLines(bytes: Uint8Array, file: string): string[] {
  const lines = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1').split('\n');
  if (!HEADER.test(lines[0]!)) throw new Error(`${file}: no header`);
  return lines;
}

function formatAddress(hex: string, options: ParseNetUdpOptions): string {
  const words: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word = parseInt(hex.slice(w, w + 8), 16);
    words.push(options.byteOrder === 'LE' ? swap32(word) : word);
  }
  if (words.length === 4) return formatIpv6(words);
  const v = words[0]!;
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

function swap32(word: number): number {
  return (((word & 0xff) << 24) | ((word & 0xff00) << 8) | ((word >>> 8) & 0xff00) | (word >>> 24)) >>> 0;
}
