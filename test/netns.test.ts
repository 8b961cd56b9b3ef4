/**
 * Network namespaces: a namespace created by the test holds a listener. By default it is not the
 * host's and is not counted; with UDP_LISTENER_NETNS=all it is found and labelled.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { readlink } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { samplesOf, scrape, valueOf } from './support/exposition.js';
import { NobodyService, requireRoot } from './support/privileges.js';
import { startService } from './support/service.js';
import { NON_EPHEMERAL, SocketHolder, type HeldSocket } from './support/sockets.js';
import { findTool } from './support/tools.js';

const namespace = `udp-exporter-test-${process.pid}`;

describe('a listener in another network namespace', () => {
  let available = false;
  let holder: SocketHolder | undefined;
  let socket: HeldSocket;
  let namespaceInode = 0;
  let hostInode = 0;

  before(async () => {
    if (process.getuid?.() !== 0 || findTool('ip') === undefined) return;
    execFileSync('ip', ['netns', 'add', namespace]);
    available = true;
    namespaceInode = statSync(`/run/netns/${namespace}`).ino;
    // The host's namespace is PID 1's; some sandboxes protect PID 1 even from root, and then
    // kthreadd's (PID 2) is the same initial namespace.
    hostInode = Number(/\d+/.exec(await readlink('/proc/1/ns/net').catch(() => readlink('/proc/2/ns/net')))![0]);
    holder = new SocketHolder({ prefix: ['ip', 'netns', 'exec', namespace], comm: Buffer.from('ns-shipper') });
    // A port free on the host too, so that only the namespace listens on it.
    for (;;) {
      socket = await holder.open({ family: 'ipv4', address: '0.0.0.0', port: NON_EPHEMERAL });
      const onHost = execFileSync('ss', ['-Hun', 'sport', `= :${socket.port}`], { encoding: 'utf8' }).trim();
      if (onHost === '') break;
      await holder.close(socket);
    }
  });

  const nobody = new NobodyService();
  after(async () => {
    await nobody.remove();
    await holder?.dispose();
    if (available) execFileSync('ip', ['netns', 'del', namespace]);
  });

  function skipUnlessAvailable(t: import('node:test').TestContext): boolean {
    if (!requireRoot(t, 'creating a network namespace (ip netns add)')) return false;
    if (!available) {
      if (process.env.CI === 'true') throw new Error('ip (iproute2) is missing; .ci/run must install it');
      t.skip('ip (iproute2) not installed');
      return false;
    }
    return true;
  }

  it('is not the host\'s: by default its port reads 0 and discovery does not list it', async (t) => {
    if (!skipUnlessAvailable(t)) return;
    // A listener on the host in the same scrape: discovery that lists nothing must not pass.
    const hostHolder = new SocketHolder({ comm: Buffer.from('host-shipper') });
    let hostSocket = await hostHolder.open({ family: 'ipv4', address: '0.0.0.0', port: NON_EPHEMERAL });
    // The namespace's port is free on the host, so a random pick could land on it.
    while (hostSocket.port === socket.port) hostSocket = await hostHolder.open({ family: 'ipv4', address: '0.0.0.0', port: NON_EPHEMERAL });
    const configured = await startService({ UDP_LISTENER_PORTS: String(socket.port) });
    const discovery = await startService({ UDP_LISTENER_DISCOVERY_LIMIT: '65535' });
    try {
      assert.equal(valueOf(await scrape(configured.baseUrl), 'udp_listener_up', { network_local_port: String(socket.port) }), 0);
      const ports = samplesOf(await scrape(discovery.baseUrl), 'udp_listener_up').map((s) => s.labels.network_local_port);
      assert.ok(ports.includes(String(hostSocket.port)), `the host listener ${hostSocket.port} is not listed: ${ports.join(',')}`);
      assert.ok(!ports.includes(String(socket.port)));
    } finally {
      await configured.stop();
      await discovery.stop();
      await hostHolder.dispose();
    }
  });

  it('UDP_LISTENER_NETNS=all finds it, labelled with its namespace, its owner and its counters', async (t) => {
    if (!skipUnlessAvailable(t)) return;
    const service = await startService({ UDP_LISTENER_PORTS: `ns=${socket.port}`, UDP_LISTENER_NETNS: 'all' });
    try {
      const page = await scrape(service.baseUrl);
      const labels = (inode: number) => ({ network_local_port: String(socket.port), udp_listener_name: 'ns', linux_netns_inode: String(inode) });
      assert.equal(valueOf(page, 'udp_listener_up', labels(namespaceInode)), 1);
      assert.equal(valueOf(page, 'udp_listener_up', labels(hostInode)), 0, 'the host namespace still reads 0');
      assert.equal(valueOf(page, 'udp_listener_owner_info', { ...labels(namespaceInode), process_pid: String(holder!.pid), process_executable_name: 'ns-shipper' }), 1);
      assert.notEqual(valueOf(page, 'udp_host_datagrams_received_total', { network_type: 'ipv4', linux_netns_inode: String(namespaceInode) }), undefined);
      // Present, and small: as root only a process that protects itself (a non-dumpable init) is unreadable.
      assert.ok(valueOf(page, 'udp_listener_exporter_unreadable_processes', { lookup: 'namespaces' })! <= 1);
    } finally {
      await service.stop();
    }
  });

  it('UDP_LISTENER_NETNS=all in discovery mode lists it with its namespace', async (t) => {
    if (!skipUnlessAvailable(t)) return;
    const service = await startService({ UDP_LISTENER_NETNS: 'all', UDP_LISTENER_DISCOVERY_LIMIT: '65535' });
    try {
      const page = await scrape(service.baseUrl);
      assert.equal(valueOf(page, 'udp_listener_up', { network_local_port: String(socket.port), linux_netns_inode: String(namespaceInode) }), 1);
    } finally {
      await service.stop();
    }
  });

  it('UDP_LISTENER_NETNS=all without CAP_SYS_PTRACE cannot list namespaces, and says so', async (t) => {
    if (!skipUnlessAvailable(t)) return;
    const service = await startService({ UDP_LISTENER_PORTS: String(socket.port), UDP_LISTENER_NETNS: 'all' }, await nobody.options([]));
    try {
      const page = await scrape(service.baseUrl);
      assert.deepEqual(samplesOf(page, 'udp_listener_up'), []);
      assert.equal(valueOf(page, 'udp_listener_exporter_read_success', { file_path: '/proc/1/ns/net' }), 0);
      assert.equal(valueOf(page, 'udp_listener_exporter_collection_errors_total', { file_path: '/proc/1/ns/net', error_type: 'EACCES' }), 1);
    } finally {
      await service.stop();
    }
  });
});
