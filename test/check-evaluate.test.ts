/**
 * The check's verdict as a pure function of snapshots: one line per case, each a snapshot
 * (or two, for --window) and thresholds, and the status, summary and port facts expected.
 * Then the plugin text itself: perfdata format, hostile process names, errors.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateCheck, PLUGIN_EXIT_CODES, type CheckThresholds, type PluginStatus } from '../src/check/evaluate.js';
import { pluginOutput } from '../src/check/output.js';
import type { NetNamespace } from '../src/collection/namespaces.js';
import type { CollectionFailure } from '../src/collection/snapshot.js';
import type { WatchedPort } from '../src/config/ports.js';
import { snapshot, type SnapshotSpec } from './support/snapshots.js';

const SYSLOG: WatchedPort = { port: 514, name: 'syslog' };
const FILEBEAT: WatchedPort = { port: 6984, name: 'filebeat' };
const PLAIN: WatchedPort = { port: 9000 };
const UDP_EACCES: CollectionFailure = { file: '/proc/1/net/udp', failure: 'EACCES', message: '/proc/1/net/udp: EACCES: permission denied' };
const SNMP_EIO: CollectionFailure = { file: '/proc/1/net/snmp', failure: 'EIO', message: '/proc/1/net/snmp: EIO: i/o error' };
const HOST: NetNamespace = { inode: 4026531840, isHost: true, pids: [1], hints: {} };
const CONTAINER: NetNamespace = { inode: 4026532300, isHost: false, pids: [4242], hints: { containerId: 'a'.repeat(64) } };

interface Case {
  readonly name: string;
  readonly ports: readonly WatchedPort[];
  readonly last: SnapshotSpec;
  /** With --window (10 s): the earlier read. */
  readonly first?: SnapshotSpec;
  readonly thresholds?: CheckThresholds;
  readonly status: PluginStatus;
  readonly summary: string;
  /** Per port: [up, sockets, queue, drops, drops in window]. */
  readonly facts?: readonly (readonly [boolean | null, number | null, number | null, number | null, number | null])[];
}

const CASES: readonly Case[] = [
  {
    name: 'every port listening: OK',
    ports: [SYSLOG, FILEBEAT],
    last: { sockets: [[514, 11, 0, 0], [6984, 12, 768, 5], [6984, 13, 0, 1]] },
    status: 'OK',
    summary: '2 ports have a listener',
    facts: [[true, 1, 0, 0, null], [true, 2, 768, 6, null]],
  },
  {
    name: 'a port without a listener: CRITICAL, naming it and its name',
    ports: [SYSLOG, FILEBEAT, PLAIN],
    last: { sockets: [[6984, 12, 0, 0]] },
    status: 'CRITICAL',
    summary: 'no listener on 514 (syslog), 9000: 1 of 3 ports up',
    facts: [[false, 0, 0, 0, null], [true, 1, 0, 0, null], [false, 0, 0, 0, null]],
  },
  {
    name: 'drops without --window are history, not a warning',
    ports: [FILEBEAT],
    last: { sockets: [[6984, 12, 0, 900]] },
    status: 'OK',
    summary: '1 port has a listener',
  },
  {
    name: '--window: a socket whose counter grew: WARNING with the drops in the window',
    ports: [SYSLOG, FILEBEAT],
    first: { sockets: [[514, 11, 0, 0], [6984, 12, 0, 100]] },
    last: { sockets: [[514, 11, 0, 0], [6984, 12, 0, 130]] },
    status: 'WARNING',
    summary: '6984 (filebeat): 30 drops in 10s',
    facts: [[true, 1, 0, 0, 0], [true, 1, 0, 130, 30]],
  },
  {
    name: '--window: no counter grew: OK, and says so',
    ports: [FILEBEAT],
    first: { sockets: [[6984, 12, 0, 100]] },
    last: { sockets: [[6984, 12, 0, 100]] },
    status: 'OK',
    summary: '1 port has a listener, no drops in 10s',
  },
  {
    name: '--window: a restarted listener (new inode, lower counter) counts all its drops, not a negative difference',
    ports: [FILEBEAT],
    first: { sockets: [[6984, 12, 0, 500]] },
    last: { sockets: [[6984, 99, 0, 7]] },
    status: 'WARNING',
    summary: '6984 (filebeat): 7 drops in 10s',
    facts: [[true, 1, 0, 7, 7]],
  },
  {
    name: '--window: a restart whose new socket has not dropped is OK, however high the old counter was',
    ports: [FILEBEAT],
    first: { sockets: [[6984, 12, 0, 500]] },
    last: { sockets: [[6984, 99, 0, 0]] },
    status: 'OK',
    summary: '1 port has a listener, no drops in 10s',
  },
  {
    name: '--window: sockets pair by inode, so one sibling dropping while another restarts is still seen',
    ports: [PLAIN],
    first: { sockets: [[9000, 21, 0, 50], [9000, 22, 0, 40]] },
    last: { sockets: [[9000, 21, 0, 55], [9000, 23, 0, 0]] },
    status: 'WARNING',
    summary: '9000: 5 drops in 10s',
    facts: [[true, 2, 0, 55, 5]],
  },
  {
    name: '--window: kernel sockets (inode 0) pair by port',
    ports: [PLAIN],
    first: { sockets: [[9000, 0, 0, 10]] },
    last: { sockets: [[9000, 0, 0, 12]] },
    status: 'WARNING',
    summary: '9000: 2 drops in 10s',
  },
  {
    name: '--window: the port lost its listener in between: CRITICAL',
    ports: [SYSLOG],
    first: { sockets: [[514, 11, 0, 0]] },
    last: { sockets: [] },
    status: 'CRITICAL',
    summary: 'no listener on 514 (syslog): 0 of 1 port up',
  },
  {
    name: 'queue above --queue-warning: WARNING; at it: OK',
    ports: [SYSLOG, FILEBEAT],
    last: { sockets: [[514, 11, 1000, 0], [6984, 12, 1001, 0]] },
    thresholds: { queueWarningBytes: 1000 },
    status: 'WARNING',
    summary: '6984 (filebeat): receive queue 1001 B, above 1000 B',
  },
  {
    name: 'queue above --queue-critical: CRITICAL, and the queue sums the port’s sockets',
    ports: [PLAIN],
    last: { sockets: [[9000, 21, 600, 0], [9000, 22, 600, 0]] },
    thresholds: { queueWarningBytes: 500, queueCriticalBytes: 1000 },
    status: 'CRITICAL',
    summary: '9000: receive queue 1200 B, above 1000 B',
  },
  {
    name: 'a missing listener, a full queue and drops together: every one named, worst first',
    ports: [SYSLOG, FILEBEAT, PLAIN],
    first: { sockets: [[6984, 12, 0, 0], [9000, 21, 0, 0]] },
    last: { sockets: [[6984, 12, 0, 4], [9000, 21, 5000, 0]] },
    thresholds: { queueCriticalBytes: 4096 },
    status: 'CRITICAL',
    summary: 'no listener on 514 (syslog): 2 of 3 ports up; 9000: receive queue 5000 B, above 4096 B; 6984 (filebeat): 4 drops in 10s',
  },
  {
    name: 'the socket table could not be read: UNKNOWN, never CRITICAL',
    ports: [SYSLOG],
    last: { sockets: undefined, failures: [UDP_EACCES] },
    status: 'UNKNOWN',
    summary: 'cannot read the socket tables: /proc/1/net/udp: EACCES: permission denied',
    facts: [[null, null, null, null, null]],
  },
  {
    name: 'the earlier read of --window failed: UNKNOWN, never OK',
    ports: [SYSLOG],
    first: { sockets: undefined, failures: [UDP_EACCES] },
    last: { sockets: [[514, 11, 0, 0]] },
    status: 'UNKNOWN',
    summary: 'cannot read the socket tables: /proc/1/net/udp: EACCES: permission denied',
  },
  {
    name: 'no namespace could be listed: UNKNOWN',
    ports: [SYSLOG],
    last: { namespaces: [], failures: [{ file: '/proc/1/ns/net', failure: 'EACCES', message: '/proc/1/ns/net: EACCES' }] },
    status: 'UNKNOWN',
    summary: 'cannot read the socket tables: /proc/1/ns/net: EACCES',
  },
  {
    name: 'a file the check does not use failing (snmp) changes nothing',
    ports: [SYSLOG],
    last: { sockets: [[514, 11, 0, 0]], failures: [SNMP_EIO] },
    status: 'OK',
    summary: '1 port has a listener',
  },
  {
    name: 'UDP_LISTENER_NETNS=all: a listener in a container namespace counts, summed with the host',
    ports: [SYSLOG, FILEBEAT],
    last: {
      namespaces: [
        { namespace: HOST, sockets: [[514, 11, 0, 0]] },
        { namespace: CONTAINER, sockets: [[6984, 31, 100, 2], [514, 32, 0, 1]] },
      ],
    },
    status: 'OK',
    summary: '2 ports have a listener',
    facts: [[true, 2, 0, 1, null], [true, 1, 100, 2, null]],
  },
  {
    name: 'UDP_LISTENER_NETNS=all: one namespace unreadable makes the answer UNKNOWN',
    ports: [SYSLOG],
    last: { namespaces: [{ namespace: HOST, sockets: [] }, { namespace: CONTAINER, sockets: undefined }], failures: [UDP_EACCES] },
    status: 'UNKNOWN',
    summary: 'cannot read the socket tables: /proc/1/net/udp: EACCES: permission denied',
  },
];

describe('evaluateCheck', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const report = evaluateCheck(
        c.ports,
        { last: snapshot(c.last), first: c.first === undefined ? undefined : snapshot(c.first), windowSeconds: c.first === undefined ? undefined : 10 },
        c.thresholds,
      );
      assert.equal(report.status, c.status);
      assert.equal(report.exit_code, PLUGIN_EXIT_CODES[c.status]);
      assert.equal(report.summary, c.summary);
      assert.deepEqual(
        report.ports.map((port) => port.port),
        c.ports.map((port) => port.port),
      );
      if (c.facts !== undefined) {
        assert.deepEqual(
          report.ports.map((port) => [port.up, port.sockets, port.receive_queue_bytes, port.drops, port.drops_in_window]),
          c.facts,
        );
      }
    });
  }

  it('lists each owner once per port, pids and names as read', () => {
    const report = evaluateCheck([PLAIN], {
      last: snapshot({
        sockets: [[9000, 21, 0, 0], [9000, 22, 0, 0]],
        owners: { 21: [{ pid: 7, executableName: 'vector' }], 22: [{ pid: 7, executableName: 'vector' }, { pid: 8, executableName: 'vector' }] },
      }),
    });
    assert.deepEqual(report.ports[0]!.owners, [
      { pid: 7, executable_name: 'vector' },
      { pid: 8, executable_name: 'vector' },
    ]);
    assert.deepEqual(report.owner_lookup, { unresolved_sockets: 0, unreadable_processes: 0 });
  });

  it('names the namespaces of a port with UDP_LISTENER_NETNS=all, and none without', () => {
    const all = evaluateCheck([SYSLOG], { last: snapshot({ namespaces: [{ namespace: HOST, sockets: [] }, { namespace: CONTAINER, sockets: [[514, 32, 0, 1]] }] }) });
    assert.deepEqual(all.ports[0]!.netns, [
      { inode: CONTAINER.inode, host: false, container_id: 'a'.repeat(64), pod_uid: null, sockets: 1, receive_queue_bytes: 0, drops: 1 },
    ]);
    assert.equal(evaluateCheck([SYSLOG], { last: snapshot({ sockets: [[514, 11, 0, 0]] }) }).ports[0]!.netns, null);
  });

  it('reports the files that failed, once each over both reads', () => {
    const report = evaluateCheck([SYSLOG], {
      first: snapshot({ sockets: [[514, 11, 0, 0]], failures: [SNMP_EIO] }),
      last: snapshot({ sockets: [[514, 11, 0, 0]], failures: [SNMP_EIO] }),
      windowSeconds: 1,
    });
    assert.deepEqual(report.errors, [{ source: '/proc/1/net/snmp', error: 'EIO', message: '/proc/1/net/snmp: EIO: i/o error' }]);
  });

  it('has exactly the documented JSON keys', () => {
    const report = evaluateCheck([SYSLOG], { last: snapshot({ sockets: [[514, 11, 0, 0]], owners: {} }) });
    assert.deepEqual(Object.keys(report), ['status', 'exit_code', 'summary', 'window_seconds', 'ports', 'owner_lookup', 'errors']);
    assert.deepEqual(Object.keys(report.ports[0]!), [
      'port',
      'name',
      'status',
      'up',
      'sockets',
      'receive_queue_bytes',
      'drops',
      'drops_in_window',
      'owners',
      'problems',
      'netns',
    ]);
  });
});

describe('plugin output', () => {
  it('is a status line with perfdata, then a line per port', () => {
    const report = evaluateCheck([SYSLOG, PLAIN], {
      first: snapshot({ sockets: [[514, 11, 0, 3]] }),
      last: snapshot({ sockets: [[514, 11, 256, 5]], owners: { 11: [{ pid: 812, executableName: 'rsyslogd' }] } }),
      windowSeconds: 10,
    }, { queueWarningBytes: 1000, queueCriticalBytes: 2000 });
    assert.equal(
      pluginOutput(report, { queueWarningBytes: 1000, queueCriticalBytes: 2000 }),
      [
        "CRITICAL - no listener on 9000: 1 of 2 ports up; 514 (syslog): 2 drops in 10s | 'syslog_514_sockets'=1;;1:;0 'syslog_514_queue'=256B;1000;2000;0 'syslog_514_drops_in_window'=2;0;;0 '9000_sockets'=0;;1:;0 '9000_queue'=0B;1000;2000;0 '9000_drops_in_window'=0;0;;0",
        '514 (syslog): WARNING - 2 drops in 10s; 1 socket, receive queue 256 B, 5 drops (2 in 10s), owner rsyslogd (pid 812)',
        '9000: CRITICAL - no listener',
        '',
      ].join('\n'),
    );
  });

  it('without --window, drops are a counter', () => {
    const report = evaluateCheck([PLAIN], { last: snapshot({ sockets: [[9000, 21, 0, 42]] }) });
    assert.match(pluginOutput(report, {}), /^OK - 1 port has a listener \| '9000_sockets'=1;;1:;0 '9000_queue'=0B;;;0 '9000_drops'=42c;;;0\n9000: OK - 1 socket, receive queue 0 B, 42 drops\n$/);
  });

  it('keeps a hostile process name on its line and out of the perfdata', () => {
    const hostile = "x|'a'=1\\x0a<b>";
    const report = evaluateCheck([PLAIN], { last: snapshot({ sockets: [[9000, 21, 0, 0]], owners: { 21: [{ pid: 5, executableName: hostile }, { pid: 6, executableName: 'line\nbreak' }] } }) });
    const lines = pluginOutput(report, {}).split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[1], "9000: OK - 1 socket, receive queue 0 B, 0 drops, owners x\\x7c'a'=1\\x0a<b> (pid 5), line\\x0abreak (pid 6)");
    assert.equal(lines.join('\n').split('|').length, 2, 'one | only: the perfdata separator');
  });

  it('UNKNOWN: no perfdata, the reason, each port unknown, other errors listed', () => {
    const report = evaluateCheck([SYSLOG], { last: snapshot({ sockets: undefined, failures: [UDP_EACCES, SNMP_EIO] }) });
    assert.equal(
      pluginOutput(report, {}),
      [
        'UNKNOWN - cannot read the socket tables: /proc/1/net/udp: EACCES: permission denied',
        '514 (syslog): UNKNOWN - not read',
        'error: /proc/1/net/snmp: EIO: i/o error',
        '',
      ].join('\n'),
    );
  });

  it('names a namespace as the status page does: host, or container and pod both', () => {
    const pod: NetNamespace = { ...CONTAINER, inode: 4026532301, hints: { containerId: 'b'.repeat(64), podUid: 'a-b' } };
    const report = evaluateCheck([PLAIN], { last: snapshot({ namespaces: [{ namespace: HOST, sockets: [[9000, 21, 0, 0]] }, { namespace: pod, sockets: [[9000, 22, 0, 0]] }] }) });
    assert.match(pluginOutput(report, {}), new RegExp(`\\n9000: OK - 2 sockets, .*, in netns ${HOST.inode} \\(host\\), ${pod.inode} \\(container bbbbbbbbbbbb, pod a-b\\)\\n`));
  });

  it('says why owners are unknown', () => {
    const last = snapshot({ sockets: [[9000, 21, 0, 0]], owners: {} });
    const report = evaluateCheck([PLAIN], { last: { ...last, owners: { owners: new Map(), unresolvedSockets: 1, unreadableProcesses: 3 } } });
    assert.match(pluginOutput(report, {}), /\n9000: OK - 1 socket, receive queue 0 B, 0 drops, owner unknown\nowners of 1 listening sockets unknown: 3 processes could not be inspected \(run as root, or with CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE\)\n$/);
  });
});
