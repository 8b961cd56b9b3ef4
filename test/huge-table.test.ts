/**
 * A socket table of 1.5 million lines (about 225 MB, under the 256 MiB size cap), read through
 * HOST_PROC as a regular file by the real service: every listener in it is found, and the
 * service's peak memory stays far below the table's size, because the table is parsed as it is
 * read rather than held whole.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scrape, valueOf } from './support/exposition.js';
import { writeHugeUdp6Table } from './support/huge-table.js';
import { procTree } from './support/proc-tree.js';
import { memoryOf } from './support/process-stats.js';
import { startService } from './support/service.js';

const LINES = 1_500_000;
const PEAK_RSS_LIMIT_BYTES = 150e6;

describe('a socket table of 1.5 million lines', () => {
  it('is read whole and right, with the service\'s peak RSS under 150 MB', async (t) => {
    const tree = procTree();
    t.after(() => tree.remove());
    const table = await writeHugeUdp6Table(`${tree.root}/1/net/udp6`, LINES, 100_000);
    t.diagnostic(`udp6: ${table.lines.toLocaleString('en-US')} lines, ${(table.bytes / 1e6).toFixed(0)} MB`);
    assert.ok(table.bytes > 200e6 && table.bytes < 256 * 1024 * 1024, `${table.bytes} bytes`);

    const { port, sockets, drops, queueBytes } = table.listeners;
    const service = await startService({
      HOST_PROC: tree.root,
      UDP_LISTENER_PORTS: `${port},6984`,
      UDP_LISTENER_OWNERS: 'false',
      UDP_LISTENER_COLLECTION_TIMEOUT: '1m',
    });
    try {
      const page = await scrape(service.baseUrl);
      const udp6 = `${tree.root}/1/net/udp6`;
      assert.equal(valueOf(page, 'udp_listener_exporter_read_success', { file_path: udp6 }), 1, service.stderr());
      const labels = { network_local_port: String(port) };
      assert.equal(valueOf(page, 'udp_listener_up', labels), 1);
      assert.equal(valueOf(page, 'udp_listener_sockets', labels), sockets);
      assert.equal(valueOf(page, 'udp_listener_drops_total', labels), drops);
      assert.equal(valueOf(page, 'udp_listener_receive_queue_bytes', labels), queueBytes);
      // The IPv4 table beside it is the captured one.
      assert.equal(valueOf(page, 'udp_listener_sockets', { network_local_port: '6984' }), 1);

      const peakBytes = memoryOf(service.child.pid!).vmHwmMiB * 1024 * 1024;
      t.diagnostic(`service peak RSS (VmHWM) ${(peakBytes / 1e6).toFixed(1)} MB; collection ${valueOf(page, 'udp_listener_exporter_collection_duration_seconds')} s`);
      assert.ok(peakBytes < PEAK_RSS_LIMIT_BYTES, `peak RSS ${(peakBytes / 1e6).toFixed(1)} MB`);
    } finally {
      assert.equal(await service.stop(), 0);
    }
  });
});
