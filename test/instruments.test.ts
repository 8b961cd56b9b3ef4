/**
 * The instruments as the SDK sees them: one batch callback, one snapshot per collection, shared
 * by readers that collect at the same moment.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { SnapshotSource } from '../src/collection/snapshot.js';
import { createLogger } from '../src/log.js';
import { ProcFs } from '../src/procfs/procfs.js';
import { ExporterInstruments } from '../src/telemetry/instruments.js';
import { ManualReader, seriesOf } from './support/metric-reader.js';
import { procTree } from './support/proc-tree.js';

const tree = procTree();
after(() => tree.remove());

function setUp(ports: number[]) {
  const procfs = new ProcFs(tree.root);
  const source = new SnapshotSource({
    procfs,
    hostNetDirectory: procfs.path('1', 'net'),
    config: { ports: ports.map((port) => ({ port })), discoveryLimit: 100, collectionTimeoutMs: 5000, owners: false, netns: 'host' },
    logger: createLogger('none'),
  });
  const prometheusLike = new ManualReader();
  const otlpLike = new ManualReader();
  const provider = new MeterProvider({ readers: [prometheusLike, otlpLike] });
  new ExporterInstruments({ meter: provider.getMeter('test'), source, ports: ports.map((port) => ({ port })), otlpResults: undefined });
  return { source, prometheusLike, otlpLike };
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
  });
});
