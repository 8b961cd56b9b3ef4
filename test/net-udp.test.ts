import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ProcFormatError, quoteToken } from '../src/procfs/errors.js';
import { formatIpv6, parseNetUdp, type IpFamily, type UdpSocket } from '../src/procfs/net-udp.js';
import { FIXTURES } from './support/paths.js';

// Captured by test/fixtures/capture-procfs.py on x86-64 (little-endian); SOCKETS lists what was open.
const REAL = path.join(FIXTURES, 'procfs', 'real', '1', 'net');
const udp4Text = readFileSync(path.join(REAL, 'udp'), 'latin1');
const udp6Text = readFileSync(path.join(REAL, 'udp6'), 'latin1');

function parse(text: string, family: IpFamily = 'ipv4', include?: (port: number, state: number) => boolean): UdpSocket[] {
  return parseNetUdp(Buffer.from(text, 'latin1'), { file: `/fixture/${family}`, family, byteOrder: 'LE', ...(include ? { include } : {}) });
}

function socket(fields: Partial<UdpSocket> & Pick<UdpSocket, 'localAddress' | 'localPort' | 'inode'>): UdpSocket {
  return {
    family: fields.localAddress.includes(':') ? 'ipv6' : 'ipv4',
    remoteAddress: fields.localAddress.includes(':') ? '::' : '0.0.0.0',
    remotePort: 0,
    state: 0x07,
    txQueueBytes: 0,
    rxQueueBytes: 0,
    uid: 0,
    drops: 0,
    ...fields,
  };
}

describe('parseNetUdp on files captured from a real machine', () => {
  it('decodes every IPv4 socket: listeners, reuseport pair, connected and unconnected clients, a full queue', () => {
    assert.deepEqual(parse(udp4Text), [
      socket({ localAddress: '127.0.0.1', localPort: 51846, remoteAddress: '127.0.0.1', remotePort: 6984, state: 0x01, inode: 5056 }),
      socket({ localAddress: '0.0.0.0', localPort: 6984, rxQueueBytes: 0x340, inode: 5047 }),
      socket({ localAddress: '127.0.0.1', localPort: 6985, rxQueueBytes: 0x1e00, inode: 5059, drops: 194 }),
      socket({ localAddress: '0.0.0.0', localPort: 9000, inode: 5054 }),
      socket({ localAddress: '0.0.0.0', localPort: 9000, inode: 5053 }),
      socket({ localAddress: '0.0.0.0', localPort: 61812, inode: 5055 }),
      socket({ localAddress: '0.0.0.0', localPort: 46616, inode: 5058 }),
      socket({ localAddress: '127.0.0.1', localPort: 514, inode: 5048 }),
    ]);
  });

  it('decodes every IPv6 socket: v4-mapped, loopback, connected, v6-only and dual-stack wildcard', () => {
    assert.deepEqual(parse(udp6Text, 'ipv6'), [
      socket({ localAddress: '::ffff:127.0.0.1', localPort: 1514, inode: 5052 }),
      socket({ localAddress: '::1', localPort: 2055, inode: 5051 }),
      socket({ localAddress: '::1', localPort: 52672, remoteAddress: '::1', remotePort: 2055, state: 0x01, inode: 5057 }),
      socket({ localAddress: '::', localPort: 5140, inode: 5049 }),
      socket({ localAddress: '::', localPort: 8125, inode: 5050 }),
    ]);
  });

  it('hands only wanted lines to the caller, judged by exact port number and state', () => {
    const ports = parse(udp4Text, 'ipv4', (port, state) => state === 0x07 && (port === 618 || port === 6984)).map((s) => s.localPort);
    assert.deepEqual(ports, [6984]);
  });

  it('accepts a header with no sockets, and tolerates columns a newer kernel might append', () => {
    assert.deepEqual(parse(udp4Text.split('\n')[0] + '\n'), []);
    const extended = udp4Text.replace(/\n(?!$)/g, ' 42\n').replace(/ 42\n/, '\n');
    assert.equal(parse(extended).length, 8);
  });

  it('reads big-endian files (addresses printed as host-order words)', () => {
    const line = '   0: 7F000001:0202 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 0\n';
    const [parsed] = parseNetUdp(Buffer.from(udp4Text.split('\n')[0] + '\n' + line), { file: 'f', family: 'ipv4', byteOrder: 'BE' });
    assert.equal(parsed?.localAddress, '127.0.0.1');
  });
});

interface BrokenCase {
  readonly name: string;
  readonly family?: IpFamily;
  readonly text: string;
  readonly line: number;
  readonly field: string;
  /** The raw token the error must carry (and quote in its message). */
  readonly token: string;
}

const [header4, first4 = '', second4 = ''] = udp4Text.split('\n');
const lines6 = udp6Text.split('\n');

/** Broken variants of the real files: each must be refused, naming line, field and token. */
const BROKEN: readonly BrokenCase[] = [
  { name: 'empty file', text: '', line: 1, field: 'header', token: '' },
  { name: 'header missing', text: `${first4}\n`, line: 1, field: 'header', token: first4 },
  { name: 'cut short in the middle of a line', text: udp4Text.slice(0, udp4Text.length - 30), line: 9, field: 'end of line', token: '15855: 0100007F:0202 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5048 2' },
  { name: 'line without its last columns', text: `${header4}\n${first4.slice(0, 60)}\n`, line: 2, field: 'retrnsmt', token: ' 1651: 0100007F:CA86 0100007F:1B48 01 00000000:00000000 00:0' },
  { name: 'missing column', text: `${header4}\n${first4.replace(' 01 ', ' ')}\n`, line: 2, field: 'drops', token: ' 1651: 0100007F:CA86 0100007F:1B48 00000000:00000000 00:00000000 00000000     0        0 5056 2 000000006bb963b3 0          ' },
  { name: 'garbage hex in a port', text: `${header4}\n${first4}\n${second4.replace(':1B48', ':1G48')}\n`, line: 3, field: 'local_address', token: '1G48' },
  { name: 'garbage hex in an address', text: `${header4}\n${second4.replace('00000000:1B48', '0000X000:1B48')}\n`, line: 2, field: 'local_address', token: '0000X000' },
  { name: 'garbage in the state', text: `${header4}\n${second4.replace(' 07 ', ' 0Z ')}\n`, line: 2, field: 'st', token: '0Z' },
  { name: 'garbage in the queues', text: `${header4}\n${second4.replace('00000000:00000340', '00000000-00000340')}\n`, line: 2, field: 'tx_queue:rx_queue', token: '00000000-00000340' },
  { name: 'non-decimal drops', text: `${header4}\n${second4.replace(/ 0\s*$/, ' 1e3')}\n`, line: 2, field: 'drops', token: '1e3' },
  { name: 'inode too long to be exact', text: `${header4}\n${second4.replace(' 5047 ', ' 12345678901234567890 ')}\n`, line: 2, field: 'inode', token: '12345678901234567890' },
  { name: 'CRLF line ends', text: udp4Text.replace(/\n/g, '\r\n'), line: 2, field: 'drops', token: '\r' },
  { name: 'CR on a socket line', text: `${header4}\n${second4}\r\n`, line: 2, field: 'drops', token: '\r' },
  { name: 'NUL byte in a line', text: `${header4}\n${second4.replace(' 07 ', ' 0\0 ')}\n`, line: 2, field: 'st', token: '0\0' },
  { name: 'IPv6 address in the IPv4 file', text: `${header4}\n${lines6[1]}\n`, line: 2, field: 'local_address', token: '0000000000000000FFFF00000100007F:05EA' },
  { name: 'IPv4 address in the IPv6 file', family: 'ipv6', text: `${lines6[0]}\n${second4}\n`, line: 2, field: 'local_address', token: '00000000:1B48' },
  { name: 'port with five hex digits', text: `${header4}\n${second4.replace(':1B48', ':01B48')}\n`, line: 2, field: 'local_address', token: '00000000:01B48' },
  // Columns after drops are tolerated, but not without end: no kernel line is near 4 KiB.
  { name: 'a line of more than 4096 bytes', text: `${header4}\n${second4}${' 0'.repeat(2100)}\n`, line: 2, field: 'sl', token: second4.slice(0, 40) },
];

describe('parseNetUdp on broken variants of the real files', () => {
  for (const broken of BROKEN) {
    it(`refuses: ${broken.name}`, () => {
      assert.throws(
        () => parse(broken.text, broken.family ?? 'ipv4'),
        (error: unknown) => {
          assert.ok(error instanceof ProcFormatError, String(error));
          assert.equal(error.line, broken.line, error.message);
          assert.equal(error.field, broken.field, error.message);
          assert.match(error.message, new RegExp(`^/fixture/${broken.family ?? 'ipv4'}:${broken.line}: field `));
          assert.equal(error.file, `/fixture/${broken.family ?? 'ipv4'}`);
          assert.equal(error.token, broken.token, error.message);
          assert.ok(error.message.endsWith(`(got ${quoteToken(broken.token)})`), error.message);
          return true;
        },
      );
    });
  }

  it('refuses a malformed line even when its port is not wanted', () => {
    const text = `${header4}\n${second4.replace(' 07 ', ' 0Z ')}\n`;
    assert.throws(() => parse(text, 'ipv4', () => false), ProcFormatError);
  });
});

describe('formatIpv6', () => {
  const cases: [number[], string][] = [
    [[0, 0, 0, 0], '::'],
    [[0, 0, 0, 1], '::1'],
    [[0x20010db8, 0, 0, 1], '2001:db8::1'],
    [[0x20010db8, 0x00000001, 0x00000001, 0x00010001], '2001:db8:0:1:0:1:1:1'],
    [[0x20010db8, 0, 0x00010000, 0], '2001:db8:0:0:1::'],
    [[0x20010db8, 0, 0x00010000, 1], '2001:db8::1:0:0:1'],
    [[0xfe800000, 0, 0x02000000, 0x00000001], 'fe80::200:0:0:1'],
    [[0, 0, 0xffff, 0xc0000201], '::ffff:192.0.2.1'],
  ];
  for (const [words, text] of cases) it(`${text}`, () => assert.equal(formatIpv6(words), text));
});
