/**
 * The instruments as the SDK sees them: one batch callback, one snapshot per collection, shared
 * by readers that collect at the same moment.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { MeterProvider, type MetricData } from '@opentelemetry/sdk-metrics';
import { ProcFs } from '../src/procfs/procfs.js';
import { ExporterInstruments } from '../src/telemetry/instruments.js';
import { ManualReader, seriesOf } from './support/metric-reader.js';
import { procTree } from './support/proc-tree.js';
import { hostSnapshotSource } from './support/snapshot-source.js';

const tree = procTree();
after(() => tree.remove());

function setUp(ports: number[], root = tree.root) {
  const procfs = new ProcFs(root);
  const source = hostSnapshotSource(procfs, { ports });
  const prometheusLike = new ManualReader();
  const otlpLike = new ManualReader();
  const provider = new MeterProvider({ readers: [prometheusLike, otlpLike] });
  new ExporterInstruments({ meter: provider.getMeter('test'), source, ports: ports.map((port) => ({ port })), otlpResults: undefined });
  return { source, prometheusLike, otlpLike };
}

/** The kernel's Udp columns in snmp order (snmp6 has the same ones, prefixed Udp6). */
const UDP_COLUMNS = ['InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams', 'RcvbufErrors', 'SndbufErrors', 'InCsumErrors', 'IgnoredMulti', 'MemErrors'];

/** Every udp.host.* metric, as { name: { ipv4, ipv6 } }, and nothing else under that prefix. */
function hostSeries(metrics: readonly MetricData[]): Record<string, Record<string, number>> {
  const result: Record<string, Record<string, number>> = {};
  for (const metric of metrics) {
    if (!metric.descriptor.name.startsWith('udp.host.')) continue;
    const byType: Record<string, number> = {};
    for (const point of metric.dataPoints) byType[String(point.attributes['network.type'])] = point.value as number;
    result[metric.descriptor.name] = byType;
  }
  return result;
}

describe('ExporterInstruments', () => {
  it('two readers collecting at the same moment share one procfs read', async () => {
    const { source, prometheusLike, otlpLike } = setUp([514, 9000]);
    const [a, b] = await Promise.all([prometheusLike.metrics(), otlpLike.metrics(), prometheusLike.metrics()]);
    assert.equal(source.collections, 1);
    assert.deepEqual(seriesOf(a, 'udp.listener.sockets'), { '{"network.local.port":514}': 1, '{"network.local.port":9000}': 2 });
    assert.deepEqual(seriesOf(b, 'udp.listener.sockets'), seriesOf(a, 'udp.listener.sockets'));
    await otlpLike.metrics();
    assert.equal(source.collections, 2, 'a later collection reads again');
  });

  it('records every instrument from that one read', async () => {
    const { prometheusLike } = setUp([6985]);
    const metrics = await prometheusLike.metrics();
    assert.deepEqual(seriesOf(metrics, 'udp.listener.drops'), { '{"network.local.port":6985}': 194 });
    assert.deepEqual(seriesOf(metrics, 'udp.listener.receive_queue.bytes'), { '{"network.local.port":6985}': 7680 });
    assert.deepEqual(seriesOf(metrics, 'udp.host.datagrams.no_port'), { '{"network.type":"ipv4"}': 0, '{"network.type":"ipv6"}': 0 });
    assert.deepEqual(seriesOf(metrics, 'udp.listener.exporter.collections'), { '{}': 1 });
    // Every host counter against the captured snmp (Udp: 69 0 194 271 194 0 0 ...; snmp6 all 0).
    assert.deepEqual(hostSeries(metrics), {
      'udp.host.datagrams.received': { ipv4: 69, ipv6: 0 },
      'udp.host.datagrams.sent': { ipv4: 271, ipv6: 0 },
      'udp.host.datagrams.no_port': { ipv4: 0, ipv6: 0 },
      'udp.host.receive.errors': { ipv4: 194, ipv6: 0 },
      'udp.host.receive_buffer.errors': { ipv4: 194, ipv6: 0 },
      'udp.host.send_buffer.errors': { ipv4: 0, ipv6: 0 },
      'udp.host.checksum.errors': { ipv4: 0, ipv6: 0 },
    });
  });

  it('maps each host counter to its own snmp/snmp6 column', async () => {
    // The captured counters repeat values (InErrors = RcvbufErrors = 194, several 0s, snmp6 all 0),
    // so a swapped column would pass above. Here every Udp, Udp6, UdpLite and UdpLite6 column has
    // a value of its own: reading the wrong column, the wrong family or UdpLite shows.
    const distinct = procTree({
      '1/net/snmp': readFileSync(path.join(tree.root, '1', 'net', 'snmp'), 'latin1')
        .replace(/^Udp: \d.*$/m, 'Udp: 11 12 13 14 15 16 17 18 19')
        .replace(/^UdpLite: \d.*$/m, 'UdpLite: 31 32 33 34 35 36 37 38 39'),
      '1/net/snmp6': readFileSync(path.join(tree.root, '1', 'net', 'snmp6'), 'latin1')
        .replace(/^(Udp6(\w+)\s+)\d+$/gm, (_, prefix: string, column: string) => `${prefix}${20 + UDP_COLUMNS.indexOf(column) + 1}`)
        .replace(/^(UdpLite6(\w+)\s+)\d+$/gm, (_, prefix: string, column: string) => `${prefix}${40 + UDP_COLUMNS.indexOf(column) + 1}`),
    });
    try {
      const { prometheusLike } = setUp([6985], distinct.root);
      assert.deepEqual(hostSeries(await prometheusLike.metrics()), {
        'udp.host.datagrams.received': { ipv4: 11, ipv6: 21 },
        'udp.host.datagrams.no_port': { ipv4: 12, ipv6: 22 },
        'udp.host.receive.errors': { ipv4: 13, ipv6: 23 },
        'udp.host.datagrams.sent': { ipv4: 14, ipv6: 24 },
        'udp.host.receive_buffer.errors': { ipv4: 15, ipv6: 25 },
        'udp.host.send_buffer.errors': { ipv4: 16, ipv6: 26 },
        'udp.host.checksum.errors': { ipv4: 17, ipv6: 27 },
      });
    } finally {
      distinct.remove();
    }
  });
});
