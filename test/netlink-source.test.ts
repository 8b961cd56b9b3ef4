/**
 * UDP_LISTENER_SOURCE=netlink against the real kernel: for the same sockets, every listener
 * series equals what the procfs source reports, in the host namespace and in another one; the
 * receive buffer gauge equals what `ss -uam` shows; errors are counted like procfs read errors;
 * and a binding that cannot load stops the service at start-up, naming the variable.
 *
 * Root only (CI runs them as root): a namespace of the test's own, and setns into it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { samplesOf, scrape, valueOf } from './support/exposition.js';
import { listenerSeries, NetworkNamespace, scrapeBothSources } from './support/netlink.js';
import { REPO_ROOT } from './support/paths.js';
import { NobodyService, requireRoot } from './support/privileges.js';
import { runToExit, startService } from './support/service.js';
import { NON_EPHEMERAL, SocketHolder, type HeldSocket } from './support/sockets.js';
import { requireTool } from './support/tools.js';

const namespaceName = `udp-exporter-netlink-${process.pid}`;

describe('the netlink source', () => {
  let ready = false;
  let host: SocketHolder;
  let inNamespace: SocketHolder;
  const ports = new Set<number>();
  let namespace: NetworkNamespace | undefined;
  let stalled: HeldSocket;
  let namespaceListener: HeldSocket;

  before(async () => {
    if (process.getuid?.() !== 0) return;
    namespace = new NetworkNamespace(namespaceName);
    host = new SocketHolder({ comm: Buffer.from('nl-host') });
    inNamespace = new SocketHolder({ prefix: namespace.exec(), comm: Buffer.from('nl-ns') });
    const open = async (holder: SocketHolder, spec: Parameters<SocketHolder['open']>[0]): Promise<HeldSocket> => {
      const socket = await holder.open(spec);
      ports.add(socket.port);
      return socket;
    };
    await open(host, { family: 'ipv4', address: '0.0.0.0', port: NON_EPHEMERAL });
    await open(host, { family: 'ipv4', address: '127.0.0.1', port: NON_EPHEMERAL });
    await open(host, { family: 'ipv6', address: '::', port: NON_EPHEMERAL, v6only: true });
    await open(host, { family: 'ipv6', address: '::1', port: NON_EPHEMERAL, v6only: true });
    const dual = await open(host, { family: 'ipv6', address: '::', port: NON_EPHEMERAL, v6only: false });
    const pair = await open(host, { family: 'ipv4', address: '0.0.0.0', port: NON_EPHEMERAL, reuseport: true });
    await host.open({ family: 'ipv4', address: '0.0.0.0', port: pair.port, reuseport: true });
    // A v4 socket beside a v6-only one on the same port: two sockets, one port.
    const v6only = await open(host, { family: 'ipv6', address: '::', port: NON_EPHEMERAL, v6only: true });
    await host.open({ family: 'ipv4', address: '0.0.0.0', port: v6only.port });
    // Connected sockets are clients, not listeners: bound to a watched port, they still read 0.
    await open(host, { family: 'ipv4', address: '127.0.0.1', port: NON_EPHEMERAL, connect: ['127.0.0.1', 9] });
    await open(host, { family: 'ipv6', address: '::1', port: NON_EPHEMERAL, v6only: true, connect: ['::1', 9] });
    // A listener that never reads: a queue, a small buffer, drops.
    stalled = await open(host, { family: 'ipv4', address: '127.0.0.1', port: NON_EPHEMERAL, rcvbuf: 4096 });
    await host.send('ipv4', ['127.0.0.1', stalled.port], 40, 700);
    await host.send('ipv6', ['::ffff:127.0.0.1', dual.port], 3, 100);
    // Another namespace: its own listeners, one of them on a port the host also uses.
    namespaceListener = await open(inNamespace, { family: 'ipv4', address: '0.0.0.0', port: NON_EPHEMERAL });
    await inNamespace.open({ family: 'ipv6', address: '::', port: pair.port, v6only: false });
    await inNamespace.send('ipv4', ['127.0.0.1', namespaceListener.port], 2, 64);
    ready = true;
  });

  const nobody = new NobodyService();
  after(async () => {
    await nobody.remove();
    await host?.dispose();
    await inNamespace?.dispose();
    namespace?.delete();
  });

  function available(t: TestContext): boolean {
    if (!requireRoot(t, 'a network namespace of its own (ip netns add) and setns into it')) return false;
    assert.ok(ready, 'the sockets were not set up');
    return true;
  }

  const modes: [string, () => Record<string, string>][] = [
    ['configured ports, host namespace', () => ({ UDP_LISTENER_PORTS: [...ports].join(',') })],
    ['configured ports, every namespace', () => ({ UDP_LISTENER_PORTS: [...ports].join(','), UDP_LISTENER_NETNS: 'all' })],
    ['discovery, every namespace', () => ({ UDP_LISTENER_NETNS: 'all', UDP_LISTENER_DISCOVERY_LIMIT: '65535' })],
  ];
  for (const [mode, env] of modes) {
    it(`${mode}: every listener series equals the procfs source's`, async (t) => {
      if (!available(t)) return;
      const [fromProcfs, fromNetlink] = await scrapeBothSources(env());
      const expected = listenerSeries(fromProcfs, ports);
      assert.ok(expected.length >= 3 * ports.size, `procfs reported only ${expected.length} series`);
      assert.deepEqual(listenerSeries(fromNetlink, ports), expected);
      assert.equal(valueOf(fromNetlink, 'udp_listener_exporter_read_success', { file_path: 'netlink:sock_diag/udp6' }), 1);
      // The queue and the drops really are there to compare.
      const stalledLabels = mode.startsWith('configured ports, host') ? { network_local_port: String(stalled.port) } : undefined;
      if (stalledLabels !== undefined) {
        assert.ok(valueOf(fromNetlink, 'udp_listener_drops_total', stalledLabels)! > 0);
        assert.ok(valueOf(fromNetlink, 'udp_listener_receive_queue_bytes', stalledLabels)! > 0);
      }
      if (env().UDP_LISTENER_NETNS === 'all') {
        const labels = { network_local_port: String(namespaceListener.port), linux_netns_inode: String(namespace!.inode) };
        assert.equal(valueOf(fromNetlink, 'udp_listener_up', labels), 1, 'the other namespace is read through its own socket');
        assert.ok(valueOf(fromNetlink, 'udp_listener_receive_queue_bytes', labels)! > 0);
        assert.equal(valueOf(fromNetlink, 'udp_listener_exporter_read_success', { file_path: 'netlink:<pid>/sock_diag/udp' }), 1);
      }
    });
  }

  it('udp_listener_receive_buffer_bytes is the buffer `ss -uam` shows for the same socket, and procfs has none', async (t) => {
    if (!available(t)) return;
    const ss = requireTool(t, 'ss', 'iproute2');
    if (ss === undefined) return;
    const [fromProcfs, fromNetlink] = await scrapeBothSources({ UDP_LISTENER_PORTS: String(stalled.port) });
    const line = execFileSync(ss, ['-uamnH', 'sport', `= :${stalled.port}`], { encoding: 'utf8' });
    const skmem = /skmem:\(r(\d+),rb(\d+),.*,d(\d+)\)/.exec(line);
    assert.ok(skmem !== null, line);
    const labels = { network_local_port: String(stalled.port) };
    assert.equal(valueOf(fromNetlink, 'udp_listener_receive_buffer_bytes', labels), Number(skmem[2]));
    assert.equal(valueOf(fromNetlink, 'udp_listener_receive_queue_bytes', labels), Number(skmem[1]));
    assert.equal(valueOf(fromNetlink, 'udp_listener_drops_total', labels), Number(skmem[3]));
    assert.ok(Number(skmem[1]) / Number(skmem[2]) > 0.5, 'the stalled queue is well on its way to full');
    assert.deepEqual(samplesOf(fromProcfs, 'udp_listener_receive_buffer_bytes'), []);
    assert.equal(fromProcfs.help.has('udp_listener_receive_buffer_bytes'), false);
  });

  it('a namespace it may not enter is counted as a failed read of its netlink table, with the errno', async (t) => {
    if (!available(t)) return;
    // Enough to list namespaces and open their ns/net files, not to setns (CAP_SYS_ADMIN).
    const service = await startService(
      { UDP_LISTENER_PORTS: String(namespaceListener.port), UDP_LISTENER_NETNS: 'all', UDP_LISTENER_SOURCE: 'netlink' },
      await nobody.options(['sys_ptrace', 'dac_read_search']),
    );
    try {
      const page = await scrape(service.baseUrl);
      assert.equal(valueOf(page, 'udp_listener_exporter_read_success', { file_path: 'netlink:<pid>/sock_diag/udp' }), 0);
      assert.equal(valueOf(page, 'udp_listener_exporter_read_success', { file_path: 'netlink:<pid>/sock_diag/udp6' }), 0);
      assert.ok(valueOf(page, 'udp_listener_exporter_collection_errors_total', { file_path: 'netlink:<pid>/sock_diag/udp', error_type: 'EPERM' })! >= 1);
      assert.equal(valueOf(page, 'udp_listener_up', { network_local_port: String(namespaceListener.port), linux_netns_inode: String(namespace!.inode) }), undefined);
      // The exporter's own namespace needs no privilege at all.
      assert.equal(valueOf(page, 'udp_listener_exporter_read_success', { file_path: 'netlink:sock_diag/udp' }), 1);
      assert.match(service.stderr(), /file="netlink:<pid>\/sock_diag\/udp" failure=EPERM error=".*\/ns\/net: cannot open a netlink socket in the network namespace: setns: EPERM"/);
    } finally {
      await service.stop();
    }
  });
});

describe('the netlink binding', () => {
  it('that cannot load stops the service at start-up, naming the variable; procfs runs without it', async (t) => {
    if (!requireRoot(t, 'part of the netlink suite')) return;
    // An install whose platform package of koffi is missing (npm ci --omit=optional, or a
    // node_modules copied from another platform): koffi itself is there, its binary is not.
    const install = mkdtempSync(path.join(tmpdir(), 'no-koffi-binary-'));
    try {
      cpSync(path.join(REPO_ROOT, 'dist'), path.join(install, 'dist'), { recursive: true });
      cpSync(path.join(REPO_ROOT, 'package.json'), path.join(install, 'package.json'));
      const modules = path.join(install, 'node_modules');
      mkdirSync(modules);
      for (const entry of readdirSync(path.join(REPO_ROOT, 'node_modules'))) {
        if (entry === '@koromix' || entry.startsWith('.')) continue;
        if (entry === 'koffi') cpSync(path.join(REPO_ROOT, 'node_modules', entry), path.join(modules, entry), { recursive: true });
        else symlinkSync(path.join(REPO_ROOT, 'node_modules', entry), path.join(modules, entry));
      }
      const main = path.join(install, 'dist', 'src', 'main.js');
      const refused = await runToExit({ UDP_LISTENER_SOURCE: 'netlink', UDP_LISTENER_PORTS: '514' }, { mainScript: main });
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /start-up failed.*UDP_LISTENER_SOURCE: \\"netlink\\": the netlink binding \(koffi\) cannot load here: .*native Koffi module/);
      const procfs = await startService({ UDP_LISTENER_PORTS: '514' }, { mainScript: main });
      try {
        assert.notEqual(valueOf(await scrape(procfs.baseUrl), 'udp_listener_up', { network_local_port: '514' }), undefined);
      } finally {
        await procfs.stop();
      }
    } finally {
      rmSync(install, { recursive: true, force: true });
    }
  });
});
