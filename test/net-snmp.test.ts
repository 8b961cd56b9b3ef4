import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ProcFormatError } from '../src/procfs/errors.js';
import { parseNetSnmp, parseNetSnmp6 } from '../src/procfs/net-snmp.js';
import { FIXTURES } from './support/paths.js';

const snmp = readFileSync(`${FIXTURES}procfs/real/1/net/snmp`, 'latin1');
const snmp6 = readFileSync(`${FIXTURES}procfs/real/1/net/snmp6`, 'latin1');

describe('parseNetSnmp on the file captured from a real machine', () => {
  it('maps every protocol line by header name', () => {
    const table = parseNetSnmp(snmp, 'snmp');
    assert.deepEqual([...table.keys()], ['Ip', 'Icmp', 'IcmpMsg', 'Tcp', 'Udp', 'UdpLite'].filter((p) => snmp.includes(`\n${p}: `) || snmp.startsWith(`${p}: `)));
    assert.deepEqual(Object.fromEntries(table.get('Udp')!), {
      InDatagrams: 69, NoPorts: 0, InErrors: 194, OutDatagrams: 271, RcvbufErrors: 194, SndbufErrors: 0, InCsumErrors: 0, IgnoredMulti: 0, MemErrors: 0,
    });
    assert.equal(table.get('Tcp')!.get('MaxConn'), -1);
  });

  it('takes the columns an older kernel has, whatever their order', () => {
    const old = 'Udp: NoPorts InDatagrams InErrors OutDatagrams\nUdp: 1 2 3 4\n';
    assert.deepEqual(Object.fromEntries(parseNetSnmp(old, 'f').get('Udp')!), { NoPorts: 1, InDatagrams: 2, InErrors: 3, OutDatagrams: 4 });
  });

  const lines = snmp.split('\n');
  const udpHeader = lines.findIndex((l) => l.startsWith('Udp: In'));
  const broken: [string, string, number, string][] = [
    ['empty file', '', 0, 'file'],
    ['cut short', snmp.slice(0, -3), lines.length - 1, 'end of line'],
    ['a values line missing', [...lines.slice(0, udpHeader + 1), ...lines.slice(udpHeader + 2)].join('\n'), 0, ''],
    ['a value missing', lines.map((l, i) => (i === udpHeader + 1 ? l.replace(/ \d+$/, '') : l)).join('\n'), udpHeader + 2, 'Udp:'],
    ['a non-number value', lines.map((l, i) => (i === udpHeader + 1 ? l.replace(/^Udp: \d+/, 'Udp: 1e9') : l)).join('\n'), udpHeader + 2, 'InDatagrams'],
    ['a value beyond 2^53', lines.map((l, i) => (i === udpHeader + 1 ? l.replace(/^Udp: \d+/, 'Udp: 18446744073709551615') : l)).join('\n'), udpHeader + 2, 'InDatagrams'],
    ['CRLF line ends', snmp.replace(/\n/g, '\r\n'), 1, 'line'],
    ['a NUL byte', snmp.replace('Udp: In', 'Udp:\0In'), udpHeader + 1, 'line'],
  ];
  for (const [name, text, line, field] of broken) {
    it(`refuses ${name}`, () => {
      assert.throws(
        () => parseNetSnmp(text, '/p/snmp'),
        (e: unknown) => e instanceof ProcFormatError && e.file === '/p/snmp' && (line === 0 || e.line === line) && (field === '' || e.field === field),
      );
    });
  }
});

describe('parseNetSnmp6 on the file captured from a real machine', () => {
  it('reads every counter, tab-separated as the kernel writes them', () => {
    const counters = parseNetSnmp6(snmp6, 'snmp6');
    assert.equal(counters.size, snmp6.trim().split('\n').length);
    for (const name of ['InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams', 'RcvbufErrors', 'SndbufErrors', 'InCsumErrors']) {
      assert.equal(typeof counters.get(`Udp6${name}`), 'number', name);
    }
  });

  for (const [name, text] of [
    ['empty file', ''],
    ['cut short', snmp6.slice(0, -1)],
    ['a line without a value', snmp6.replace(/(Udp6NoPorts)\s+\d+/, '$1')],
    ['a non-number value', snmp6.replace(/(Udp6NoPorts\s+)\d+/, '$1many')],
  ] as const) {
    it(`refuses ${name}`, () => assert.throws(() => parseNetSnmp6(text, '/p/snmp6'), ProcFormatError));
  }
});
