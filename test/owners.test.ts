/**
 * Owner attribution: which processes hold each listener, against a fixture procfs tree and
 * against real processes this test starts under chosen (and hostile) names.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { parseExposition, samplesOf, scrape, valueOf } from './support/exposition.js';
import { parseWithPrometheusClient, promtoolLint, pythonParserAvailable } from './support/label-safety.js';
import { NobodyService, requireRoot } from './support/privileges.js';
import { procTree } from './support/proc-tree.js';
import { startService } from './support/service.js';
import { NON_EPHEMERAL, SocketHolder } from './support/sockets.js';
import { findTool, requireTool } from './support/tools.js';

const OWNER = 'udp_listener_owner_info';
const UNRESOLVED = 'udp_listener_exporter_owner_lookup_unresolved_sockets';

describe('owners in a fixture procfs tree (HOST_PROC)', () => {
  // Socket inodes of the captured tables: 5047 listens on 6984; 5054 and 5053 share 9000.
  it('maps socket inodes to the processes whose fd links point at them, and follows a hand-over', async () => {
    const tree = procTree({
      '100/fd/0': { link: '/dev/null' },
      '100/fd/3': { link: 'socket:[5047]' },
      '100/comm': 'filebeat\n',
      '200/fd/7': { link: 'socket:[5054]' },
      '200/fd/8': { link: 'socket:[5053]' },
      '200/comm': 'vector\n',
      '201/fd/7': { link: 'socket:[5054]' },
      '201/comm': 'vector\n',
      '300/comm': 'exited-mid-walk\n',
    });
    const service = await startService({ HOST_PROC: tree.root, UDP_LISTENER_PORTS: 'filebeat=6984,9000,514' });
    try {
      const page = await scrape(service.baseUrl);
      assert.deepEqual(
        samplesOf(page, OWNER).map((s) => s.labels),
        [
          { network_local_port: '6984', udp_listener_name: 'filebeat', process_pid: '100', process_executable_name: 'filebeat' },
          { network_local_port: '9000', process_pid: '200', process_executable_name: 'vector' },
          { network_local_port: '9000', process_pid: '201', process_executable_name: 'vector' },
        ],
      );
      // 514's socket (inode 5048) has no holder in the tree.
      assert.equal(valueOf(page, UNRESOLVED), 1);

      // The socket of 6984 passes to another process (as systemd socket activation does on a restart).
      tree.change({ '100': null, '101/fd/4': { link: 'socket:[5047]' }, '101/comm': 'filebeat\n' });
      const after = await scrape(service.baseUrl);
      const owners6984 = samplesOf(after, OWNER).filter((s) => s.labels.network_local_port === '6984');
      assert.deepEqual(owners6984.map((s) => s.labels.process_pid), ['101']);
      assert.ok(!after.samples.some((s) => s.labels.process_pid === '100'), 'old pid still on the page');
    } finally {
      await service.stop();
      tree.remove();
    }
  });

  it('UDP_LISTENER_OWNERS=false: no owner series and no fd walk', async () => {
    const tree = procTree({ '100/fd/3': { link: 'socket:[5047]' }, '100/comm': 'filebeat\n' });
    const service = await startService({ HOST_PROC: tree.root, UDP_LISTENER_PORTS: '6984', UDP_LISTENER_OWNERS: 'false' });
    try {
      const page = await scrape(service.baseUrl);
      assert.deepEqual(samplesOf(page, OWNER), []);
      assert.equal(valueOf(page, UNRESOLVED), undefined);
      assert.equal(valueOf(page, 'udp_listener_up', { network_local_port: '6984' }), 1);
    } finally {
      await service.stop();
      tree.remove();
    }
  });
});

describe('owners of real processes', () => {
  const holders: SocketHolder[] = [];
  const nobody = new NobodyService();
  after(async () => {
    await Promise.all([...holders.map((h) => h.dispose()), nobody.remove()]);
  });

  async function holder(comm: string | Uint8Array): Promise<SocketHolder> {
    const h = new SocketHolder({ comm: typeof comm === 'string' ? Buffer.from(comm) : comm });
    holders.push(h);
    return h;
  }

  it('names the pid and executable of each holder, and after a restart only the new pid', async () => {
    const shipperA = await holder('shipper-a');
    const shipperB = await holder('shipper-b');
    const a = await shipperA.open({ family: 'ipv6', address: '::', port: NON_EPHEMERAL, v6only: false });
    const b = await shipperB.open({ family: 'ipv4', address: '0.0.0.0', port: NON_EPHEMERAL });
    const service = await startService({ UDP_LISTENER_PORTS: `a=${a.port},b=${b.port}` });
    try {
      const page = await scrape(service.baseUrl);
      assert.equal(valueOf(page, OWNER, { network_local_port: String(a.port), udp_listener_name: 'a', process_pid: String(shipperA.pid), process_executable_name: 'shipper-a' }), 1);
      assert.equal(valueOf(page, OWNER, { network_local_port: String(b.port), udp_listener_name: 'b', process_pid: String(shipperB.pid), process_executable_name: 'shipper-b' }), 1);

      await shipperA.dispose();
      const restarted = await holder('shipper-a');
      await restarted.open({ family: 'ipv6', address: '::', port: a.port, v6only: false });
      const next = await scrape(service.baseUrl);
      const owners = samplesOf(next, OWNER).filter((s) => s.labels.network_local_port === String(a.port));
      assert.deepEqual(owners.map((s) => s.labels.process_pid), [String(restarted.pid)]);
      assert.ok(!next.samples.some((s) => s.labels.process_pid === String(shipperA.pid)), 'the old pid is gone from every series');
      assert.equal(valueOf(next, 'udp_listener_up', { network_local_port: String(a.port), udp_listener_name: 'a' }), 1);
    } finally {
      await service.stop();
    }
  });

  // Process names are whatever bytes a process chose (at most 15): each must come back intact,
  // printable, from the page, through promtool and through the strict Python parser.
  const hostile: [string, Uint8Array, string][] = [
    ['quotes and backslashes', Buffer.from('a"b\\c"d\\'), 'a"b\\c"d\\'],
    ['braces and equals', Buffer.from('x{y="1"}z'), 'x{y="1"}z'],
    ['a newline and a tab', Buffer.from('line1\nline2\tx'), 'line1\\x0aline2\\x09x'],
    ['invalid UTF-8', Buffer.from([0x66, 0xff, 0xfe, 0x6f, 0xc3]), 'f\ufffd\ufffdo\ufffd'],
    ['valid UTF-8 and a comma', Buffer.from('süß,日本'), 'süß,日本'],
    ['a leading hash and spaces', Buffer.from('# TYPE x gauge'), '# TYPE x gauge'],
  ];
  for (const [what, comm, expected] of hostile) {
    it(`keeps the exposition valid with a process name of ${what}`, async (t) => {
      const h = await holder(comm);
      const socket = await h.open({ family: 'ipv4', address: '127.0.0.1', port: NON_EPHEMERAL });
      const service = await startService({ UDP_LISTENER_PORTS: String(socket.port) });
      try {
        const text = await (await fetch(`${service.baseUrl}/metrics`)).text();
        const page = parseExposition(text);
        const [owner] = samplesOf(page, OWNER);
        assert.equal(owner?.labels.process_executable_name, expected);
        assert.equal(owner?.labels.process_pid, String(h.pid));
        const promtool = findTool('promtool');
        if (promtool !== undefined) promtoolLint(promtool, text);
        const parsed = pythonParsedLabel(text);
        if (parsed !== undefined) assert.equal(parsed, expected);
        // A missing parser skips the test visibly (fails it in CI), but only after every check that
        // could run has passed: node:test does not count a failure after t.skip() as a failure.
        if (promtool === undefined) requireTool(t, 'promtool', 'prometheus');
        if (parsed === undefined) t.skip('python3-prometheus-client not installed (apt-get install -y python3-prometheus-client); its parse check skipped locally, required in CI');
      } finally {
        await service.stop();
      }
    });
  }

  // Least privilege: as nobody, only both capabilities together resolve a root process's socket.
  const privileges: [string, string[], boolean][] = [
    ['no capabilities', [], false],
    ['CAP_DAC_READ_SEARCH alone (the fd directory lists, its links do not read)', ['dac_read_search'], false],
    ['CAP_SYS_PTRACE alone (the fd directory does not open)', ['sys_ptrace'], false],
    ['CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE', ['dac_read_search', 'sys_ptrace'], true],
  ];
  for (const [what, capabilities, resolves] of privileges) {
    it(`as nobody with ${what}: ports read correctly, owners of root's sockets ${resolves ? 'are resolved' : 'are unknown and counted'}`, async (t) => {
      if (!requireRoot(t, 'running the service as another user with chosen capabilities')) return;
      const h = await holder('root-shipper');
      const socket = await h.open({ family: 'ipv4', address: '0.0.0.0', port: NON_EPHEMERAL });
      const service = await startService({ UDP_LISTENER_PORTS: String(socket.port) }, await nobody.options(capabilities));
      try {
        assert.match(readFileSync(`/proc/${service.child.pid}/status`, 'utf8'), /^Uid:\s+65534\s/m);
        const page = await scrape(service.baseUrl);
        assert.equal(valueOf(page, 'udp_listener_up', { network_local_port: String(socket.port) }), 1);
        const owner = { network_local_port: String(socket.port), process_pid: String(h.pid), process_executable_name: 'root-shipper' };
        assert.equal(valueOf(page, OWNER, owner), resolves ? 1 : undefined);
        assert.equal(valueOf(page, UNRESOLVED), resolves ? 0 : 1);
        if (!resolves) assert.ok(valueOf(page, 'udp_listener_exporter_unreadable_processes', { lookup: 'owners' })! > 0);
      } finally {
        await service.stop();
      }
    });
  }
});

/** process_executable_name as Debian's python3-prometheus-client reads it, or undefined when it is not installed (never in CI). */
function pythonParsedLabel(text: string): string | undefined {
  if (!pythonParserAvailable()) {
    if (process.env.CI === 'true') throw new Error('python3-prometheus-client is not installed; .ci/run must install it');
    return undefined;
  }
  const owners = parseWithPrometheusClient(text).filter(([name]) => name === OWNER);
  assert.equal(owners.length, 1, JSON.stringify(owners));
  return owners[0]![1].process_executable_name;
}
