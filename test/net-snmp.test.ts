import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ProcFormatError, quoteToken } from '../src/procfs/errors.js';
import { parseNetSnmp, parseNetSnmp6, requireUdpColumns } from '../src/procfs/net-snmp.js';
import { FIXTURES } from './support/paths.js';

const snmp = readFileSync(`${FIXTURES}procfs/real/1/net/snmp`, 'latin1');
const snmp6 = readFileSync(`${FIXTURES}procfs/real/1/net/snmp6`, 'latin1');

describe('parseNetSnmp on the file captured from a real machine', () => {
  it('maps every protocol line by header name', () => {
    const table = parseNetSnmp(snmp, 'snmp');
    assert.deepEqual([...table.keys()], ['Ip', 'Icmp', 'IcmpMsg', 'Tcp', 'Udp', 'UdpLite']);
    assert.deepEqual(Object.fromEntries(table.get('Udp')!), {
      InDatagrams: 69, NoPorts: 0, InErrors: 194, OutDatagrams: 271, RcvbufErrors: 194, SndbufErrors: 0, InCsumErrors: 0, IgnoredMulti: 0, MemErrors: 0,
    });
    assert.equal(table.get('Tcp')!.get('MaxConn'), -1);
  });

  it('takes the columns an older kernel has, whatever their order', () => {
    const old = 'Udp: NoPorts InDatagrams InErrors OutDatagrams\nUdp: 1 2 3 4\n';
    assert.deepEqual(Object.fromEntries(parseNetSnmp(old, 'f').get('Udp')!), { NoPorts: 1, InDatagrams: 2, InErrors: 3, OutDatagrams: 4 });
  });

  it('joins the pairs IcmpMsg is printed in, 16 columns to a pair (net/ipv4/proc.c icmpmsg_put)', () => {
    const types = Array.from({ length: 18 }, (_, i) => `InType${i}`);
    const text =
      `IcmpMsg: ${types.slice(0, 16).join(' ')}\nIcmpMsg: ${types.slice(0, 16).map((_, i) => i + 1).join(' ')}\n` +
      `IcmpMsg: InType16 InType17\nIcmpMsg: 17 18\nUdp: InDatagrams\nUdp: 5\n`;
    const table = parseNetSnmp(text, 'f');
    assert.deepEqual([...table.keys()], ['IcmpMsg', 'Udp']);
    assert.deepEqual([...table.get('IcmpMsg')!], types.map((type, i) => [type, i + 1]));
  });

  // The captured file: 12 lines, the Udp header on line 9 and its values on line 10.
  const lines = snmp.split('\n');
  const UDP_HEADER = 8;
  assert.ok(lines[UDP_HEADER]!.startsWith('Udp: InDatagrams ') && lines.length === 13);
  const withUdpValues = (edit: (line: string) => string): string => lines.map((l, i) => (i === UDP_HEADER + 1 ? edit(l) : l)).join('\n');
  const broken: BrokenCase[] = [
    ['empty file', '', 0, 'file', ''],
    ['cut short', snmp.slice(0, -3), 12, 'end of line', 'UdpLite: 0 0 0 0 0 0 0 0'],
    ['a values line missing', [...lines.slice(0, UDP_HEADER + 1), ...lines.slice(UDP_HEADER + 2)].join('\n'), 10, 'protocol', 'UdpLite:'],
    ['a header line without values at the end', `${snmp}Sctp: InDatagrams\n`, 13, 'values', 'Sctp: InDatagrams'],
    ['a value missing', withUdpValues((l) => l.replace(/ \d+$/, '')), 10, 'Udp:', 'Udp: 69 0 194 271 194 0 0 0'],
    ['a non-number value', withUdpValues((l) => l.replace(/^Udp: \d+/, 'Udp: 1e9')), 10, 'InDatagrams', '1e9'],
    ['a value beyond 2^53', withUdpValues((l) => l.replace(/^Udp: \d+/, 'Udp: 18446744073709551615')), 10, 'InDatagrams', '18446744073709551615'],
    ['CRLF line ends', snmp.replace(/\n/g, '\r\n'), 1, 'line', `${lines[0]}\r`],
    ['a NUL byte', snmp.replace('Udp: In', 'Udp:\0In'), 9, 'line', 'Udp:\0InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors'],
    // A header the kernel did not write is not an older kernel's: the counter would quietly vanish.
    ['a column name no kernel writes', snmp.replace('Udp: InDatagrams', 'Udp: In-atagrams'), 9, 'column', 'In-atagrams'],
    ['an empty column name (a doubled space)', snmp.replace('Udp: InDatagrams NoPorts', 'Udp: InDatagrams  NoPorts'), 9, 'column', ''],
    ['a column named twice', snmp.replace('Udp: InDatagrams NoPorts', 'Udp: InDatagrams InDatagrams'), 9, 'column', 'InDatagrams'],
    ['a column named again in the next pair of its protocol', `${snmp}UdpLite: NoPorts\nUdpLite: 5\n`, 13, 'column', 'NoPorts'],
    ['a protocol listed again after another', `${snmp}Udp: Other\nUdp: 5\n`, 13, 'protocol', 'Udp:'],
    ['a negative counter other than -1', withUdpValues((l) => l.replace(/^Udp: \d+/, 'Udp: -3576')), 10, 'InDatagrams', '-3576'],
    ['minus zero', withUdpValues((l) => l.replace(/^Udp: \d+/, 'Udp: -0')), 10, 'InDatagrams', '-0'],
  ];
  for (const [name, text, line, field, token] of broken) {
    it(`refuses ${name}, naming file, line ${line}, field ${field} and token`, () => {
      assert.throws(() => parseNetSnmp(text, '/p/snmp'), refusal('/p/snmp', line, field, token));
    });
  }
});

/** [case, text, line, field, token]: line 0 is the file as a whole. */
type BrokenCase = [string, string, number, string, string];

function refusal(file: string, line: number, field: string, token: string): (error: unknown) => true {
  return (error) => {
    assert.ok(error instanceof ProcFormatError, String(error));
    assert.equal(error.file, file);
    assert.equal(error.line, line, error.message);
    assert.equal(error.field, field, error.message);
    assert.equal(error.token, token, error.message);
    assert.ok(error.message.startsWith(`${line > 0 ? `${file}:${line}` : file}: field ${field}: `), error.message);
    assert.ok(error.message.endsWith(`(got ${quoteToken(token)})`), error.message);
    return true;
  };
}

describe('parseNetSnmp6 on the file captured from a real machine', () => {
  it('reads every counter, tab-separated as the kernel writes them', () => {
    const counters = parseNetSnmp6(snmp6, 'snmp6');
    assert.equal(counters.size, snmp6.trim().split('\n').length);
    for (const name of ['InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams', 'RcvbufErrors', 'SndbufErrors', 'InCsumErrors']) {
      assert.equal(typeof counters.get(`Udp6${name}`), 'number', name);
    }
  });

  // The captured file: 90 lines, Udp6NoPorts on line 75, UdpLite6MemErrors last.
  const broken: BrokenCase[] = [
    ['empty file', '', 0, 'file', ''],
    ['cut short', snmp6.slice(0, -1), 90, 'end of line', 'UdpLite6MemErrors               \t0'],
    ['a line without a value', snmp6.replace(/(Udp6NoPorts)\s+\d+/, '$1'), 75, 'line', 'Udp6NoPorts'],
    ['a non-number value', snmp6.replace(/(Udp6NoPorts\s+)\d+/, '$1many'), 75, 'Udp6NoPorts', 'many'],
    ['a value beyond 2^53', snmp6.replace(/(Udp6NoPorts\s+)\d+/, '$19007199254740992'), 75, 'Udp6NoPorts', '9007199254740992'],
    ['a NUL byte', snmp6.replace('Udp6NoPorts', 'Udp6\0NoPorts'), 75, 'line', 'Udp6\0NoPorts                     \t0'],
    ['a counter named twice', `${snmp6}Udp6NoPorts\t5\n`, 91, 'name', 'Udp6NoPorts'],
    ['-1, which only snmp has (Tcp MaxConn)', snmp6.replace(/(Udp6NoPorts\s+)\d+/, '$1-1'), 75, 'Udp6NoPorts', '-1'],
  ];
  for (const [name, text, line, field, token] of broken) {
    it(`refuses ${name}, naming file, line ${line}, field ${field} and token`, () => {
      assert.throws(() => parseNetSnmp6(text, '/p/snmp6'), refusal('/p/snmp6', line, field, token));
    });
  }
});

describe('requireUdpColumns: the six UDP counters of every kernel since 2.6.18', () => {
  const udpOf = (text: string): ReadonlyMap<string, number> => parseNetSnmp(text, 'snmp').get('Udp')!;
  const six = 'Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 1 2 3 4 5 6\n';

  it('accepts the captured file and a 2.6.18 header, later columns being optional', () => {
    assert.equal(requireUdpColumns(udpOf(snmp), 'snmp', 'Udp', '').get('NoPorts'), 0);
    assert.equal(requireUdpColumns(udpOf(six), 'snmp', 'Udp', '').get('SndbufErrors'), 6);
  });

  const cases: [string, string, string, string][] = [
    ['NoPorts misspelt', six.replace('NoPorts', 'NoPort'), 'no NoPorts counter', 'InDatagrams NoPort InErrors OutDatagrams RcvbufErrors SndbufErrors'],
    ['only the first four (a kernel before 2.6.18, or a cut header)', 'Udp: InDatagrams NoPorts InErrors OutDatagrams\nUdp: 1 2 3 4\n', 'no RcvbufErrors counter', 'InDatagrams NoPorts InErrors OutDatagrams'],
    ['a differently cased name', six.replace('RcvbufErrors', 'RcvBufErrors'), 'no RcvbufErrors counter', 'InDatagrams NoPorts InErrors OutDatagrams RcvBufErrors SndbufErrors'],
  ];
  for (const [name, text, problem, present] of cases) {
    it(`refuses ${name}, naming the counter and showing what the file has`, () => {
      assert.throws(
        () => requireUdpColumns(udpOf(text), '/p/snmp', 'Udp', ''),
        (error) => {
          assert.ok(error instanceof ProcFormatError);
          assert.equal(error.field, 'Udp');
          assert.equal(error.token, present);
          assert.match(error.message, new RegExp(`^/p/snmp: field Udp: ${problem}, which every kernel since 2\\.6\\.18 writes`));
          return true;
        },
      );
    });
  }

  it('names snmp6 counters with their Udp6 prefix', () => {
    const udp6 = new Map([...parseNetSnmp6(snmp6, 'snmp6')].filter(([n]) => n.startsWith('Udp6') && n !== 'Udp6NoPorts').map(([n, v]) => [n.slice(4), v]));
    assert.throws(() => requireUdpColumns(udp6, '/p/snmp6', 'Udp6', 'Udp6'), /^ProcFormatError: \/p\/snmp6: field Udp6: no Udp6NoPorts counter, which every kernel since 2\.6\.18 writes \(got "Udp6InDatagrams Udp6InErrors/);
  });
});
