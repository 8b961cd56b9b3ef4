/**
 * `udp-listener-exporter check` as a monitoring system runs it: the real command against real
 * sockets this test opens, judged by its exit code and its output, and its JSON compared with
 * what `ss` (netlink sock_diag, a different path to the same kernel state) says.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { CheckReport } from '../src/check/evaluate.js';
import { requireRoot } from './support/privileges.js';
import { procTree } from './support/proc-tree.js';
import { runMain, startMain, type MainOutcome } from './support/service.js';
import { NON_EPHEMERAL, SocketHolder, type HeldSocket } from './support/sockets.js';
import { StuckFuse } from './support/stuck-fuse.js';
import { findTool, requireTool } from './support/tools.js';

const HOLDER_NAME = 'chk-holder';
/**
 * The machine is shared: another suite's 10,000 sockets make a read of the live tables take
 * seconds. A check that gives up at the default 5 s answers UNKNOWN, which is right, but not
 * what these tests are about.
 */
const PATIENT = { UDP_LISTENER_COLLECTION_TIMEOUT: '30s' };
const holders: SocketHolder[] = [];
after(async () => {
  await Promise.all(holders.map((holder) => holder.dispose()));
});

function holder(comm = HOLDER_NAME): SocketHolder {
  const made = new SocketHolder({ comm: Buffer.from(comm) });
  holders.push(made);
  return made;
}

/** A port below the ephemeral range that nothing listens on: bound once, then closed. */
async function freePort(h: SocketHolder): Promise<number> {
  const socket = await h.open({ family: 'ipv4', address: '0.0.0.0', port: NON_EPHEMERAL });
  await h.close(socket);
  return socket.port;
}

/** A socket that never reads, with a tiny receive buffer, flooded until it drops. */
async function floodedSocket(h: SocketHolder): Promise<HeldSocket> {
  const socket = await h.open({ family: 'ipv4', address: '127.0.0.1', port: NON_EPHEMERAL, rcvbuf: 1024 });
  await h.send('ipv4', ['127.0.0.1', socket.port], 50);
  return socket;
}

function check(...args: string[]): Promise<MainOutcome> {
  return runMain(['check', ...args], PATIENT, { timeoutMs: 120_000 });
}

function lines(outcome: MainOutcome): string[] {
  return outcome.stdout.trimEnd().split('\n');
}

describe('check against real sockets', () => {
  let h: SocketHolder;
  let ipv4: HeldSocket;
  let dualStack: HeldSocket;
  let nobody: number;

  before(async () => {
    h = holder();
    ipv4 = await h.open({ family: 'ipv4', address: '0.0.0.0', port: NON_EPHEMERAL });
    dualStack = await h.open({ family: 'ipv6', address: '::', port: NON_EPHEMERAL, v6only: false });
    nobody = await freePort(h);
  });

  it('every port listening: exit 0, an OK line with perfdata, a line per port with its owner', async () => {
    const outcome = await check(`syslog=${ipv4.port}`, String(dualStack.port));
    assert.equal(outcome.code, 0, outcome.stdout + outcome.stderr);
    assert.equal(outcome.stderr, '');
    const [status, ...ports] = lines(outcome);
    // Ports in ascending order, whatever the order of the arguments.
    const byPort = [ipv4, dualStack].sort((a, b) => a.port - b.port);
    const label = (socket: HeldSocket): string => (socket === ipv4 ? `syslog_${socket.port}` : String(socket.port));
    const perfdata = byPort.map((socket) => `'${label(socket)}_sockets'=1;;1:;0 '${label(socket)}_queue'=0B;;;0 '${label(socket)}_drops'=0c;;;0`);
    assert.equal(status, `OK - 2 ports have a listener | ${perfdata.join(' ')}`);
    assert.deepEqual(
      ports,
      byPort.map((socket) => `${socket.port}${socket === ipv4 ? ' (syslog)' : ''}: OK - 1 socket, receive queue 0 B, 0 drops, owner ${HOLDER_NAME} (pid ${h.pid})`),
    );
  });

  it('without PORTSPEC, checks UDP_LISTENER_PORTS; PORTSPEC replaces it, even a broken one', async () => {
    const fromEnvironment = await runMain(['check'], { ...PATIENT, UDP_LISTENER_PORTS: `syslog=${ipv4.port},${nobody}` }, { timeoutMs: 120_000 });
    assert.equal(fromEnvironment.code, 2);
    assert.match(lines(fromEnvironment)[0]!, new RegExp(`^CRITICAL - no listener on ${nobody}: 1 of 2 ports up \\| `));
    const replaced = await runMain(['check', String(ipv4.port)], { ...PATIENT, UDP_LISTENER_PORTS: 'not a port list' }, { timeoutMs: 120_000 });
    assert.equal(replaced.code, 0, replaced.stdout);
  });

  it('reads only what a collection needs: the service\'s web configuration, export and endpoint settings do not make it UNKNOWN', async () => {
    // A monitoring user shares the service's environment file but may not read its web
    // configuration (mode 0600); a bad OTLP or endpoint value is the service's concern.
    const env = {
      ...PATIENT,
      UDP_LISTENER_WEB_CONFIG_FILE: '/nonexistent/web-config.yml',
      OTEL_EXPORTER_PROMETHEUS_PORT: 'http',
      OTEL_METRICS_EXPORTER: 'carrier-pigeon',
      OTEL_EXPORTER_OTLP_HEADERS: 'no-equals-sign',
    };
    const outcome = await runMain(['check', String(ipv4.port)], env, { timeoutMs: 120_000 });
    assert.equal(outcome.code, 0, outcome.stdout + outcome.stderr);
    // The same environment stops the service, which needs them.
    const service = await runMain([], env, { timeoutMs: 120_000 });
    assert.equal(service.code, 2, service.stderr);
    // What a collection needs is still checked.
    const bad = await runMain(['check', String(ipv4.port)], { ...env, UDP_LISTENER_OWNERS: 'yes' }, { timeoutMs: 120_000 });
    assert.equal(bad.code, 3, bad.stdout);
    assert.match(bad.stdout, /UDP_LISTENER_OWNERS: "yes"/);
  });

  it('a port without a listener: exit 2, CRITICAL naming it and its name first', async () => {
    const outcome = await check(`syslog=${ipv4.port}`, `filebeat=${nobody}`);
    assert.equal(outcome.code, 2, outcome.stdout);
    const [status, ...ports] = lines(outcome);
    assert.match(status!, new RegExp(`^CRITICAL - no listener on ${nobody} \\(filebeat\\): 1 of 2 ports up \\| .*'filebeat_${nobody}_sockets'=0;;1:;0`));
    assert.ok(ports.includes(`${nobody} (filebeat): CRITICAL - no listener`), ports.join('\n'));
  });

  it('a flooded socket that never reads: drops alone are OK; dropping within --window is WARNING (1)', async () => {
    const flood = holder('chk-flooded');
    const socket = await floodedSocket(flood);
    const once = await check(String(socket.port));
    assert.equal(once.code, 0, once.stdout);
    assert.match(lines(once)[1]!, new RegExp(`^${socket.port}: OK - 1 socket, receive queue \\d+ B, [1-9]\\d* drops, owner chk-flooded`));

    // The queue is full: every datagram sent while the check waits between its reads is dropped.
    const windowed = startMain(['check', '--window', '1s', String(socket.port)], PATIENT, { timeoutMs: 120_000 });
    let sending = true;
    void windowed.done.then(() => (sending = false));
    while (sending) await flood.send('ipv4', ['127.0.0.1', socket.port], 20);
    const outcome = await windowed.done;
    assert.equal(outcome.code, 1, outcome.stdout);
    const [status, port] = lines(outcome);
    assert.match(status!, new RegExp(`^WARNING - ${socket.port}: [1-9]\\d* drops in 1s \\| .*'${socket.port}_drops_in_window'=[1-9]\\d*;0;;0$`));
    assert.match(port!, new RegExp(`^${socket.port}: WARNING - [1-9]\\d* drops in 1s; 1 socket, `));
  });

  it('--queue-warning and --queue-critical: a full queue above them is WARNING (1) or CRITICAL (2)', async () => {
    const socket = await floodedSocket(holder('chk-queue'));
    assert.equal((await check('--queue-warning', '1', String(socket.port))).code, 1);
    const critical = await check('--queue-warning', '1', '--queue-critical', '2', String(socket.port));
    assert.equal(critical.code, 2);
    assert.match(lines(critical)[0]!, new RegExp(`^CRITICAL - ${socket.port}: receive queue \\d+ B, above 2 B \\| .*'${socket.port}_queue'=\\d+B;1;2;0`));
    assert.equal((await check('--queue-warning', '100000000', String(socket.port))).code, 0);
  });

  it('--wait: a listener that appears while it waits makes the answer OK', async () => {
    const late = holder('chk-late');
    const port = await freePort(late);
    // At debug level the first collection says it is confirming the missing listener: the
    // check has read the tables once and found nothing by then.
    const waiting = startMain(['check', '--wait', '20s', `late=${port}`], { ...PATIENT, OTEL_LOG_LEVEL: 'debug' }, { timeoutMs: 120_000 });
    while (!waiting.stderr().includes('listeners missing since the last collection') && waiting.child.exitCode === null) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(waiting.child.exitCode, null, 'the check did not wait');
    await late.open({ family: 'ipv4', address: '0.0.0.0', port });
    const outcome = await waiting.done;
    assert.equal(outcome.code, 0, outcome.stdout + outcome.stderr);
    assert.match(lines(outcome)[0]!, /^OK - 1 port has a listener \| /);
  });

  it('--wait gives up at its deadline with the usual verdict (2)', async () => {
    const outcome = await check('--wait', '600ms', String(nobody));
    assert.equal(outcome.code, 2);
  });
});

describe('check when procfs cannot be read', () => {
  const cases: [string, Record<string, string> | (() => { env: Record<string, string>; remove(): void }), RegExp][] = [
    ['HOST_PROC does not exist', { HOST_PROC: '/nonexistent/proc' }, /^UNKNOWN - configuration error: HOST_PROC: "\/nonexistent\/proc": cannot be read: ENOENT$/],
    [
      'the socket table is missing',
      () => {
        const tree = procTree({ '1/net/udp': null });
        return { env: { HOST_PROC: tree.root }, remove: tree.remove };
      },
      /^UNKNOWN - cannot read the socket tables: \S+\/1\/net\/udp: ENOENT/,
    ],
    [
      'the socket table is malformed',
      () => {
        const tree = procTree({ '1/net/udp': 'not a socket table\n' });
        return { env: { HOST_PROC: tree.root }, remove: tree.remove };
      },
      /^UNKNOWN - cannot read the socket tables: \S+\/1\/net\/udp:1: field header: /,
    ],
    [
      'the socket table is a FIFO nobody writes',
      () => {
        const tree = procTree({ '1/net/udp6': 'fifo' });
        return { env: { HOST_PROC: tree.root }, remove: tree.remove };
      },
      /^UNKNOWN - cannot read the socket tables: \S+\/1\/net\/udp6: not a regular file$/,
    ],
  ];
  for (const [name, setUp, status] of cases) {
    it(`${name}: exit 3, UNKNOWN with the reason, with and without --window`, async () => {
      const fixture = typeof setUp === 'function' ? setUp() : { env: setUp, remove: () => undefined };
      try {
        for (const args of [['check', '514'], ['check', '--window', '5s', '514']]) {
          const outcome = await runMain(args, fixture.env);
          assert.equal(outcome.code, 3, outcome.stdout);
          assert.match(lines(outcome)[0]!, status);
          assert.ok(!outcome.stdout.includes('|'), 'no perfdata without data');
        }
        const json = JSON.parse((await runMain(['check', '--json', '514'], fixture.env)).stdout) as CheckReport;
        assert.equal(json.status, 'UNKNOWN');
        assert.deepEqual(json.ports.map((port) => [port.port, port.up]), [[514, null]]);
        assert.ok(json.errors.length > 0);
      } finally {
        fixture.remove();
      }
    });
  }

  it('a read stuck in the kernel (FUSE): UNKNOWN within the collection timeout, never another verdict', async (t) => {
    const fuse = await StuckFuse.mountForTest(t);
    if (fuse === undefined) return;
    let released = false;
    try {
      await fuse.block('1/net/udp');
      const running = startMain(['check', '514'], { HOST_PROC: fuse.mountpoint, UDP_LISTENER_COLLECTION_TIMEOUT: '500ms' }, { timeoutMs: 60_000 });
      // The answer is printed while the read is still held: the check does not wait for it.
      while (!running.stdout().includes('\n') && running.child.exitCode === null && running.child.signalCode === null) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.match(running.stdout(), /^UNKNOWN - cannot read the socket tables: \S+\/1\/net\/udp: read did not finish within \d+ ms\n/);
      // A read being answered by a FUSE daemon cannot be interrupted, not even by SIGKILL: the
      // process can only end once it returns. Then it ends with 3, or, when the read is still
      // held after a grace period, by SIGTERM (exit() would wait for the read forever): never a
      // code a monitoring system reads as OK, WARNING or CRITICAL.
      await fuse.release('1/net/udp');
      released = true;
      const outcome = await running.done;
      assert.ok(outcome.code === 3 || outcome.signal === 'SIGTERM', `${outcome.code} ${outcome.signal}: ${outcome.stderr}`);
    } finally {
      if (!released) await fuse.release('1/net/udp');
      await fuse.unmount();
    }
  });
});

/** ss's view of one UDP port's unconnected sockets. */
interface SsPort {
  sockets: number;
  receiveQueue: number;
  drops: number;
  pids: Set<number>;
  names: Set<string>;
}

/** `ss -uanpmH`: `UNCONN recv-q send-q local peer users:((...))` then a tab-indented skmem line. */
function ssPorts(ss: string, ports: readonly number[]): Map<number, SsPort> {
  const result = new Map<number, SsPort>(ports.map((port) => [port, { sockets: 0, receiveQueue: 0, drops: 0, pids: new Set(), names: new Set() }]));
  const text = ss.replace(/\n\s+skmem:/g, ' skmem:');
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] !== 'UNCONN') continue;
    const port = Number(/:(\d+)$/.exec(fields[3]!)?.[1]);
    const entry = result.get(port);
    if (entry === undefined) continue;
    entry.sockets++;
    entry.receiveQueue += Number(fields[1]);
    entry.drops += Number(/skmem:\(.*\bd(\d+)\)/.exec(line)![1]);
    for (const [, name, pid] of line.matchAll(/\("([^"]*)",pid=(\d+),fd=\d+\)/g)) {
      entry.names.add(name!);
      entry.pids.add(Number(pid));
    }
  }
  return result;
}

describe('check --json compared with ss', () => {
  it('has, per port, the sockets, receive queue, drops and owners that ss reports', async (t) => {
    const ss = requireTool(t, 'ss', 'iproute2');
    if (ss === undefined) return;
    const a = holder('chk-json-a');
    const b = holder('chk-json-b');
    // Port 1: an IPv4 and an IPv6-only socket. Port 2: SO_REUSEPORT siblings in two processes.
    // Port 3: a socket that never reads, its queue full and dropping. Port 4: nothing.
    const v4 = await a.open({ family: 'ipv4', address: '0.0.0.0', port: NON_EPHEMERAL });
    await a.open({ family: 'ipv6', address: '::', port: v4.port, v6only: true });
    const shared = await a.open({ family: 'ipv4', address: '127.0.0.1', port: NON_EPHEMERAL, reuseport: true });
    await b.open({ family: 'ipv4', address: '127.0.0.1', port: shared.port, reuseport: true });
    const flooded = await floodedSocket(b);
    const none = await freePort(b);
    const ports = [v4.port, shared.port, flooded.port, none];

    const outcome = await check('--json', `both=${v4.port}`, `shared=${shared.port}`, String(flooded.port), String(none));
    assert.equal(outcome.code, 2, outcome.stdout);
    const report = JSON.parse(outcome.stdout) as CheckReport;
    const seen = ssPorts(execFileSync(ss, ['-uanpmH'], { encoding: 'utf8' }), ports);

    assert.equal(report.status, 'CRITICAL');
    assert.deepEqual(report.ports.map((port) => port.port), [...ports].sort((x, y) => x - y));
    for (const port of report.ports) {
      const expected = seen.get(port.port)!;
      const what = `port ${port.port}: ${JSON.stringify(port)} vs ss ${JSON.stringify({ ...expected, pids: [...expected.pids], names: [...expected.names] })}`;
      assert.equal(port.up, expected.sockets > 0, what);
      assert.equal(port.sockets, expected.sockets, what);
      assert.equal(port.receive_queue_bytes, expected.receiveQueue, what);
      assert.equal(port.drops, expected.drops, what);
      assert.deepEqual(new Set(port.owners.map((owner) => owner.pid)), expected.pids, what);
      assert.deepEqual(new Set(port.owners.map((owner) => owner.executable_name)), expected.names, what);
    }
    // What the shapes above must have made, so that the comparison compared something.
    const byPort = new Map(report.ports.map((port) => [port.port, port]));
    assert.equal(byPort.get(v4.port)!.sockets, 2);
    assert.equal(byPort.get(shared.port)!.owners.length, 2);
    assert.ok(byPort.get(flooded.port)!.drops! > 0 && byPort.get(flooded.port)!.receive_queue_bytes! > 0);
    assert.equal(byPort.get(none)!.up, false);
    assert.deepEqual(byPort.get(v4.port)!.name, 'both');
    assert.deepEqual(report.errors, []);
  });
});

describe('check with UDP_LISTENER_NETNS=all', () => {
  const namespace = `udp-exporter-check-${process.pid}`;
  let created = false;

  function available(t: TestContext): boolean {
    if (!requireRoot(t, 'creating a network namespace (ip netns add)')) return false;
    if (findTool('ip') === undefined) {
      if (process.env.CI === 'true') throw new Error('ip (iproute2) is missing; .ci/run must install it');
      t.skip('ip (iproute2) not installed');
      return false;
    }
    return true;
  }
  after(() => {
    if (created) execFileSync('ip', ['netns', 'del', namespace]);
  });

  it('a port that listens only in another namespace: CRITICAL for the host alone, OK with all, naming the namespace', async (t) => {
    if (!available(t)) return;
    execFileSync('ip', ['netns', 'add', namespace]);
    created = true;
    const inode = statSync(`/run/netns/${namespace}`).ino;
    const inside = new SocketHolder({ prefix: ['ip', 'netns', 'exec', namespace], comm: Buffer.from('ns-shipper') });
    holders.push(inside);
    const outside = holder();
    // A port free on the host too, so that only the namespace listens on it.
    let port = 0;
    for (;;) {
      port = await freePort(outside);
      const socket = await inside.open({ family: 'ipv4', address: '0.0.0.0', port });
      if (execFileSync('ss', ['-Hun', 'sport', `= :${port}`], { encoding: 'utf8' }).trim() === '') break;
      await inside.close(socket);
    }
    assert.equal((await check(`ns=${port}`)).code, 2);
    const all = await runMain(['check', `ns=${port}`], { ...PATIENT, UDP_LISTENER_NETNS: 'all' }, { timeoutMs: 120_000 });
    assert.equal(all.code, 0, all.stdout);
    assert.match(lines(all)[1]!, new RegExp(`^${port} \\(ns\\): OK - 1 socket, receive queue 0 B, 0 drops, owner ns-shipper \\(pid \\d+\\), in netns ${inode}$`));
    const json = JSON.parse((await runMain(['check', '--json', `ns=${port}`], { ...PATIENT, UDP_LISTENER_NETNS: 'all' }, { timeoutMs: 120_000 })).stdout) as CheckReport;
    assert.deepEqual(json.ports[0]!.netns, [{ inode, host: false, container_id: null, pod_uid: null, sockets: 1, receive_queue_bytes: 0, drops: 0 }]);
  });
});
