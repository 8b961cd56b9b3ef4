/**
 * SIGTERM and SIGINT as an operator meets them: the scrape in flight when the signal comes is
 * answered in full, new connections are refused, the process exits 0; a procfs read that was
 * only slow is not reported as blocked; and a second signal ends the process at once. The slow
 * and blocked reads are real read(2) calls on a FUSE procfs (stuck-fuse.py).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { describe, it, type TestContext } from 'node:test';
import { parseExposition, valueOf } from './support/exposition.js';
import { threadsWaitingOnFuse } from './support/process-stats.js';
import { until } from './support/prometheus.js';
import { startService, type ServiceProcess } from './support/service.js';
import { StuckFuse } from './support/stuck-fuse.js';

const UDP = '1/net/udp';
const UP_514 = { network_local_port: '514', udp_listener_name: 'syslog' };

/**
 * The service on a FUSE copy of the captured procfs, watching syslog=514, both taken down when
 * the test ends; undefined after skipping.
 */
async function serviceOnFuse(t: TestContext, collectionTimeout: string, options: { singleThread?: boolean } = {}): Promise<{ fuse: StuckFuse; service: ServiceProcess } | undefined> {
  const fuse = await StuckFuse.mountForTest(t, options);
  if (fuse === undefined) return undefined;
  t.after(() => fuse.unmount());
  const service = await startService({ HOST_PROC: fuse.mountpoint, UDP_LISTENER_PORTS: 'syslog=514', UDP_LISTENER_COLLECTION_TIMEOUT: collectionTimeout });
  t.after(() => service.stop());
  return { fuse, service };
}

async function untilShuttingDown(service: ServiceProcess): Promise<void> {
  await until('the shutdown to begin', async () => (service.stderr().includes('msg="shutting down"') ? true : undefined), () => service.stderr(), 5000, 20);
}

function exitOf(service: ServiceProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (service.child.exitCode !== null || service.child.signalCode !== null) {
    return Promise.resolve({ code: service.child.exitCode, signal: service.child.signalCode });
  }
  return once(service.child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
}

async function readStarted(fuse: StuckFuse, before: number): Promise<void> {
  await until(`a read of ${UDP} to start`, async () => ((await fuse.reads(UDP)) > before ? true : undefined), () => '', 10_000, 20);
}

describe('graceful stop', { concurrency: true }, () => {
  it('SIGTERM during a scrape whose procfs read is slow: that scrape gets its whole page, new connections are refused, exit 0', async (t) => {
    const started = await serviceOnFuse(t, '10s');
    if (started === undefined) return;
    const { fuse, service } = started;
    await fuse.slow(UDP, 2000);
    const before = await fuse.reads(UDP);
    const scrape = fetch(`${service.baseUrl}/metrics`);
    await readStarted(fuse, before);

    const exited = exitOf(service);
    service.child.kill('SIGTERM');
    await untilShuttingDown(service);
    await assert.rejects(fetch(`${service.baseUrl}/metrics`), 'a new connection after SIGTERM was accepted');

    const response = await scrape;
    assert.equal(response.status, 200);
    const page = parseExposition(await response.text());
    assert.equal(valueOf(page, 'udp_listener_up', UP_514), 1, 'the page was not whole');
    assert.equal(valueOf(page, 'udp_listener_exporter_read_success', { file_path: `${fuse.mountpoint}/${UDP}` }), 1);
    assert.deepEqual(await exited, { code: 0, signal: null }, service.stderr());
    assert.doesNotMatch(service.stderr(), /level=(warn|error)/);
  });

  it('a read that ran past its deadline but returns is waited for at exit, not reported as blocked', async (t) => {
    const started = await serviceOnFuse(t, '1s');
    if (started === undefined) return;
    const { fuse, service } = started;
    await fuse.slow(UDP, 1300);
    const page = parseExposition(await (await fetch(`${service.baseUrl}/metrics`)).text());
    assert.equal(valueOf(page, 'udp_listener_exporter_collection_errors_total', { file_path: `${fuse.mountpoint}/${UDP}`, error_type: 'timeout' }), 1);

    // The read is still in the kernel for a few hundred milliseconds more.
    const exited = exitOf(service);
    service.child.kill('SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null }, service.stderr());
    assert.doesNotMatch(service.stderr(), /blocked in the kernel/);
  });

  it('a second SIGTERM ends the process at once, while the first waits for a scrape whose read is blocked', async (t) => {
    // The filesystem's one thread busy with the helper's own read: the service's read waits in
    // the kernel's queue, blocked like on a hung NFS mount, yet (unlike a request being
    // answered) ended by a fatal signal.
    const started = await serviceOnFuse(t, '30s', { singleThread: true });
    if (started === undefined) return;
    const { fuse, service } = started;
    // Unmounting releases it.
    await fuse.block('1/net/snmp');
    await fuse.hold('1/net/snmp');
    const scrape = fetch(`${service.baseUrl}/metrics`).then(
      () => 'answered',
      () => 'cut off',
    );
    const pid = service.child.pid!;
    await until('the scrape to wait on the filesystem', async () => (threadsWaitingOnFuse(pid) > 0 ? true : undefined), () => service.stderr(), 10_000, 20);

    const exited = exitOf(service);
    service.child.kill('SIGTERM');
    await untilShuttingDown(service);
    assert.equal(service.child.exitCode, null, 'the first signal must wait for the scrape');
    const second = performance.now();
    service.child.kill('SIGTERM');
    assert.deepEqual(await exited, { code: null, signal: 'SIGTERM' }, service.stderr());
    t.diagnostic(`exited ${(performance.now() - second).toFixed(0)} ms after the second signal`);
    assert.match(service.stderr(), /level=warn msg="second signal: exiting now.*" signal=SIGTERM/);
    assert.equal(await scrape, 'cut off');
  });
});
