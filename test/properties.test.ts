/**
 * Property-based tests (fast-check) of every procfs parser and of the configuration parser, on
 * generated input: the real captured files cut at any byte, mangled with hostile bytes, with
 * columns added and removed, CRLF, NUL, huge numbers, 100,000-line files; and of label safety.
 *
 * Properties:
 * - nothing but ProcFormatError (ConfigError for configuration) escapes a parser, and every
 *   rejection names the file, line, field and raw token (configuration: variable and token);
 * - what is accepted is consistent: a cut file either throws or gives a prefix of the full
 *   parse, ports are in range, generated valid input parses back to what was generated;
 * - one bad line anywhere voids the whole file (the README's promise);
 * - the per-process readers (<pid>/comm, cgroup, fd and ns links) never throw, on any input:
 *   a process name is printable and bounded, container hints have their exact shape or are
 *   absent, a link gives an inode only when it is exactly `socket:[N]` / `net:[N]`;
 * - any label value (and any name the configuration accepts, and any bytes a process names
 *   itself with, through executableNameFromComm) gives a page that promtool and
 *   prometheus_client's strict parser read back intact.
 *
 * A parser is one entry of PARSERS: add an entry and it gets every file property.
 * Each test prints its fast-check run count; the last one prints the totals.
 */
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import fc from 'fast-check';
import { CONFIG_VARIABLES, loadConfig, type Config } from '../src/config/config.js';
import { ConfigError } from '../src/config/errors.js';
import { parsePortList, type WatchedPort } from '../src/config/ports.js';
import { ProcFormatError } from '../src/procfs/errors.js';
import { parseIpLocalPortRange, type PortRange } from '../src/procfs/ip-local-port-range.js';
import { parseNetSnmp, parseNetSnmp6, type SnmpTable } from '../src/procfs/net-snmp.js';
import { formatIpv6, NetUdpParser, parseNetUdp, type IpFamily, type UdpSocket } from '../src/procfs/net-udp.js';
import { parseCgroupHints, type ContainerHints } from '../src/procfs/pid-cgroup.js';
import { executableNameFromComm } from '../src/procfs/pid-comm.js';
import { netnsInodeOfLink, socketInodeOfLink } from '../src/procfs/pid-links.js';
import { ATTR_ERROR_TYPE, ATTR_FILE_PATH, ATTR_LISTENER_NAME, ATTR_PORT, ATTR_PROCESS_EXECUTABLE_NAME } from '../src/telemetry/names.js';
import { parseExposition } from './support/exposition.js';
import { checkLabelValues, DEBIAN_PYTHON, parseWithPrometheusClient, promtoolLint, pythonParserAvailable } from './support/label-safety.js';
import { FIXTURES } from './support/paths.js';
import { startService } from './support/service.js';
import { findTool } from './support/tools.js';

// ---------------------------------------------------------------------------------------------
// Running properties and counting what they tried

const totals = { properties: 0, runs: 0, tried: 0 };

// maxLength means what it says. By default fast-check generates at most 10 elements whatever the
// maxLength, so no label value past 10 characters, no port list or generated udp file past 10
// entries, no listener name past 10 characters was ever tried.
fc.configureGlobal({ defaultSizeToMaxWhenMaxSpecified: true });

async function holds<T>(t: TestContext, property: fc.IProperty<T> | fc.IAsyncProperty<T>, numRuns: number, parameters: fc.Parameters<T> = {}): Promise<void> {
  const details = await fc.check(property as fc.IAsyncProperty<T>, { ...parameters, numRuns });
  const tried = details.numRuns + details.numSkips + details.numShrinks;
  totals.properties++;
  totals.runs += details.numRuns;
  totals.tried += tried;
  t.diagnostic(`fast-check: numRuns ${details.numRuns}, ${tried} inputs tried, seed ${details.seed}`);
  if (details.failed) {
    // fast-check 4 leaves the failure itself out of its report: add it, or the report says only where.
    const error = details.errorInstance;
    throw new Error(`${fc.defaultReportMessage(details) ?? 'property failed'}\nGot error: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}


// ---------------------------------------------------------------------------------------------
// The parsers under test, one entry each

interface Sample {
  /** Shown in errors; every rejection must name it. */
  readonly file: string;
  readonly bytes: Buffer;
}

interface ParserEntry<T> {
  readonly name: string;
  /** Real files captured from a machine (test/fixtures/procfs/real). */
  readonly samples: readonly Sample[];
  readonly parse: (bytes: Buffer, sample: Sample) => T;
  /** Invariants of any accepted result; throws if one does not hold. */
  readonly check: (result: T) => void;
  /** Is `part` (the parse of a cut file) a prefix of `full`? */
  readonly isPrefix: (part: T, full: T) => boolean;
  /** How many entries (sockets, protocols, counters) a result holds. */
  readonly size: (result: T) => number;
  /** Header lines, which breakLine leaves alone. */
  readonly headerLines: number;
  /** Ways to make one data line certainly malformed. */
  readonly breakLine: fc.Arbitrary<(line: string) => string>;
  /** Valid files made from generated values, with the result they must parse to. */
  readonly valid: fc.Arbitrary<{ readonly text: string; readonly expected: T }>;
  /** Valid files of that many data lines and the size of their parse; undefined for one-line files. */
  readonly bigFile?: (lines: number) => fc.Arbitrary<{ readonly text: string; readonly lines: number; readonly size: number }>;
}

const REAL = path.join(FIXTURES, 'procfs', 'real');
const realFile = (relative: string): Sample => ({ file: `/proc/${relative}`, bytes: readFileSync(path.join(REAL, relative)) });

const udpSamples = [realFile('1/net/udp'), realFile('1/net/udp6')];
const familyOf = (sample: Sample): IpFamily => (sample.file.endsWith('6') ? 'ipv6' : 'ipv4');
const parseUdp = (bytes: Buffer, sample: Sample): UdpSocket[] => parseNetUdp(bytes, { file: sample.file, family: familyOf(sample), byteOrder: 'LE' });

const hex = (value: number, digits: number): string => value.toString(16).toUpperCase().padStart(digits, '0');
/** The kernel prints each 32-bit word of an address as it sits in a little-endian CPU's memory. */
const wordText = (bytes: readonly number[]): string => hex(((bytes[3]! << 24) | (bytes[2]! << 16) | (bytes[1]! << 8) | bytes[0]!) >>> 0, 8);

const socketArbitrary = (family: IpFamily) =>
  fc.record({
    address: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: family === 'ipv4' ? 4 : 16, maxLength: family === 'ipv4' ? 4 : 16 }),
    localPort: fc.integer({ min: 0, max: 65535 }),
    remotePort: fc.integer({ min: 0, max: 65535 }),
    state: fc.constantFrom(0x07, 0x01),
    txQueueBytes: fc.integer({ min: 0, max: 0xffffffff }),
    rxQueueBytes: fc.integer({ min: 0, max: 0xffffffff }),
    uid: fc.integer({ min: 0, max: 0xffffffff }),
    // The parser takes up to 15 digits (exact in a double); sockfs inodes are 32-bit counters.
    inode: fc.integer({ min: 0, max: 999_999_999_999_999 }),
    drops: fc.integer({ min: 0, max: 999_999_999_999_999 }),
    extraColumns: fc.array(fc.constantFrom('0', '42', 'x'), { maxLength: 2 }),
  });

type GeneratedSocket = typeof socketArbitrary extends (f: IpFamily) => fc.Arbitrary<infer S> ? S : never;

function socketLine(family: IpFamily, slot: number, s: GeneratedSocket): { line: string; socket: UdpSocket } {
  const words = [];
  for (let i = 0; i < s.address.length; i += 4) words.push(s.address.slice(i, i + 4));
  const addressText = words.map(wordText).join('');
  const zeros = '0'.repeat(family === 'ipv4' ? 8 : 32);
  const line =
    `${String(slot).padStart(5)}: ${addressText}:${hex(s.localPort, 4)} ${zeros}:${hex(s.remotePort, 4)} ${hex(s.state, 2)} ` +
    `${hex(s.txQueueBytes, 8)}:${hex(s.rxQueueBytes, 8)} 00:00000000 00000000 ${String(s.uid).padStart(5)}        0 ${s.inode} 2 0000000000000000 ${s.drops}` +
    `${s.extraColumns.map((c) => ` ${c}`).join('')}`;
  const networkWords = words.map((w) => ((w[0]! << 24) | (w[1]! << 16) | (w[2]! << 8) | w[3]!) >>> 0);
  const localAddress = family === 'ipv4' ? s.address.join('.') : formatIpv6(networkWords);
  return {
    line,
    socket: {
      family,
      localAddress,
      localPort: s.localPort,
      remoteAddress: family === 'ipv4' ? '0.0.0.0' : '::',
      remotePort: s.remotePort,
      state: s.state,
      txQueueBytes: s.txQueueBytes,
      rxQueueBytes: s.rxQueueBytes,
      uid: s.uid,
      inode: s.inode,
      drops: s.drops,
    },
  };
}

/**
 * Where in a file an edit or a cut lands, as a fraction of its length in [0, 1). Spread over the
 * whole file, with some lean to the start: fc.double({ min: 0, max: 1 }) puts over 99% of its
 * values on 0 or 1, which left the middle of every file all but untouched.
 */
const anywhere = fc.nat({ max: 0x7fffffff }).map((n) => n / 0x80000000);

const headerOf = (sample: Sample): string => sample.bytes.toString('latin1').split('\n')[0]!;

/** Replacements for a validated column that can never be valid there. */
const BAD_TOKENS = ['zz', 'G', '-1', '1e3', '0x10', '12345678901234567890123', 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF', '1\u00002', '\r', '\u00ff'];
/** Columns the parser validates on every line: sl, local_address, rem_address, st, queues, uid, inode, drops. */
const VALIDATED_COLUMNS = [0, 1, 2, 3, 4, 7, 9, 12];

const netUdp: ParserEntry<UdpSocket[]> = {
  name: 'parseNetUdp (/proc/net/udp, udp6)',
  samples: udpSamples,
  parse: parseUdp,
  check: (sockets) => {
    for (const s of sockets) {
      assert.ok(Number.isInteger(s.localPort) && s.localPort >= 0 && s.localPort <= 65535, `port ${s.localPort}`);
      assert.ok(Number.isInteger(s.remotePort) && s.remotePort >= 0 && s.remotePort <= 65535);
      assert.ok(s.state >= 0 && s.state <= 0xff);
      for (const n of [s.txQueueBytes, s.rxQueueBytes, s.uid, s.inode, s.drops]) assert.ok(Number.isSafeInteger(n) && n >= 0, `${n}`);
    }
  },
  isPrefix: (part, full) => part.length <= full.length && part.every((s, i) => isDeepStrictEqual(s, full[i])),
  size: (sockets) => sockets.length,
  headerLines: 1,
  breakLine: fc.oneof(
    fc.tuple(fc.constantFrom(...VALIDATED_COLUMNS), fc.constantFrom(...BAD_TOKENS)).map(
      ([column, token]) =>
        (line: string) => {
          const tokens = line.trim().split(/ +/);
          tokens[column] = column === 0 ? `${token}:` : token;
          return tokens.join(' ');
        },
    ),
    fc.integer({ min: 0, max: 12 }).map((column) => (line: string) => line.trim().split(/ +/).filter((_, i) => i !== column).join(' ')),
    fc.constantFrom('\r', '\0', '\t', '\x7f').map((byte) => (line: string) => `${line.slice(0, 10)}${byte}${line.slice(10)}`),
  ),
  valid: fc.constantFrom<IpFamily>('ipv4', 'ipv6').chain((family) =>
    fc.array(socketArbitrary(family), { maxLength: 30 }).map((sockets) => {
      const sample = udpSamples[family === 'ipv4' ? 0 : 1]!;
      const lines = sockets.map((s, slot) => socketLine(family, slot, s));
      return {
        text: `${headerOf(sample)}\n${lines.map((l) => `${l.line}\n`).join('')}`,
        expected: lines.map((l) => l.socket),
        family,
      };
    }),
  ),
  bigFile: (count) =>
    fc.record({ seed: socketArbitrary('ipv4'), ports: fc.array(fc.integer({ min: 0, max: 65535 }), { minLength: 64, maxLength: 64 }) }).map(({ seed, ports }) => {
      const lines: string[] = [headerOf(udpSamples[0]!)];
      // Exactly 13 columns: with one extra, dropping a column could leave a valid line.
      for (let i = 0; i < count; i++) lines.push(socketLine('ipv4', i, { ...seed, extraColumns: [], localPort: ports[i % 64]!, inode: i + 1 }).line);
      return { text: `${lines.join('\n')}\n`, lines: count, size: count };
    }),
};

const ipLocalPortRange: ParserEntry<PortRange> = {
  name: 'parseIpLocalPortRange (/proc/sys/net/ipv4/ip_local_port_range)',
  samples: [
    realFile('sys/net/ipv4/ip_local_port_range'),
    // A widened range, common on busy hosts: cut short, "1024\t6553" would still look like a range.
    { file: '/proc/sys/net/ipv4/ip_local_port_range', bytes: Buffer.from('1024\t65535\n') },
  ],
  parse: (bytes, sample) => parseIpLocalPortRange(bytes.toString('latin1'), sample.file),
  check: ({ low, high }) => assert.ok(Number.isInteger(low) && Number.isInteger(high) && low >= 1 && low <= high && high <= 65535, `${low} ${high}`),
  isPrefix: (part, full) => isDeepStrictEqual(part, full),
  size: () => 1,
  headerLines: 0,
  breakLine: fc.oneof(
    fc.constantFrom(...BAD_TOKENS).map((token) => (line: string) => line.replace(/\d+$/, token)),
    fc.constantFrom(...BAD_TOKENS).map((token) => (line: string) => line.replace(/^\d+/, token)),
    fc.constant((line: string) => line.replace(/\s+/, '')),
    fc.constant((line: string) => `${line}\t1`),
  ),
  valid: fc
    .tuple(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 }))
    .map(([a, b]) => ({ text: `${Math.min(a, b)}\t${Math.max(a, b)}\n`, expected: { low: Math.min(a, b), high: Math.max(a, b) } })),
};

// /proc/net/snmp and snmp6: counters by name. Names are what the kernel prints (letters and
// digits); values are unsigned decimal (snmp's Tcp MaxConn is -1) and must be exact in a double.
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'.split('');
/** Starts with a letter, as every name the kernel prints does (so a header never reads as values). */
const counterName = fc
  .tuple(fc.constantFrom(...ALNUM.filter((c) => /[A-Za-z]/.test(c))), fc.string({ unit: fc.constantFrom(...ALNUM), maxLength: 23 }))
  .map(([first, rest]) => `${first}${rest}`);
const unsignedCounter = fc.oneof(fc.nat({ max: 1000 }), fc.maxSafeNat());
const snmpCounter = fc.oneof(fc.constant(-1), unsignedCounter);
/** Tokens no counter can be; not '-1', which snmp's Tcp MaxConn is. */
const BAD_COUNTERS = ['zz', 'G', '1e3', '0x10', '+1', '--1', '-', '-0', '-2', '-3576', '1.5', '9007199254740992', '12345678901234567890123', 'FFFFFFFFFFFFFFFF', '\u00ff'];
/** Bytes the kernel never writes into these files (tab it does, in snmp6). */
const insertControlByte = fc
  .tuple(fc.constantFrom('\0', '\r', '\x01', '\x1b', '\x7f'), anywhere)
  .map(([byte, at]) => (line: string) => {
    const i = Math.min(line.length, Math.floor(at * (line.length + 1)));
    return `${line.slice(0, i)}${byte}${line.slice(i)}`;
  });
/** Tokens that cannot begin a line of snmp: not a protocol name followed by ":". */
const BAD_PROTOCOLS = ['Udp', 'Udp::', ':', '', 'U-dp:', 'Udp!:', '\u00ff:', '1e3', 'Udp :'];
/** Names no snmp column or snmp6 counter has ('' is what a doubled space gives). */
const BAD_NAMES = ['', 'In-Datagrams', 'In:x', 'A.B', '_', '\u00ff', '\u0085'];

/** Are the entries of `part` the first entries of `full`, in order, each one `prefix` of its own? */
const isMapPrefix = <V>(part: ReadonlyMap<string, V>, full: ReadonlyMap<string, V>, prefix: (a: V, b: V) => boolean = isDeepStrictEqual): boolean => {
  const [a, b] = [[...part], [...full]];
  return a.length <= b.length && a.every(([key, value], i) => key === b[i]![0] && prefix(value, b[i]![1]));
};

const checkCounters = (counters: ReadonlyMap<string, number>, lowest: -1 | 0): void => {
  for (const [name, value] of counters) {
    assert.match(name, /^[A-Za-z0-9]+$/, `counter name ${JSON.stringify(name)}`);
    assert.ok(Number.isSafeInteger(value) && value >= lowest && !Object.is(value, -0), `${name} = ${value}`);
  }
};

/** In snmp, a values line has a number after the protocol; a header line has a column name. */
const isValuesLine = (line: string): boolean => /^\S+ -?\d/.test(line);
const breakProtocol = (bad: string) => (line: string) => line.replace(/^\S*/, bad);

type SnmpProtocol = readonly [name: string, columns: readonly (readonly [string, number])[], columnsPerPair?: number];

/** Kernel-style snmp text: per protocol, pairs of header and values lines of at most columnsPerPair columns (IcmpMsg: 16). */
const snmpText = (protocols: readonly SnmpProtocol[]): string =>
  protocols
    .map(([p, columns, perPair = columns.length]) => {
      let text = '';
      for (let c = 0; c < columns.length; c += perPair) {
        const chunk = columns.slice(c, c + perPair);
        text += `${p}: ${chunk.map(([name]) => name).join(' ')}\n${p}: ${chunk.map(([, v]) => v).join(' ')}\n`;
      }
      return text;
    })
    .join('');

const snmpProtocols = fc.uniqueArray(
  fc.tuple(counterName, fc.uniqueArray(fc.tuple(counterName, snmpCounter), { minLength: 1, maxLength: 40, selector: ([c]) => c }), fc.integer({ min: 1, max: 40 })),
  { minLength: 1, maxLength: 8, selector: ([p]) => p },
);

const netSnmp: ParserEntry<SnmpTable> = {
  name: 'parseNetSnmp (/proc/net/snmp)',
  samples: [realFile('1/net/snmp')],
  parse: (bytes, sample) => parseNetSnmp(bytes.toString('latin1'), sample.file),
  check: (table) => {
    for (const [protocol, columns] of table) {
      assert.match(protocol, /^[A-Za-z0-9]+$/, `protocol ${JSON.stringify(protocol)}`);
      checkCounters(columns, -1);
    }
  },
  // A cut between two pairs of one protocol (IcmpMsg) leaves that protocol with its first columns.
  isPrefix: (part, full) => isMapPrefix(part, full, (a, b) => isMapPrefix(a, b)),
  size: (table) => table.size,
  headerLines: 0,
  breakLine: fc.oneof(
    insertControlByte,
    fc.constantFrom(...BAD_PROTOCOLS).map(breakProtocol),
    // a value that is no counter, or a column name no kernel writes
    fc.tuple(fc.nat(), fc.constantFrom(...BAD_COUNTERS), fc.constantFrom(...BAD_NAMES)).map(([column, badValue, badName]) => (line: string) => {
      const tokens = line.split(' ');
      tokens[1 + (column % (tokens.length - 1))] = isValuesLine(line) ? badValue : badName;
      return tokens.join(' ');
    }),
    // a value more or less; a header line loses its protocol's colon instead
    fc.tuple(fc.nat(), fc.boolean()).map(([column, add]) => (line: string) => {
      if (!isValuesLine(line)) return breakProtocol('Udp')(line);
      const tokens = line.split(' ');
      if (add) tokens.splice(1 + (column % tokens.length), 0, '0');
      else tokens.splice(1 + (column % (tokens.length - 1)), 1);
      return tokens.join(' ');
    }),
  ),
  valid: snmpProtocols.map((protocols) => ({
    text: snmpText(protocols),
    expected: new Map(protocols.map(([p, columns]) => [p, new Map(columns)])),
  })),
  bigFile: (count) =>
    fc.uniqueArray(fc.tuple(counterName, snmpCounter), { minLength: 1, maxLength: 4, selector: ([c]) => c }).map((columns) => {
      const protocols = Array.from({ length: count / 2 }, (_, i) => [`P${i}`, columns] as const);
      return { text: snmpText(protocols), lines: count, size: count / 2 };
    }),
};

const snmp6Separator = fc.constantFrom(' ', '\t', ' \t', 'kernel');
const snmp6Line = (name: string, value: number, separator: string): string =>
  separator === 'kernel' ? `${name.padEnd(32)}\t${value}` : `${name}${separator}${value}`;

const netSnmp6: ParserEntry<ReadonlyMap<string, number>> = {
  name: 'parseNetSnmp6 (/proc/net/snmp6)',
  samples: [realFile('1/net/snmp6')],
  parse: (bytes, sample) => parseNetSnmp6(bytes.toString('latin1'), sample.file),
  check: (counters) => checkCounters(counters, 0),
  isPrefix: isMapPrefix,
  size: (counters) => counters.size,
  headerLines: 0,
  breakLine: fc.oneof(
    insertControlByte,
    fc.constantFrom(...BAD_NAMES, 'In Datagrams', '-1').map((bad) => (line: string) => line.replace(/^\S*/, bad)),
    fc.constantFrom(...BAD_COUNTERS, '-1').map((bad) => (line: string) => line.replace(/\S*$/, bad)),
    fc.boolean().map((add) => (line: string) => (add ? `${line} 0` : line.replace(/[ \t]+\S*$/, ''))),
  ),
  valid: fc
    .uniqueArray(fc.tuple(counterName, unsignedCounter, snmp6Separator), { minLength: 1, maxLength: 60, selector: ([name]) => name })
    .map((counters) => ({
      text: counters.map(([name, value, separator]) => `${snmp6Line(name, value, separator)}\n`).join(''),
      expected: new Map(counters.map(([name, value]) => [name, value])),
    })),
  bigFile: (count) =>
    fc.tuple(fc.array(unsignedCounter, { minLength: 64, maxLength: 64 }), snmp6Separator).map(([values, separator]) => {
      const lines = Array.from({ length: count }, (_, i) => snmp6Line(`Udp6Counter${i}`, values[i % 64]!, separator));
      return { text: `${lines.join('\n')}\n`, lines: count, size: count };
    }),
};

/** Every procfs parser that reads a whole file and refuses what the kernel does not write. */
const PARSERS = [netUdp, ipLocalPortRange, netSnmp, netSnmp6] as unknown as readonly ParserEntry<unknown>[];

function isDeepStrictEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile edits of a file

type Edit = (bytes: Buffer) => Buffer;

const HOSTILE_BYTES = ['\0', '\r', '\n', ' ', '\t', ':', 'G', 'z', '-', '\xff', '\x7f', '99999999999999999999999999', 'FFFFFFFFFFFF', ' 42', '\r\n'];

const editArbitrary: fc.Arbitrary<Edit> = fc.oneof(
  // insert hostile bytes anywhere
  fc.tuple(anywhere, fc.constantFrom(...HOSTILE_BYTES)).map(([at, text]) => (bytes: Buffer) => {
    const i = Math.floor(at * bytes.length);
    return Buffer.concat([bytes.subarray(0, i), Buffer.from(text, 'latin1'), bytes.subarray(i)]);
  }),
  // delete a run of bytes
  fc.tuple(anywhere, fc.integer({ min: 1, max: 40 })).map(([at, length]) => (bytes: Buffer) => {
    const i = Math.floor(at * bytes.length);
    return Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + length)]);
  }),
  // overwrite one byte with any byte
  fc.tuple(anywhere, fc.integer({ min: 0, max: 255 })).map(([at, byte]) => (bytes: Buffer) => {
    const copy = Buffer.from(bytes);
    if (copy.length > 0) copy[Math.min(copy.length - 1, Math.floor(at * copy.length))] = byte;
    return copy;
  }),
  // a column more or a column less on one line
  fc.tuple(fc.nat(), fc.boolean(), fc.nat()).map(([lineIndex, add, column]) => (bytes: Buffer) => {
    const lines = bytes.toString('latin1').split('\n');
    const i = lineIndex % lines.length;
    const tokens = lines[i]!.trim().split(/ +/);
    if (add) tokens.splice(column % (tokens.length + 1), 0, '0');
    else tokens.splice(column % Math.max(1, tokens.length), 1);
    lines[i] = tokens.join(' ');
    return Buffer.from(lines.join('\n'), 'latin1');
  }),
  // a number made huge
  fc.tuple(fc.nat(), fc.integer({ min: 16, max: 40 })).map(([which, digits]) => (bytes: Buffer) => {
    const text = bytes.toString('latin1');
    const runs = [...text.matchAll(/\d+/g)];
    if (runs.length === 0) return bytes;
    const run = runs[which % runs.length]!;
    return Buffer.from(text.slice(0, run.index) + '9'.repeat(digits) + text.slice(run.index + run[0].length), 'latin1');
  }),
  // CRLF line ends
  fc.constant((bytes: Buffer) => Buffer.from(bytes.toString('latin1').replace(/\n/g, '\r\n'), 'latin1')),
  // one or two lines repeated, a digit in the copy changed: the same name twice with other values
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 2 }), fc.nat(), fc.integer({ min: 0, max: 9 })).map(([lineIndex, run, which, digit]) => (bytes: Buffer) => {
    const lines = bytes.toString('latin1').split('\n');
    const i = lineIndex % lines.length;
    const copy = lines.slice(i, i + run).join('\n');
    const digits = [...copy.matchAll(/\d/g)];
    const at = digits[which % Math.max(1, digits.length)]?.index;
    const changed = at === undefined ? copy : `${copy.slice(0, at)}${digit}${copy.slice(at + 1)}`;
    lines.splice(i + run, 0, ...changed.split('\n'));
    return Buffer.from(lines.join('\n'), 'latin1');
  }),
  // a line repeated or dropped
  fc.tuple(fc.nat(), fc.boolean()).map(([lineIndex, repeat]) => (bytes: Buffer) => {
    const lines = bytes.toString('latin1').split('\n');
    const i = lineIndex % lines.length;
    lines.splice(i, repeat ? 0 : 1, ...(repeat ? [lines[i]!] : []));
    return Buffer.from(lines.join('\n'), 'latin1');
  }),
  // cut anywhere
  anywhere.map((at) => (bytes: Buffer) => bytes.subarray(0, Math.floor(at * bytes.length))),
);

/** A parser may throw only a ProcFormatError that names the file, a line, a field and the token. */
function assertWellFormedRejection(error: unknown, sample: Sample, text: Buffer): void {
  if (!(error instanceof ProcFormatError)) throw new Error(`escaped: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  assert.equal(error.file, sample.file);
  const lines = text.toString('latin1').split('\n').length;
  assert.ok(Number.isInteger(error.line) && error.line >= 0 && error.line <= lines, `line ${error.line} of ${lines}`);
  assert.ok(error.field.length > 0, 'field');
  assert.equal(typeof error.token, 'string');
  assert.ok(error.message.startsWith(error.line > 0 ? `${sample.file}:${error.line}: field ${error.field}: ` : `${sample.file}: field ${error.field}: `), error.message);
  assert.ok(!error.message.includes('\n'), `message spans lines: ${error.message}`);
}

function parseOrRejection<T>(entry: ParserEntry<T>, bytes: Buffer, sample: Sample): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: entry.parse(bytes, sample) };
  } catch (error) {
    assertWellFormedRejection(error, sample, bytes);
    return { ok: false };
  }
}

describe('procfs parsers, properties', () => {
  for (const entry of PARSERS) {
    describe(entry.name, () => {
      const sampleArbitrary = fc.constantFrom(...entry.samples);

      it('hostile edits of the real files: only well-formed ProcFormatErrors escape; what is accepted is consistent', async (t) => {
        await holds(
          t,
          fc.property(sampleArbitrary, fc.array(editArbitrary, { minLength: 1, maxLength: 4 }), (sample, edits) => {
            const bytes = edits.reduce((b, edit) => edit(b), sample.bytes);
            const result = parseOrRejection(entry, bytes, sample);
            if (result.ok) entry.check(result.value);
          }),
          3000,
        );
      });

      it('cut at every byte of every real file: throws, or gives a prefix of the full parse', () => {
        for (const sample of entry.samples) {
          const full = entry.parse(sample.bytes, sample);
          for (let at = 0; at <= sample.bytes.length; at++) {
            const result = parseOrRejection(entry, sample.bytes.subarray(0, at), sample);
            if (result.ok) assert.ok(entry.isPrefix(result.value, full), `cut at ${at} gave ${JSON.stringify(result.value)}`);
          }
        }
      });

      it('cut at any byte after hostile edits: throws, or gives a prefix of the edited file\'s parse', async (t) => {
        await holds(
          t,
          fc.property(sampleArbitrary, fc.array(editArbitrary, { maxLength: 3 }), fc.nat(), fc.boolean(), (sample, edits, at, atLineEnd) => {
            const bytes = edits.reduce((b, edit) => edit(b), sample.bytes);
            const whole = parseOrRejection(entry, bytes, sample);
            fc.pre(whole.ok);
            // Half the cuts fall just after a newline, where a cut file can still be accepted.
            const lineEnds = [0, ...[...bytes.toString('latin1').matchAll(/\n/g)].map((m) => m.index + 1)];
            const cut = bytes.subarray(0, atLineEnd ? lineEnds[at % lineEnds.length] : at % (bytes.length + 1));
            const result = parseOrRejection(entry, cut, sample);
            if (result.ok && whole.ok) {
              entry.check(result.value);
              assert.ok(entry.isPrefix(result.value, whole.value), `cut at ${cut.length} gave ${JSON.stringify(result.value)}`);
            }
          }),
          1000,
        );
      });

      it('one bad line anywhere voids the whole file, naming that line', async (t) => {
        await holds(
          t,
          fc.property(sampleArbitrary, fc.nat(), entry.breakLine, (sample, lineChoice, breakLine) => {
            const lines = sample.bytes.toString('latin1').split('\n');
            const dataLines = lines.length - 1 - entry.headerLines;
            fc.pre(dataLines > 0);
            const index = entry.headerLines + (lineChoice % dataLines);
            lines[index] = breakLine(lines[index]!);
            const bytes = Buffer.from(lines.join('\n'), 'latin1');
            assert.throws(
              () => entry.parse(bytes, sample),
              (error: unknown) => {
                assertWellFormedRejection(error, sample, bytes);
                assert.equal((error as ProcFormatError).line, index + 1, (error as Error).message);
                return true;
              },
            );
          }),
          400,
        );
      });

      it('generated valid files parse to exactly what was generated', async (t) => {
        await holds(
          t,
          fc.property(entry.valid, ({ text, expected, ...rest }) => {
            const family = (rest as { family?: IpFamily }).family;
            const sample = entry.samples[family === 'ipv6' ? 1 : 0]!;
            assert.deepStrictEqual(entry.parse(Buffer.from(text, 'latin1'), sample), expected);
          }),
          300,
        );
      });

      if (entry.bigFile !== undefined) {
        const bigFile = entry.bigFile;
        it('100,000-line files: parsed whole, and one bad line among them is found and named', async (t) => {
          const sample = entry.samples[0]!;
          await holds(
            t,
            fc.property(bigFile(100_000), fc.nat(), entry.breakLine, ({ text, lines, size }, lineChoice, breakLine) => {
              const parsed = entry.parse(Buffer.from(text, 'latin1'), sample);
              assert.equal(text.split('\n').length - 1 - entry.headerLines, lines);
              assert.equal(entry.size(parsed), size);
              const all = text.split('\n');
              const index = entry.headerLines + (lineChoice % lines);
              all[index] = breakLine(all[index]!);
              assert.throws(
                () => entry.parse(Buffer.from(all.join('\n'), 'latin1'), sample),
                (error: unknown) => error instanceof ProcFormatError && error.line === index + 1,
              );
            }),
            3,
            // Shrinking a 13 MB counterexample takes minutes; the seed replays it.
            { endOnFailure: true },
          );
        });
      }
    });
  }
});

/** Sockets, or the error's every detail: what two ways of parsing one file must agree on. */
function udpOutcome(parse: () => UdpSocket[]): unknown {
  try {
    return { sockets: parse() };
  } catch (error) {
    if (!(error instanceof ProcFormatError)) throw error;
    return { error: [error.line, error.field, error.token, error.message] };
  }
}

describe('NetUdpParser fed in chunks, properties', () => {
  const anyUdpFile = fc.oneof(
    fc.tuple(fc.constantFrom(...udpSamples), fc.array(editArbitrary, { maxLength: 3 })).map(([sample, edits]) => ({
      sample,
      bytes: edits.reduce((b, edit) => edit(b), sample.bytes),
    })),
    netUdp.valid.map(({ text, ...rest }) => ({
      sample: udpSamples[(rest as { family?: IpFamily }).family === 'ipv6' ? 1 : 0]!,
      bytes: Buffer.from(text, 'latin1'),
    })),
  );

  it('any file cut into chunks anywhere parses as the whole file does: the same sockets, or the same error', async (t) => {
    await holds(
      t,
      fc.property(anyUdpFile, fc.array(anywhere, { maxLength: 12 }), ({ sample, bytes }, cuts) => {
        const options = { file: sample.file, family: familyOf(sample), byteOrder: 'LE' as const };
        const points = [...new Set(cuts.map((at) => Math.floor(at * bytes.length))), bytes.length].sort((a, b) => a - b);
        // Each chunk in one scratch buffer, overwritten by the next, as ProcFs hands them over.
        const scratch = Buffer.alloc(bytes.length);
        const chunked = udpOutcome(() => {
          const parser = new NetUdpParser(options);
          let from = 0;
          for (const to of points) {
            bytes.copy(scratch, 0, from, to);
            parser.feed(scratch.subarray(0, to - from));
            scratch.fill(0x58);
            from = to;
          }
          return parser.finish();
        });
        assert.deepStrictEqual(chunked, udpOutcome(() => parseNetUdp(bytes, options)));
      }),
      3000,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Per-process readers: <pid>/comm, <pid>/cgroup, fd and ns links. They never refuse: whatever a
// process or a runtime wrote gives a safe value or no value.

/** Bytes that break expositions or UTF-8: newline, quote, backslash, braces, C0/C1, bad sequences. */
const HOSTILE_COMM_BYTES = [0x0a, 0x22, 0x5c, 0x7b, 0x7d, 0x00, 0x09, 0x0d, 0x1b, 0x7f, 0x3d, 0x2c, 0x23, 0x20, 0x61, 0xff, 0xfe, 0x80, 0xbf, 0xc0, 0xc2, 0x85, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xed, 0xa0, 0xf0, 0x9f, 0x98, 0xf4, 0x90];

/** Any bytes a process could name itself with (the kernel keeps 15, plus its newline). */
const commBytes = (maxLength: number): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    fc.uint8Array({ maxLength }),
    fc.array(fc.constantFrom(...HOSTILE_COMM_BYTES), { maxLength }).map((bytes) => Uint8Array.from(bytes)),
    fc.string({ unit: 'binary', maxLength }).map((text) => new Uint8Array(Buffer.from(text, 'utf8')).subarray(0, maxLength)),
    fc.tuple(fc.uint8Array({ maxLength: 15 }), fc.constantFrom('', '\n', '\n\n')).map(([bytes, end]) => Uint8Array.from([...bytes, ...Buffer.from(end)])),
  );

const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** The cap on a name: it is cut after the character that reaches it, and a character is at most `\xNN`. */
const MAX_NAME = 64;

/** The name whole, one entry per character: one trailing newline dropped, UTF-8 read (bad bytes as U+FFFD), controls as \xNN. */
function commCharacters(bytes: Uint8Array): string[] {
  const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0a ? bytes.length - 1 : bytes.length;
  return [...Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('utf8')].map((c) =>
    CONTROL_CHARACTER.test(c) ? `\\x${c.codePointAt(0)!.toString(16).padStart(2, '0')}` : c,
  );
}

const HEX_DIGITS = '0123456789abcdef'.split('');
const containerId = fc.string({ unit: fc.constantFrom(...HEX_DIGITS), minLength: 64, maxLength: 64 });
const podUid = fc.uuid().map((uid) => uid.toLowerCase());
const CONTAINER_ID_SHAPE = /^[0-9a-f]{64}$/;
const POD_UID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Lines of a cgroup file as the runtimes write them, with the hints each one carries. */
const cgroupLine = fc
  .record({
    id: containerId,
    uid: podUid,
    qos: fc.constantFrom('besteffort', 'burstable', ''),
    runtime: fc.constantFrom('cri-containerd', 'crio', 'docker'),
    hierarchy: fc.constantFrom('12:pids', '4:memory', '1:name=systemd', '0:'),
    layout: fc.constantFrom('systemd pod', 'cgroupfs pod', 'systemd sandbox', 'docker', 'docker v1', 'podman'),
  })
  .map(({ id, uid, qos, runtime, hierarchy, layout }): { line: string; hints: ContainerHints } => {
    const slice = qos === '' ? 'kubepods.slice' : `kubepods.slice/kubepods-${qos}.slice`;
    const podSlice = `${slice}/kubepods-${qos === '' ? '' : `${qos}-`}pod${uid.replace(/-/g, '_')}.slice`;
    switch (layout) {
      case 'systemd pod':
        return { line: `${hierarchy}:/${podSlice}/${runtime}-${id}.scope`, hints: { containerId: id, podUid: uid } };
      case 'cgroupfs pod':
        return { line: `${hierarchy}:/kubepods/${qos === '' ? '' : `${qos}/`}pod${uid}/${id}`, hints: { containerId: id, podUid: uid } };
      case 'systemd sandbox':
        return { line: `${hierarchy}:/${podSlice}`, hints: { podUid: uid } };
      case 'docker':
        return { line: `0::/system.slice/docker-${id}.scope`, hints: { containerId: id } };
      case 'docker v1':
        return { line: `${hierarchy}:/docker/${id}`, hints: { containerId: id } };
      default:
        return { line: `0::/machine.slice/libpod-${id}.scope/container`, hints: { containerId: id } };
    }
  });

/** The real file's lines (a host: no hints), to surround a generated one. */
const hostCgroupLines = readFileSync(path.join(REAL, '1', 'cgroup'), 'utf8').trimEnd().split('\n');

const INODE = fc.integer({ min: 0, max: 999_999_999_999_999 });
/** Link targets that are close to `socket:[N]` / `net:[N]` but are not it. */
const nearMissLink = (type: 'socket' | 'net'): fc.Arbitrary<string> =>
  fc.tuple(INODE, fc.nat()).map(([n, which]) => {
    const other = type === 'socket' ? 'net' : 'socket';
    const misses = [
      ` ${type}:[${n}]`, `${type}:[${n}] `, `${type}:[${n}]\n`, `${type}:[${n}] (deleted)`, `${type}:${n}`, `${type}:[${n}`, `${type}:${n}]`,
      `${type}:(${n})`, `${type}: [${n}]`, `${type.toUpperCase()}:[${n}]`, `${type}:[]`, `${type}:[-${n}]`, `${type}:[+${n}]`, `${type}:[${n}.0]`,
      `${type}:[0x${n.toString(16)}]`, `${type}:[${String(n).padEnd(16, '0')}]`, `${type}:[${n}9999999999999999]`, `${type}:[\u0661\u0662]`, `${type}:[\uff11]`, `${other}:[${n}]`,
      `pipe:[${n}]`, `anon_inode:[eventpoll]`, `/dev/null`, `mnt:[${n}]`, '', `${type}:[${n}]${type}:[${n}]`,
    ];
    return misses[which % misses.length]!;
  });
const linkLike = fc.string({ unit: fc.constantFrom('socket:[', 'net:[', 'socket', 'net', ':', '[', ']', '0', '1', '9', ' ', '\n', '-', '\u0661', '\0'), maxLength: 12 });

describe('per-process readers, properties', () => {
  it('executableNameFromComm: any bytes give a printable name, the whole name or its start cut at the cap, never throwing', async (t) => {
    await holds(
      t,
      fc.property(fc.oneof(commBytes(16), commBytes(300)), fc.nat({ max: 3 }), (generated, offset) => {
        // A view into a larger buffer, as a slice of a read buffer would be.
        const backing = new Uint8Array(generated.length + offset).fill(0x0a);
        backing.set(generated, offset);
        const bytes = backing.subarray(offset);
        const name = executableNameFromComm(bytes);
        assert.equal(typeof name, 'string');
        assert.ok(!CONTROL_CHARACTER.test(name), `control character in ${JSON.stringify(name)}`);
        assert.ok(!LONE_SURROGATE.test(name), `lone surrogate in ${JSON.stringify(name)}`);
        const characters = commCharacters(bytes);
        const whole = characters.join('');
        let k = 0;
        for (let length = 0; length < name.length; k++) length += characters[k]!.length;
        assert.equal(name, characters.slice(0, k).join(''), 'the name is its first characters, never half a \\xNN or a surrogate pair');
        if (name !== whole) {
          assert.ok(name.length >= MAX_NAME && name.length <= MAX_NAME + 3, `cut at ${name.length} of ${whole.length}`);
          assert.ok(characters.slice(0, k - 1).join('').length < MAX_NAME, 'cut at the first character that reaches the cap');
        }
        // The kernel's names (15 bytes) are never cut.
        if (bytes.length <= 16) assert.equal(name, whole);
      }),
      2000,
    );
  });

  it('executableNameFromComm: printable ASCII comes back as it is, with one trailing newline dropped', async (t) => {
    await holds(
      t,
      fc.property(fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: MAX_NAME }), fc.boolean(), (text, newline) => {
        assert.equal(executableNameFromComm(Buffer.from(newline ? `${text}\n` : text, 'latin1')), text);
      }),
      500,
    );
  });

  it('parseCgroupHints: never throws on any text, and a hint is present only in its exact shape', async (t) => {
    const fragments = fc.constantFrom('0', '12', ':', '::', '/', '-', '_', '.', '.scope', '.slice', 'pod', 'kubepods', 'docker-', 'a', 'f', 'A', 'g', '\n', '\r', '\0', 'é', '\ud800', 'e2cfcbd899a80c4748c054e179036c23', 'e2cfcbd899a80c4748c054e179036c23e2cfcbd899a80c4748c054e179036c23', '0123abcd-0123-4567-89ab-0123456789ab', '0123abcd_0123_4567_89ab_0123456789ab');
    await holds(
      t,
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 400 }), fc.string({ unit: fragments, maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 200 })), (text) => {
        const hints = parseCgroupHints(text);
        assert.deepEqual(Object.keys(hints).filter((k) => k !== 'containerId' && k !== 'podUid'), []);
        if (hints.containerId !== undefined) assert.match(hints.containerId, CONTAINER_ID_SHAPE);
        if (hints.podUid !== undefined) assert.match(hints.podUid, POD_UID_SHAPE);
      }),
      2000,
    );
  });

  it('parseCgroupHints: the paths docker, containerd, CRI-O, podman and the kubelet write give back their id and pod uid', async (t) => {
    await holds(
      t,
      fc.property(cgroupLine, fc.shuffledSubarray(hostCgroupLines), fc.nat(), fc.boolean(), ({ line, hints }, host, at, newline) => {
        const lines = [...host];
        lines.splice(at % (lines.length + 1), 0, line);
        assert.deepStrictEqual(parseCgroupHints(`${lines.join('\n')}${newline ? '\n' : ''}`), hints);
      }),
      1000,
    );
  });

  it('parseCgroupHints: an id or uid a character off gives no hint', async (t) => {
    const broken = (value: string, which: number, how: number): string => {
      const i = which % value.length;
      return [value.slice(0, -1), `${value}0`, `${value.slice(0, i)}${value[i]!.toUpperCase() === value[i] ? 'G' : value[i]!.toUpperCase()}${value.slice(i + 1)}`, `${value.slice(0, i)}g${value.slice(i + 1)}`][how % 4]!;
    };
    await holds(
      t,
      fc.property(cgroupLine, fc.nat(), fc.nat(), fc.boolean(), fc.boolean(), ({ line, hints }, which, how, breakId, breakUid) => {
        let text = line;
        const expected: { containerId?: string; podUid?: string } = { ...hints };
        if (breakId && hints.containerId !== undefined) {
          text = text.replace(hints.containerId, broken(hints.containerId, which, how));
          delete expected.containerId;
        }
        if (breakUid && hints.podUid !== undefined) {
          // systemd slices spell the uid with underscores
          const written = text.includes(hints.podUid) ? hints.podUid : hints.podUid.replace(/-/g, '_');
          text = text.replace(written, broken(written, which, how));
          delete expected.podUid;
        }
        assert.deepStrictEqual(parseCgroupHints(text), expected, text);
      }),
      1000,
    );
  });

  it('socketInodeOfLink / netnsInodeOfLink: N comes back from socket:[N] and net:[N], each only from its own kind', async (t) => {
    await holds(
      t,
      fc.property(INODE, (n) => {
        assert.equal(socketInodeOfLink(`socket:[${n}]`), n);
        assert.equal(netnsInodeOfLink(`net:[${n}]`), n);
        assert.equal(socketInodeOfLink(`net:[${n}]`), undefined);
        assert.equal(netnsInodeOfLink(`socket:[${n}]`), undefined);
      }),
      500,
    );
  });

  it('socketInodeOfLink / netnsInodeOfLink: never throw, and give nothing unless the target is exactly the link', async (t) => {
    const exactly = (target: string, type: string, inode: number | undefined): void => {
      if (inode === undefined) return;
      assert.ok(Number.isSafeInteger(inode) && inode >= 0, `${inode}`);
      const digits = target.slice(type.length + 2, -1);
      assert.ok(target.startsWith(`${type}:[`) && target.endsWith(']') && /^[0-9]{1,15}$/.test(digits) && Number(digits) === inode, `${JSON.stringify(target)} gave ${inode}`);
    };
    await holds(
      t,
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), linkLike, nearMissLink('socket'), nearMissLink('net')), (target) => {
        exactly(target, 'socket', socketInodeOfLink(target));
        exactly(target, 'net', netnsInodeOfLink(target));
      }),
      2000,
    );
    await holds(
      t,
      fc.property(nearMissLink('socket'), nearMissLink('net'), (socketMiss, netMiss) => {
        assert.equal(socketInodeOfLink(socketMiss), undefined, socketMiss);
        assert.equal(netnsInodeOfLink(netMiss), undefined, netMiss);
      }),
      1000,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Configuration

const NAME_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-'.split('');
const listenerName = fc.string({ unit: fc.constantFrom(...NAME_CHARS), minLength: 1, maxLength: 64 });
const space = fc.constantFrom('', ' ', '  ', '\t');

/** Valid UDP_LISTENER_PORTS values: disjoint single ports and ranges, unique names, loose spacing. */
const validPortList = fc
  .uniqueArray(fc.integer({ min: 1, max: 65535 }), { minLength: 1, maxLength: 24 })
  .chain((bounds) => {
    const sorted = [...bounds].sort((a, b) => a - b);
    return fc.tuple(fc.constant(sorted), fc.array(fc.boolean(), { minLength: sorted.length, maxLength: sorted.length }), fc.uniqueArray(listenerName, { minLength: sorted.length, maxLength: sorted.length }), fc.array(fc.tuple(fc.boolean(), space, space), { minLength: sorted.length, maxLength: sorted.length }));
  })
  .map(([sorted, pairUp, names, decoration]) => {
    const entries: { low: number; high: number; name?: string }[] = [];
    for (let i = 0; i < sorted.length; i++) {
      const [named] = decoration[i]!;
      const range = pairUp[i]! && i + 1 < sorted.length;
      const entry = { low: sorted[i]!, high: range ? sorted[i + 1]! : sorted[i]!, ...(named ? { name: names[i]! } : {}) };
      entries.push(entry);
      if (range) i++;
    }
    return entries;
  })
  .chain((entries) => fc.tuple(fc.constant(entries), fc.shuffledSubarray(entries, { minLength: entries.length, maxLength: entries.length }), fc.array(fc.tuple(space, space), { minLength: entries.length, maxLength: entries.length })))
  .map(([entries, shuffled, spaces]) => ({
    entries,
    text: shuffled
      .map((e, i) => `${spaces[i]![0]}${e.name === undefined ? '' : `${e.name}=`}${e.low === e.high ? e.low : `${e.low}-${e.high}`}${spaces[i]![1]}`)
      .join(','),
  }));

/** Writes ports back as the user would: consecutive ports with one name folded into a range. */
function formatPortList(ports: readonly WatchedPort[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ports.length; ) {
    let j = i;
    while (j + 1 < ports.length && ports[j + 1]!.port === ports[j]!.port + 1 && ports[j + 1]!.name === ports[i]!.name && ports[i]!.name !== undefined) j++;
    const range = j === i ? `${ports[i]!.port}` : `${ports[i]!.port}-${ports[j]!.port}`;
    parts.push(ports[i]!.name === undefined ? range : `${ports[i]!.name}=${range}`);
    i = j + 1;
  }
  return parts.join(',');
}

function assertAcceptedPorts(ports: readonly WatchedPort[]): void {
  for (let i = 0; i < ports.length; i++) {
    const { port, name } = ports[i]!;
    assert.ok(Number.isInteger(port) && port >= 1 && port <= 65535, `port ${port}`);
    if (i > 0) assert.ok(port > ports[i - 1]!.port, 'sorted, each port once');
    if (name !== undefined) assert.match(name, /^[A-Za-z0-9_.-]{1,64}$/);
  }
  assert.deepStrictEqual(parsePortList(formatPortList(ports), 'V'), ports, 'round trip');
}

function assertWellFormedConfigError(error: unknown, env: Readonly<Record<string, string>>): void {
  if (!(error instanceof ConfigError)) throw new Error(`escaped: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  assert.ok(Object.hasOwn(env, error.variable), `names ${error.variable}, which was not set`);
  assert.ok(env[error.variable]!.includes(error.token) || error.token === env[error.variable]!.trim(), `token ${JSON.stringify(error.token)} is not from the value`);
  assert.ok(error.message.startsWith(`${error.variable}: ${JSON.stringify(error.token)}: `), error.message);
  assert.ok(!error.message.includes('\n'), error.message);
}

const PORT_LIST_CHARS = fc.constantFrom(...'0123456789,,,--==  ab_.'.split(''), '\t', '\n', '\0', '"', 'é', '\u{1F600}', '65535', '65536', '0', '99999999999999999999');

describe('configuration parser, properties', () => {
  it('parsePortList: every valid list is accepted as written, in range, sorted, and round-trips', async (t) => {
    await holds(
      t,
      fc.property(validPortList, ({ entries, text }) => {
        const ports = parsePortList(text, 'UDP_LISTENER_PORTS');
        const expected = entries.flatMap((e) => Array.from({ length: e.high - e.low + 1 }, (_, k) => (e.name === undefined ? { port: e.low + k } : { port: e.low + k, name: e.name })));
        assert.deepStrictEqual(ports, expected.sort((a, b) => a.port - b.port));
        assertAcceptedPorts(ports);
      }),
      300,
    );
  });

  it('parsePortList: any text is accepted consistently or refused naming the variable and the token', async (t) => {
    await holds(
      t,
      fc.property(fc.array(PORT_LIST_CHARS, { maxLength: 30 }).map((parts) => parts.join('')), (text) => {
        let ports: WatchedPort[];
        try {
          ports = parsePortList(text, 'UDP_LISTENER_PORTS');
        } catch (error) {
          assertWellFormedConfigError(error, { UDP_LISTENER_PORTS: text });
          return;
        }
        assertAcceptedPorts(ports);
      }),
      1000,
    );
  });

  const variableNames = fc.constantFrom(...CONFIG_VARIABLES, 'UDP_LISTENER_PORT', 'UDP_LISTENER_TIMEOUT', 'PATH', 'OTEL_SERVICE_NAME', 'udp_listener_ports', 'UDP_LISTNER_PORTS', 'OTEL_LOG_LEVLE');
  const values = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom('', ' ', '0', '1', '65535', '65536', '500ms', '5s', '1m', '2m', '9ms', 'debug', 'ALL', '/', '/proc', `${REAL}`, '127.0.0.1', 'syslog=514', '1-65535'),
  );

  it('loadConfig: any environment gives a consistent Config or one ConfigError naming a set variable and its token', async (t) => {
    await holds(
      t,
      fc.property(fc.dictionary(variableNames, values, { maxKeys: 6 }), (env) => {
        let config: Config;
        try {
          config = loadConfig(env);
        } catch (error) {
          assertWellFormedConfigError(error, env);
          return;
        }
        assertAcceptedPorts(config.ports);
        assert.ok(config.discoveryLimit >= 1 && config.discoveryLimit <= 65535);
        assert.ok(config.collectionTimeoutMs >= 10 && config.collectionTimeoutMs <= 60_000);
        assert.ok(config.prometheus.port >= 0 && config.prometheus.port <= 65535);
        assert.ok(['none', 'error', 'warn', 'info', 'debug'].includes(config.logLevel));
        // Exactly the names the environment has that are not read but resemble one that is.
        for (const { variable, resembles } of config.warnings) {
          assert.ok(variable in env && !CONFIG_VARIABLES.includes(variable) && CONFIG_VARIABLES.includes(resembles), variable);
        }
        const nearMisses = ['udp_listener_ports', 'UDP_LISTNER_PORTS', 'OTEL_LOG_LEVLE'].filter((name) => name in env);
        assert.deepEqual(config.warnings.map((w) => w.variable).sort(), nearMisses.sort());
      }),
      600,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Label safety

describe('label safety, properties', () => {
  const tools = { promtool: findTool('promtool'), python: pythonParserAvailable() };
  /**
   * The real parsers the page must satisfy. CI has both and fails without them. Locally a missing
   * one leaves the test to check with what is installed and then marks it skipped, so a partial
   * check never passes as a full one; the skip comes last because node:test does not count a
   * failure after t.skip() as a failure.
   */
  const requireParsers = (): ((t: TestContext) => void) => {
    const missing = [
      ...(tools.promtool === undefined ? ['promtool (apt-get install -y prometheus)'] : []),
      ...(tools.python ? [] : [`${DEBIAN_PYTHON} with prometheus_client (apt-get install -y python3-prometheus-client)`]),
    ].join(' and ');
    if (missing === '') return () => {};
    if (process.env.CI === 'true') throw new Error(`CI needs ${missing}`);
    return (t) => t.skip(`${missing} not installed: checked only with what is; skipped locally, required in CI`);
  };

  const hostileString = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 24 }),
    fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\r', '\t', '\0', '{', '}', '=', ',', ' ', '#', 'a', 'é', '\u2028', '\ud800'), maxLength: 16 }),
    fc.uint8Array({ maxLength: 15 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
  );

  it('any label value comes back intact through the serializer, promtool and prometheus_client', async (t) => {
    const skipIfMissing = requireParsers();
    const labels = fc.constantFrom(ATTR_LISTENER_NAME, ATTR_FILE_PATH, ATTR_ERROR_TYPE, ATTR_PROCESS_EXECUTABLE_NAME);
    await holds(
      t,
      fc.asyncProperty(fc.array(fc.tuple(labels, hostileString), { minLength: 1, maxLength: 24 }), async (pairs) => {
        await checkLabelValues(pairs, tools);
      }),
      40,
    );
    skipIfMissing(t);
  });

  it('any bytes a process names itself with give a page promtool and prometheus_client read, the name as executableNameFromComm renders it', async (t) => {
    const skipIfMissing = requireParsers();
    const seen = new Set<number>();
    let invalidUtf8 = 0;
    await holds(
      t,
      // The production path: <pid>/comm's bytes, through executableNameFromComm, into the label.
      fc.asyncProperty(fc.array(commBytes(64), { minLength: 1, maxLength: 24 }), async (names) => {
        for (const bytes of names) {
          for (const byte of bytes) seen.add(byte);
          if (!isUtf8(bytes)) invalidUtf8++;
        }
        await checkLabelValues(names.map((bytes) => [ATTR_PROCESS_EXECUTABLE_NAME, executableNameFromComm(bytes)] as const), tools);
      }),
      40,
    );
    // The names tried held what breaks a page: newline, quote, backslash, braces, invalid UTF-8.
    for (const byte of [0x0a, 0x22, 0x5c, 0x7b, 0x7d]) assert.ok(seen.has(byte), `no name held byte 0x${byte.toString(16)}`);
    assert.ok(invalidUtf8 > 0, 'no name was invalid UTF-8');
    t.diagnostic(`${seen.size} distinct bytes, ${invalidUtf8} names of invalid UTF-8`);
    skipIfMissing(t);
  });

  it('any port list the configuration accepts gives a page promtool and prometheus_client read, names intact', async (t) => {
    const skipIfMissing = requireParsers();
    await holds(
      t,
      fc.asyncProperty(validPortList, async ({ text }) => {
        const ports = parsePortList(text, 'UDP_LISTENER_PORTS');
        fc.pre(ports.length <= 2000);
        const service = await startService({ UDP_LISTENER_PORTS: text, HOST_PROC: REAL });
        try {
          const page = await (await fetch(`${service.baseUrl}/metrics`)).text();
          if (tools.promtool !== undefined) promtoolLint(tools.promtool, page);
          if (tools.python) parseWithPrometheusClient(page);
          const up = parseExposition(page).samples.filter((s) => s.name === 'udp_listener_up');
          assert.deepStrictEqual(
            up.map((s) => ({ port: Number(s.labels[ATTR_PORT.replace(/\./g, '_')]), name: s.labels[ATTR_LISTENER_NAME.replace(/\./g, '_')] })),
            ports.map((p) => ({ port: p.port, name: p.name })),
          );
        } finally {
          await service.stop();
        }
      }),
      4,
    );
    skipIfMissing(t);
  });
});

describe('property totals', () => {
  it('prints how many inputs the properties above tried', (t) => {
    t.diagnostic(`fast-check totals: ${totals.properties} properties, ${totals.runs} runs, ${totals.tried} inputs tried`);
    assert.ok(totals.runs > 0);
  });
});
