import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import type { Snapshot } from '../src/collection/snapshot.js';
import { createLogger } from '../src/log.js';
import { ProcFs } from '../src/procfs/procfs.js';
import { FIXTURES } from './support/paths.js';
import { procTree, type TreeChange } from './support/proc-tree.js';
import { hostSnapshotSource } from './support/snapshot-source.js';

const trees: { remove(): void }[] = [];
after(() => trees.forEach((tree) => tree.remove()));

function source(options: { ports?: number[]; discoveryLimit?: number; changes?: Record<string, TreeChange>; collectionTimeoutMs?: number; owners?: boolean } = {}) {
  const tree = procTree(options.changes);
  trees.push(tree);
  const procfs = new ProcFs(tree.root);
  const logLines: string[] = [];
  const snapshots = hostSnapshotSource(procfs, {
    ...options,
    logger: createLogger('debug', (line) => logLines.push(line)),
  });
  return { snapshots, tree, logLines };
}

/** The host namespace's listeners (UDP_LISTENER_NETNS=host reads only that one). */
function hostListeners(snapshot: Snapshot) {
  assert.equal(snapshot.namespaces.length, 1);
  return snapshot.namespaces[0]!.listeners;
}

/** port -> [sockets, receive queue bytes, drops] */
function summary(snapshot: Snapshot): Record<number, [number, number, number]> {
  const listeners = hostListeners(snapshot);
  assert.ok(listeners, `no listeners: ${JSON.stringify(snapshot.failures)}`);
  const out: Record<number, [number, number, number]> = {};
  for (const [port, l] of listeners) out[port] = [l.sockets, l.receiveQueueBytes, l.drops];
  return out;
}

const udp4 = readFileSync(`${FIXTURES}procfs/real/1/net/udp`, 'latin1');

describe('SnapshotSource on a captured procfs', () => {
  it('configured mode: every listener shape counts; connected sockets, other ports and text prefixes do not', async () => {
    const { snapshots } = source({ ports: [514, 618, 1514, 2055, 5140, 6984, 6985, 8125, 9000, 51846, 52672, 61812] });
    assert.deepEqual(summary(await snapshots.take()), {
      514: [1, 0, 0], // IPv4 loopback
      1514: [1, 0, 0], // IPv4-mapped IPv6
      2055: [1, 0, 0], // IPv6 loopback
      5140: [1, 0, 0], // IPv6-only wildcard
      6984: [1, 832, 0], // IPv4 wildcard with a datagram waiting
      6985: [1, 7680, 194], // full queue, dropping
      8125: [1, 0, 0], // dual-stack: only in udp6
      9000: [2, 0, 0], // two SO_REUSEPORT sockets
      61812: [1, 0, 0],
      // 618 (a text prefix of 61812), 51846 and 52672 (connected clients) have no listener.
    });
  });

  it('discovery mode: listeners outside the ephemeral range, lowest ports first within the limit', async () => {
    const all = await source().snapshots.take();
    assert.deepEqual(Object.keys(summary(all)).map(Number), [514, 1514, 2055, 5140, 6984, 6985, 8125, 9000, 61812]);
    assert.equal(all.omittedPorts, 0);
    const limited = await source({ discoveryLimit: 3 }).snapshots.take();
    assert.deepEqual(Object.keys(summary(limited)).map(Number), [514, 1514, 2055]);
    assert.equal(limited.omittedPorts, 6);
  });

  it('discovery mode follows the ephemeral range the kernel uses', async () => {
    const { snapshots } = source({ changes: { 'sys/net/ipv4/ip_local_port_range': '1024\t65535\n' } });
    assert.deepEqual(Object.keys(summary(await snapshots.take())).map(Number), [514]);
  });

  it('counts a socket printed twice in one read (the table changed under the reader) once', async () => {
    const lines = udp4.split('\n');
    const { snapshots } = source({ ports: [6984], changes: { '1/net/udp': [...lines.slice(0, 3), lines[2], ...lines.slice(3)].join('\n') } });
    assert.deepEqual(summary(await snapshots.take()), { 6984: [1, 832, 0] });
  });

  it('no udp6 file means IPv6 is disabled: IPv4 listeners are reported and nothing failed', async () => {
    const snapshot = await source({ ports: [514, 8125], changes: { '1/net/udp6': null } }).snapshots.take();
    assert.deepEqual(summary(snapshot), { 514: [1, 0, 0] });
    assert.deepEqual(snapshot.failures, []);
  });

  const failures: [string, Record<string, TreeChange>, string, string][] = [
    ['a missing udp', { '1/net/udp': null }, '1/net/udp', 'ENOENT'],
    ['a truncated udp', { '1/net/udp': udp4.slice(0, -20) }, '1/net/udp', 'malformed'],
    ['an empty udp6', { '1/net/udp6': '' }, '1/net/udp6', 'malformed'],
    ['a FIFO in place of udp', { '1/net/udp': 'fifo' }, '1/net/udp', 'not_regular_file'],
    ['a directory in place of udp6', { '1/net/udp6': 'directory' }, '1/net/udp6', 'not_regular_file'],
  ];
  for (const [name, changes, file, failure] of failures) {
    it(`${name}: no port is reported (rather than reported down) and the failure names the file`, async () => {
      const { snapshots, tree, logLines } = source({ ports: [514], changes });
      const snapshot = await snapshots.take();
      assert.equal(hostListeners(snapshot), undefined);
      assert.deepEqual(
        snapshot.failures.map((f) => [f.file, f.failure]),
        [[`${tree.root}/${file}`, failure]],
      );
      assert.equal(snapshot.filesRead.get(`${tree.root}/${file}`), false);
      assert.equal(logLines.filter((line) => line.includes('level=warn')).length, 1);
      await snapshots.take();
      assert.equal(logLines.filter((line) => line.includes('level=warn')).length, 1, 'logged once per failure burst');
      assert.equal([...snapshots.failureCounts.values()][0]?.count, 2);
    });
  }

  it('recovers on the next good read and says so once', async () => {
    const { snapshots, tree, logLines } = source({ ports: [514], changes: { '1/net/udp': null } });
    assert.equal(hostListeners(await snapshots.take()), undefined);
    tree.change({ '1/net/udp': udp4 });
    assert.deepEqual(summary(await snapshots.take()), { 514: [1, 0, 0] });
    assert.equal(logLines.filter((line) => line.includes('msg="procfs read recovered"')).length, 1);
  });

  it('an unreadable ephemeral range falls back to the kernel default and is reported', async () => {
    const { snapshots, tree } = source({ changes: { 'sys/net/ipv4/ip_local_port_range': 'garbage\n' } });
    const snapshot = await snapshots.take();
    assert.deepEqual(Object.keys(summary(snapshot)).map(Number), [514, 1514, 2055, 5140, 6984, 6985, 8125, 9000, 61812]);
    assert.deepEqual(snapshot.failures.map((f) => [f.file, f.failure]), [[`${tree.root}/sys/net/ipv4/ip_local_port_range`, 'malformed']]);
  });

  it('reads the host-wide UDP counters of snmp and snmp6 by column name', async () => {
    const { counters } = (await source({ ports: [514] }).snapshots.take()).namespaces[0]!;
    assert.deepEqual(Object.fromEntries(counters.ipv4!), {
      InDatagrams: 69, NoPorts: 0, InErrors: 194, OutDatagrams: 271, RcvbufErrors: 194, SndbufErrors: 0, InCsumErrors: 0, IgnoredMulti: 0, MemErrors: 0,
    });
    assert.equal(counters.ipv6!.get('InDatagrams'), 0);
    assert.equal(counters.ipv6!.has('Udp6InDatagrams'), false);
  });

  it('an older kernel with fewer snmp columns gives those it has, and no snmp6 means no IPv6 counters', async () => {
    const snapshot = await source({
      ports: [514],
      changes: {
        '1/net/snmp': 'Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 5 6 7 8 9 10\n',
        '1/net/snmp6': null,
      },
    }).snapshots.take();
    const { counters } = snapshot.namespaces[0]!;
    assert.equal(counters.ipv4!.get('NoPorts'), 6);
    assert.equal(counters.ipv4!.has('InCsumErrors'), false);
    assert.equal(counters.ipv6, undefined);
    assert.deepEqual(snapshot.failures, []);
  });

  it('a malformed snmp loses only the counters; listeners are still reported', async () => {
    const { snapshots, tree } = source({ ports: [514], changes: { '1/net/snmp': 'Udp: InDatagrams NoPorts\nUdp: 1\n' } });
    const snapshot = await snapshots.take();
    assert.deepEqual(summary(snapshot), { 514: [1, 0, 0] });
    assert.equal(snapshot.namespaces[0]!.counters.ipv4, undefined);
    assert.deepEqual(snapshot.failures.map((f) => [f.file, f.failure]), [[`${tree.root}/1/net/snmp`, 'malformed']]);
  });

  it('a misspelt required column is malformed, not an older kernel: snmp and snmp6 lose their counters, visibly', async () => {
    const snmp = readFileSync(`${FIXTURES}procfs/real/1/net/snmp`, 'latin1');
    const snmp6 = readFileSync(`${FIXTURES}procfs/real/1/net/snmp6`, 'latin1');
    const { snapshots, tree } = source({
      ports: [514],
      changes: { '1/net/snmp': snmp.replace('Udp: InDatagrams NoPorts', 'Udp: InDatagrams NoPort'), '1/net/snmp6': snmp6.replace('Udp6RcvbufErrors', 'Udp6RcvBufErrors') },
    });
    const snapshot = await snapshots.take();
    assert.deepEqual(summary(snapshot), { 514: [1, 0, 0] });
    assert.deepEqual(snapshot.namespaces[0]!.counters, { ipv4: undefined, ipv6: undefined });
    assert.deepEqual(
      snapshot.failures.map((f) => [f.file, f.failure]),
      [
        [`${tree.root}/1/net/snmp`, 'malformed'],
        [`${tree.root}/1/net/snmp6`, 'malformed'],
      ],
    );
    assert.equal(snapshot.filesRead.get(`${tree.root}/1/net/snmp`), false);
  });

  it('concurrent takes share one read', async () => {
    const { snapshots } = source({ ports: [514] });
    const results = await Promise.all(Array.from({ length: 20 }, () => snapshots.take()));
    assert.equal(snapshots.collections, 1);
    assert.ok(results.every((r) => r === results[0]));
    await snapshots.take();
    assert.equal(snapshots.collections, 2);
  });
});
