/**
 * procfs that hangs or vanishes under the running service: a FIFO nobody writes in place of
 * net/udp, a read(2) really stuck on a FUSE filesystem, and a file deleted between scrapes.
 * The service must keep answering every scrape within UDP_LISTENER_COLLECTION_TIMEOUT, never
 * pile a second read onto a stuck one (Node has four threads for file I/O), and recover.
 */
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parseExposition, valueOf, type Exposition } from './support/exposition.js';
import { FIXTURES } from './support/paths.js';
import { procTree } from './support/proc-tree.js';
import { startService, type ServiceProcess } from './support/service.js';
import { StuckFuse } from './support/stuck-fuse.js';

const TIMEOUT_MS = 500;
/** Room for HTTP and process scheduling on a busy CI machine; the point is "not stuck". */
const SLACK_MS = 1500;
const ERRORS = 'udp_listener_exporter_collection_errors_total';

async function timedScrape(baseUrl: string): Promise<{ page: Exposition; ms: number }> {
  const started = performance.now();
  const response = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(TIMEOUT_MS + 10_000) });
  assert.equal(response.status, 200);
  const page = parseExposition(await response.text());
  return { page, ms: performance.now() - started };
}

function assertAnsweredInTime(scrape: { page: Exposition; ms: number }, what: string): void {
  assert.ok(scrape.ms < TIMEOUT_MS + SLACK_MS, `${what}: scrape took ${scrape.ms.toFixed(0)} ms`);
  const collection = valueOf(scrape.page, 'udp_listener_exporter_collection_duration_seconds')!;
  assert.ok(collection <= TIMEOUT_MS / 1000 + 0.25, `${what}: collection took ${collection} s`);
}

describe('a FIFO nobody writes in place of net/udp', () => {
  const tree = procTree({ '1/net/udp': 'fifo' });
  let service: ServiceProcess;
  before(async () => {
    service = await startService({ HOST_PROC: tree.root, UDP_LISTENER_PORTS: 'syslog=514', UDP_LISTENER_COLLECTION_TIMEOUT: `${TIMEOUT_MS}ms` });
  });
  after(async () => {
    await service?.stop();
    tree.remove();
  });

  it('answers scrape after scrape within the deadline, counting the file as not regular, and stays healthy', async () => {
    const file = `${tree.root}/1/net/udp`;
    for (let i = 1; i <= 5; i++) {
      const scrape = await timedScrape(service.baseUrl);
      assertAnsweredInTime(scrape, `scrape ${i}`);
      assert.equal(valueOf(scrape.page, ERRORS, { file_path: file, error_type: 'not_regular_file' }), i);
      assert.equal(valueOf(scrape.page, 'udp_listener_exporter_read_success', { file_path: file }), 0);
      assert.equal(valueOf(scrape.page, 'udp_listener_up', { network_local_port: '514', udp_listener_name: 'syslog' }), undefined);
    }
    assert.equal(service.child.exitCode, null);
    assert.equal((await fetch(`${service.baseUrl}/`)).status, 200);
  });
});

describe('a read of net/udp really stuck in the kernel (FUSE)', () => {
  let fuse: StuckFuse | undefined;
  let service: ServiceProcess | undefined;
  let skipReason: string | undefined;

  before(async () => {
    skipReason = StuckFuse.unavailable();
    if (skipReason === undefined) {
      try {
        fuse = await StuckFuse.mount(`${FIXTURES}procfs/real`);
      } catch (error) {
        skipReason = (error as Error).message;
      }
    }
    if (skipReason !== undefined) {
      if (process.env.CI === 'true') throw new Error(`CI must run the FUSE test (.ci/run installs python3-fusepy and fuse3): ${skipReason}`);
      return;
    }
    service = await startService({ HOST_PROC: fuse!.mountpoint, UDP_LISTENER_PORTS: 'syslog=514', UDP_LISTENER_COLLECTION_TIMEOUT: `${TIMEOUT_MS}ms` });
  });
  after(async () => {
    await service?.stop();
    await fuse?.unmount();
  });

  it('keeps answering within the deadline, does not start the stuck read again, and recovers after release', async (t) => {
    if (skipReason !== undefined) return t.skip(`FUSE cannot be mounted here (${skipReason}); skipped locally, required in CI`);
    const base = service!.baseUrl;
    const udp = `${fuse!.mountpoint}/1/net/udp`;
    const up = { network_local_port: '514', udp_listener_name: 'syslog' };

    const healthy = await timedScrape(base);
    assert.equal(valueOf(healthy.page, 'udp_listener_up', up), 1);
    const readsBefore = await fuse!.reads('1/net/udp');
    const udp6ReadsBefore = await fuse!.reads('1/net/udp6');

    await fuse!.block('1/net/udp');
    const stuck = await timedScrape(base);
    assertAnsweredInTime(stuck, 'scrape that meets the stuck read');
    assert.equal(valueOf(stuck.page, ERRORS, { file_path: udp, error_type: 'timeout' }), 1);
    assert.equal(valueOf(stuck.page, 'udp_listener_up', up), undefined, 'no listener series while the table is unknown');

    for (let i = 1; i <= 4; i++) {
      const later = await timedScrape(base);
      assertAnsweredInTime(later, `scrape ${i} while stuck`);
      assert.equal(valueOf(later.page, ERRORS, { file_path: udp, error_type: 'still_stuck' }), i);
      assert.equal(valueOf(later.page, 'udp_listener_exporter_read_success', { file_path: udp }), 0);
    }
    assert.equal(await fuse!.reads('1/net/udp'), readsBefore + 1, 'the stuck read was started again on top of itself');
    assert.ok((await fuse!.reads('1/net/udp6')) >= udp6ReadsBefore + 5, 'the other files are still read at every scrape');

    await fuse!.release('1/net/udp');
    let recovered: Exposition | undefined;
    for (let attempt = 0; attempt < 20 && recovered === undefined; attempt++) {
      const scrape = await timedScrape(base);
      if (valueOf(scrape.page, 'udp_listener_exporter_read_success', { file_path: udp }) === 1) recovered = scrape.page;
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(recovered !== undefined, 'did not recover after the read was released');
    assert.equal(valueOf(recovered, 'udp_listener_up', up), 1);
    assert.equal(service!.child.exitCode, null);
    assert.match(service!.stderr(), /msg="procfs read recovered" file=\S+\/1\/net\/udp\b/);
  });
});

describe('SIGTERM while procfs reads are blocked in the kernel', () => {
  it('stops promptly: by SIGTERM, since exit() would wait for the blocked reads forever', async (t) => {
    const fuse = await StuckFuse.mountForTest(t, { singleThread: true });
    if (fuse === undefined) return;
    const service = await startService({ HOST_PROC: fuse.mountpoint, UDP_LISTENER_PORTS: '514', UDP_LISTENER_COLLECTION_TIMEOUT: `${TIMEOUT_MS}ms` });
    try {
      // The filesystem's one thread is busy with the helper's own read, so the service's reads
      // wait in the kernel's queue: blocked like on a hung NFS mount, yet killable.
      await fuse.block('1/net/snmp');
      await fuse.hold('1/net/snmp');
      const scrape = await timedScrape(service.baseUrl);
      assertAnsweredInTime(scrape, 'scrape with every read blocked');
      assert.equal(valueOf(scrape.page, ERRORS, { file_path: `${fuse.mountpoint}/1/net/udp`, error_type: 'timeout' }), 1);

      const started = performance.now();
      service.child.kill('SIGTERM');
      const exited = new Promise<string>((resolve) => service.child.once('exit', (code, signal) => resolve(`exit ${code} signal ${signal}`)));
      const outcome = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running after 6 s'), 6000).unref())]);
      if (outcome.startsWith('still')) service.child.kill('SIGKILL');
      assert.equal(outcome, 'exit null signal SIGTERM', service.stderr());
      assert.ok(performance.now() - started < 5000, 'shutdown waited for the blocked reads');
      assert.match(service.stderr(), /level=warn msg="a procfs read is blocked in the kernel.*files=\S+\/1\/net\/udp/);
    } finally {
      await service.stop();
      await fuse.release('1/net/snmp');
      await fuse.unmount();
    }
  });
});

describe('a socket table deleted between scrapes', () => {
  it('is a counted ENOENT each time, the rest of the page stays, and the next good read recovers', async () => {
    const tree = procTree();
    const service = await startService({ HOST_PROC: tree.root, UDP_LISTENER_PORTS: 'syslog=514' });
    const file = `${tree.root}/1/net/udp`;
    const up = { network_local_port: '514', udp_listener_name: 'syslog' };
    try {
      assert.equal(valueOf((await timedScrape(service.baseUrl)).page, 'udp_listener_up', up), 1);
      tree.change({ '1/net/udp': null });
      for (let i = 1; i <= 3; i++) {
        const { page } = await timedScrape(service.baseUrl);
        assert.equal(valueOf(page, ERRORS, { file_path: file, error_type: 'ENOENT' }), i);
        assert.equal(valueOf(page, 'udp_listener_up', up), undefined);
        assert.equal(valueOf(page, 'udp_listener_exporter_read_success', { file_path: `${tree.root}/1/net/udp6` }), 1);
      }
      tree.change({ '1/net/udp': null, '1/net/udp6': null });
      tree.remove();
      const gone = await timedScrape(service.baseUrl);
      assert.equal(valueOf(gone.page, ERRORS, { file_path: file, error_type: 'ENOENT' }), 4);
      const restored = procTree();
      try {
        // The same root path again, as when a mount comes back.
        cpSync(restored.root, tree.root, { recursive: true });
        const back = await timedScrape(service.baseUrl);
        assert.equal(valueOf(back.page, 'udp_listener_up', up), 1);
        assert.equal(valueOf(back.page, 'udp_listener_exporter_read_success', { file_path: file }), 1);
      } finally {
        restored.remove();
      }
    } finally {
      await service.stop();
      tree.remove();
    }
  });
});
