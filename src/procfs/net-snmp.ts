/**
 * /proc/net/snmp and /proc/net/snmp6 (<pid>/net/snmp* below the procfs root): the
 * kernel's protocol counters for the network namespace.
 *
 * snmp is pairs of lines per protocol, a header naming the columns and a line of values:
 *
 *   Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
 *   Udp: 69 0 194 271 194 0 0 0 0
 *
 * Older kernels have fewer columns, so values are mapped by header name, never by position, and
 * a column the kernel does not have is absent rather than 0. IcmpMsg is printed 16 columns to a
 * pair (net/ipv4/proc.c icmpmsg_put), so a protocol may take several pairs in a row; its columns
 * add up. Column and counter names are letters and digits and never repeat: a header the kernel
 * did not write is refused rather than read as an older kernel's. snmp6 is one `Name value` per
 * line. The readers take the UDP counters out of each.
 *
 * Optional columns stay optional, but the readers require the six UDP counters every kernel
 * since 2.6.18 writes (REQUIRED_UDP_COLUMNS): a header whose NoPorts is misspelt is not an
 * older kernel's, and reading it as one would drop that counter from the page without a word.
 */
import { failureOf, ProcFormatError } from './errors.js';
import type { NetDirectory } from './procfs.js';

/** UDP counters by the kernel's column name (InDatagrams, NoPorts, RcvbufErrors, ...). */
export type UdpCounters = ReadonlyMap<string, number>;

/**
 * The UDP counters of every kernel since 2.6.18 (2006), in snmp as `Udp:` columns and in snmp6
 * as `Udp6` names. InCsumErrors (3.10), IgnoredMulti (3.19) and MemErrors (5.11) came later and
 * stay optional. Node 20 itself needs kernel 4.18, so no kernel it runs on lacks any of these.
 */
const REQUIRED_UDP_COLUMNS = ['InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams', 'RcvbufErrors', 'SndbufErrors'] as const;

/** Reads `<net>/snmp` and returns its Udp columns; a file without Udp lines is malformed. */
export async function readNetSnmpUdp(net: NetDirectory, deadline: number): Promise<UdpCounters> {
  const file = `${net.path}/snmp`;
  const text = (await net.procfs.read(file, { deadline })).toString('latin1');
  const udp = parseNetSnmp(text, file).get('Udp');
  if (udp === undefined) throw new ProcFormatError(file, 0, 'Udp', '', 'no Udp lines in the file');
  return requireUdpColumns(udp, file, 'Udp', '');
}

/**
 * Reads `<net>/snmp6` and returns its Udp6 counters under snmp's column names (Udp6InDatagrams
 * becomes InDatagrams). Undefined when the file does not exist: IPv6 is disabled.
 */
export async function readNetSnmp6Udp(net: NetDirectory, deadline: number): Promise<UdpCounters | undefined> {
  const file = `${net.path}/snmp6`;
  let text: string;
  try {
    text = (await net.procfs.read(file, { deadline })).toString('latin1');
  } catch (error) {
    if (failureOf(error) === 'ENOENT') return undefined;
    throw error;
  }
  const udp = new Map<string, number>();
  for (const [name, value] of parseNetSnmp6(text, file)) if (name.startsWith('Udp6')) udp.set(name.slice(4), value);
  return requireUdpColumns(udp, file, 'Udp6', 'Udp6');
}

/**
 * Refuses UDP counters without one of the REQUIRED_UDP_COLUMNS, naming the first one missing;
 * the token is what the file does have, so a misspelt name shows beside the expected one.
 */
export function requireUdpColumns(udp: UdpCounters, file: string, field: string, prefix: string): UdpCounters {
  const missing = REQUIRED_UDP_COLUMNS.find((column) => !udp.has(column));
  if (missing !== undefined) {
    const present = [...udp.keys()].map((column) => `${prefix}${column}`).join(' ');
    throw new ProcFormatError(file, 0, field, present, `no ${prefix}${missing} counter, which every kernel since 2.6.18 writes`);
  }
  return udp;
}

/** Column name to value, per protocol (`Udp`, `UdpLite`, `Ip`, ...). */
export type SnmpTable = ReadonlyMap<string, ReadonlyMap<string, number>>;

export function parseNetSnmp(text: string, file: string): SnmpTable {
  const lines = splitLines(text, file);
  const table = new Map<string, Map<string, number>>();
  let previous: string | undefined;
  // Pairs are checked in order, so a values line missing in the middle is reported where it was
  // expected, not as a header without values at the end of the file.
  for (let i = 0; i < lines.length; i += 2) {
    const header = lines[i]!.split(' ');
    const protocol = header[0]!;
    if (!/^[A-Za-z0-9]+:$/.test(protocol)) {
      throw new ProcFormatError(file, i + 1, 'protocol', protocol, 'expected a protocol name followed by ":"');
    }
    const name = protocol.slice(0, -1);
    const seen = table.get(name);
    if (seen !== undefined && name !== previous) {
      throw new ProcFormatError(file, i + 1, 'protocol', protocol, 'protocol listed again after another one');
    }
    const columns = seen ?? new Map<string, number>();
    const inHeader = new Set<string>();
    for (let c = 1; c < header.length; c++) {
      const column = header[c]!;
      if (!/^[A-Za-z0-9]+$/.test(column)) throw new ProcFormatError(file, i + 1, 'column', column, 'expected a column name of letters and digits');
      if (columns.has(column) || inHeader.has(column)) throw new ProcFormatError(file, i + 1, 'column', column, `column named twice for ${protocol}`);
      inHeader.add(column);
    }
    if (i + 1 === lines.length) {
      throw new ProcFormatError(file, i + 1, 'values', lines[i]!, 'header line without its values line');
    }
    const values = lines[i + 1]!.split(' ');
    if (values[0] !== protocol) {
      throw new ProcFormatError(file, i + 2, 'protocol', values[0] ?? '', `expected the values line of ${protocol}`);
    }
    if (values.length !== header.length) {
      throw new ProcFormatError(file, i + 2, protocol, lines[i + 1]!, `${header.length - 1} columns in the header but ${values.length - 1} values`);
    }
    for (let c = 1; c < header.length; c++) {
      columns.set(header[c]!, counterValue(values[c]!, file, i + 2, header[c]!, true));
    }
    table.set(name, columns);
    previous = name;
  }
  return table;
}

export function parseNetSnmp6(text: string, file: string): ReadonlyMap<string, number> {
  const counters = new Map<string, number>();
  for (const [index, line] of splitLines(text, file).entries()) {
    const match = /^([A-Za-z0-9]+)[ \t]+(\S+)$/.exec(line);
    if (match === null) throw new ProcFormatError(file, index + 1, 'line', line, 'expected "Name value"');
    if (counters.has(match[1]!)) throw new ProcFormatError(file, index + 1, 'name', match[1]!, 'counter named twice');
    counters.set(match[1]!, counterValue(match[2]!, file, index + 1, match[1]!, false));
  }
  return counters;
}

/** Lines without their newline; the text must end with one (else it was cut short). */
function splitLines(text: string, file: string): string[] {
  if (text === '') throw new ProcFormatError(file, 0, 'file', '', 'empty file');
  if (!text.endsWith('\n')) {
    const lines = text.split('\n');
    throw new ProcFormatError(file, lines.length, 'end of line', lines[lines.length - 1]!, 'line has no newline: the file was cut short');
  }
  const lines = text.slice(0, -1).split('\n');
  // The kernel writes printable ASCII, spaces and (snmp6) tabs: anything else was not written by it.
  for (const [index, line] of lines.entries()) {
    const control = /[\x00-\x08\x0a-\x1f\x7f]/.exec(line);
    if (control !== null) throw new ProcFormatError(file, index + 1, 'line', line, `control byte 0x${control[0].charCodeAt(0).toString(16).padStart(2, '0')}`);
  }
  return lines;
}

/**
 * Counters are printed unsigned (%lu); only snmp's Tcp MaxConn is signed, and it is always -1.
 * Any other negative number is not the kernel's, and would run a Prometheus counter backwards.
 * Beyond 2^53 a double is not exact.
 */
function counterValue(token: string, file: string, line: number, field: string, minusOne: boolean): number {
  if (!(/^\d{1,16}$/.test(token) || (minusOne && token === '-1')) || !Number.isSafeInteger(Number(token))) {
    throw new ProcFormatError(file, line, field, token, minusOne ? 'expected a whole number, or -1' : 'expected a whole number');
  }
  return Number(token);
}
