/**
 * The single executable (`npm run sea`): built from this checkout, copied alone into an empty
 * directory and run from there with an environment that has no node on PATH, so that nothing
 * outside the file can be what answers: the command line, /metrics byte for byte, OTLP over
 * each protocol (gRPC and protobuf bundled), and a web configuration with basic auth (YAML and
 * bcrypt, which the service loads only when used, bundled too), and the netlink source: koffi's
 * native binding, carried inside the file, is loaded from a copy that has no name on disk, by
 * the main thread and by the worker threads that enter other network namespaces (root only)
 * alike, and a TMPDIR it cannot be loaded from stops the service, saying so.
 *
 * Node builds the file with `node --build-sea`, which Node 25.5 brought; the file is built by the
 * newest LTS, which .ci/run's second pass runs. On older Nodes the test skips, saying so.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { assertServesRealListener, expectedVersionText, runCommand } from './support/artifact.js';
import { parseExposition, valueOf } from './support/exposition.js';
import { assertServesGoldenPages } from './support/golden.js';
import { get } from './support/https.js';
import { listenerSeries, NetworkNamespace, scrapeBothSources } from './support/netlink.js';
import { metricNamed, OtlpReceiver, type OtlpTransport } from './support/otlp-receiver.js';
import { REPO_ROOT } from './support/paths.js';
import { requireRoot } from './support/privileges.js';
import { startService, type ServiceProcess, type StartOptions } from './support/service.js';
import { NON_EPHEMERAL, SocketHolder } from './support/sockets.js';

const run = promisify(execFile);

/** The Node line .build/sea.mjs builds with. */
const SEA_NODE_MAJOR = 26;
const RUNNING_MAJOR = Number(process.versions.node.split('.')[0]);
const { version } = JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { version: string };
/** Nothing to find a node or a node_modules with. */
const NO_NODE = { PATH: '/nonexistent' };
/** exporter-toolkit's example hash: bcrypt cost 10 of "fakepassword" (as in web-security.test.ts). */
const HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';

function canBuild(t: TestContext): boolean {
  if (RUNNING_MAJOR >= SEA_NODE_MAJOR) return true;
  t.skip(`the single executable is built by Node ${SEA_NODE_MAJOR} (node --build-sea), and this is Node ${process.versions.node}: it runs in .ci/run's Node ${SEA_NODE_MAJOR} pass`);
  return false;
}

interface KoffiCopies {
  /** The lines of /proc/<pid>/maps that map koffi's binding. */
  readonly lines: string[];
  /** The distinct files they map, as device and inode. */
  readonly inodes: Set<string>;
}

/** Where koffi's native binding is mapped in the service's memory. */
function koffiCopies(service: ServiceProcess): KoffiCopies {
  const lines = readFileSync(`/proc/${service.child.pid}/maps`, 'utf8').split('\n').filter((line) => line.includes('koffi.node'));
  return { lines, inodes: new Set(lines.map((line) => line.split(/\s+/).slice(3, 5).join(' '))) };
}

/**
 * Every name created (or removed) in `directory` from now on, as inotify reports them.
 * settled() waits until all that happened before it have arrived: it makes a file of its
 * own and waits for that, which the kernel reports after them.
 */
function watchNames(directory: string): { settled(): Promise<Set<string>> } {
  const marker = 'settled';
  const names = new Set<string>();
  let markerArrived: () => void = () => undefined;
  // Not persistent: a test that fails before settled() must not keep the process alive.
  const watcher = watch(directory, { persistent: false }, (_, name) => {
    if (name === marker) markerArrived();
    else if (name !== null) names.add(name);
  });
  return {
    async settled() {
      let timer: NodeJS.Timeout | undefined;
      try {
        await new Promise<void>((resolve, reject) => {
          markerArrived = resolve;
          timer = setTimeout(() => reject(new Error(`inotify did not report ${marker} in ${directory} within 10 s`)), 10_000);
          writeFileSync(path.join(directory, marker), '');
        });
      } finally {
        clearTimeout(timer);
        watcher.close();
      }
      return names;
    },
  };
}

describe('the single executable', { timeout: 300_000 }, () => {
  // Only the file itself is moved in here; the build happens elsewhere.
  let alone: string;
  let executable: string;
  let options: StartOptions;

  before(async () => {
    if (RUNNING_MAJOR < SEA_NODE_MAJOR) return;
    const build = mkdtempSync(path.join(tmpdir(), 'udp-listener-exporter-sea-build-'));
    try {
      const built = path.join(build, 'udp-listener-exporter');
      await run(process.execPath, [path.join(REPO_ROOT, '.build', 'sea.mjs'), '--output', built], { timeout: 240_000 });
      alone = mkdtempSync(path.join(tmpdir(), 'udp-listener-exporter-sea-'));
      executable = path.join(alone, 'udp-listener-exporter');
      renameSync(built, executable);
    } finally {
      rmSync(build, { recursive: true, force: true });
    }
    options = { executable, cwd: alone };
  });
  after(() => {
    if (alone !== undefined) rmSync(alone, { recursive: true, force: true });
  });

  it('is one executable file of its own', (t) => {
    if (!canBuild(t)) return;
    const { mode, size } = statSync(executable);
    assert.ok((mode & 0o111) !== 0, 'executable');
    assert.ok(size > 50 * 1024 * 1024, `the Node runtime is inside: ${size} bytes`);
  });

  it('answers --version (with the Node inside it) and --help, and refuses an unknown flag with 2, with no node on PATH', async (t) => {
    if (!canBuild(t)) return;
    const versionOutcome = await runCommand(executable, ['--version'], NO_NODE, alone);
    assert.deepEqual(versionOutcome, { code: 0, stdout: expectedVersionText(version, process.versions.node), stderr: '' });
    const help = await runCommand(executable, ['--help'], NO_NODE, alone);
    assert.equal(help.code, 0, help.stderr);
    assert.equal(help.stderr, '');
    assert.match(help.stdout, /^Usage: udp-listener-exporter/);
    assert.deepEqual(await runCommand(executable, ['--bogus'], NO_NODE, alone), { code: 2, stdout: '', stderr: 'udp-listener-exporter: unknown option --bogus (see --help)\n' });
  });

  it('serves /metrics: a real UDP listener is up, a closed port is not', async (t) => {
    if (!canBuild(t)) return;
    await assertServesRealListener(options, NO_NODE);
  });

  it('serves every golden page byte for byte, as the checkout does', async (t) => {
    if (!canBuild(t)) return;
    await assertServesGoldenPages(options, NO_NODE);
  });

  const protocols: readonly (readonly ['grpc' | 'http/protobuf' | 'http/json', OtlpTransport])[] = [['grpc', 'grpc'], ['http/protobuf', 'http'], ['http/json', 'http']];
  for (const [protocol, transport] of protocols) {
    it(`pushes OTLP over ${protocol}`, async (t) => {
      if (!canBuild(t)) return;
      const receiver = await OtlpReceiver.start({ transport });
      try {
        const arrived = receiver.waitFor((r) => metricNamed(r.decoded, 'udp.listener.up') !== undefined, 20_000);
        const service = await startService(
          { ...NO_NODE, OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.baseUrl, OTEL_METRIC_EXPORT_INTERVAL: '300', UDP_LISTENER_PORTS: '514' },
          options,
        );
        let exitCode: number | null;
        try {
          const request = await arrived;
          assert.equal(request.transport, protocol);
        } finally {
          exitCode = await service.stop();
        }
        assert.equal(exitCode, 0, service.stderr());
      } finally {
        await receiver.close();
      }
    });
  }

  it('serves over netlink the listener series procfs serves, from a copy of its native binding with no name on disk', async (t) => {
    if (!canBuild(t)) return;
    const holder = new SocketHolder({ comm: Buffer.from('sea-nl') });
    const temporary = mkdtempSync(path.join(tmpdir(), 'udp-listener-exporter-sea-tmp-'));
    try {
      const listener = await holder.open({ family: 'ipv4', address: '127.0.0.1', port: NON_EPHEMERAL, rcvbuf: 4096 });
      const dual = await holder.open({ family: 'ipv6', address: '::', port: NON_EPHEMERAL, v6only: false });
      await holder.send('ipv4', ['127.0.0.1', listener.port], 20, 700);
      const ports = new Set([listener.port, dual.port]);
      let copies: KoffiCopies | undefined;
      const [fromProcfs, fromNetlink] = await scrapeBothSources({ ...NO_NODE, TMPDIR: temporary, UDP_LISTENER_PORTS: [...ports].join(',') }, options, (netlink) => {
        copies = koffiCopies(netlink);
      });
      const expected = listenerSeries(fromProcfs, ports);
      assert.ok(expected.length >= 3 * ports.size, `procfs reported only ${expected.length} series`);
      assert.deepEqual(listenerSeries(fromNetlink, ports), expected);
      // Series only netlink has: it really is the source.
      assert.ok(valueOf(fromNetlink, 'udp_listener_receive_buffer_bytes', { network_local_port: String(listener.port) })! > 0);
      assert.equal(valueOf(fromNetlink, 'udp_listener_exporter_read_success', { file_path: 'netlink:sock_diag/udp6' }), 1);
      assert.equal(copies!.inodes.size, 1, copies!.lines.join('\n'));
      assert.match(copies!.lines[0]!, new RegExp(`${temporary}/udp-listener-exporter-[^/]+/koffi\\.node \\(deleted\\)$`));
      assert.deepEqual(readdirSync(temporary), [], 'nothing is left in TMPDIR');
    } finally {
      await holder.dispose();
      rmSync(temporary, { recursive: true, force: true });
    }
  });

  it('reads another network namespace over netlink (UDP_LISTENER_NETNS=all) through a worker that loads the main thread\'s copy of the binding', async (t) => {
    if (!canBuild(t) || !requireRoot(t, 'a network namespace of its own (ip netns add) and setns into it')) return;
    const namespace = new NetworkNamespace(`udp-exporter-sea-${process.pid}`);
    const holder = new SocketHolder({ prefix: namespace.exec(), comm: Buffer.from('sea-nl-ns') });
    const temporary = mkdtempSync(path.join(tmpdir(), 'udp-listener-exporter-sea-tmp-'));
    try {
      const listener = await holder.open({ family: 'ipv4', address: '0.0.0.0', port: NON_EPHEMERAL });
      await holder.send('ipv4', ['127.0.0.1', listener.port], 2, 64);
      const created = watchNames(temporary);
      const [fromProcfs, fromNetlink] = await scrapeBothSources({ ...NO_NODE, TMPDIR: temporary, UDP_LISTENER_NETNS: 'all', UDP_LISTENER_PORTS: String(listener.port) }, options);
      const ports = new Set([listener.port]);
      assert.deepEqual(listenerSeries(fromNetlink, ports), listenerSeries(fromProcfs, ports));
      const labels = { network_local_port: String(listener.port), linux_netns_inode: String(namespace.inode) };
      assert.equal(valueOf(fromNetlink, 'udp_listener_up', labels), 1);
      assert.ok(valueOf(fromNetlink, 'udp_listener_receive_buffer_bytes', labels)! > 0);
      assert.equal(valueOf(fromNetlink, 'udp_listener_exporter_read_success', { file_path: 'netlink:<pid>/sock_diag/udp' }), 1);
      // The main thread made one copy; a worker that made its own would have made another.
      assert.equal((await created.settled()).size, 1);
    } finally {
      await holder.dispose();
      namespace.delete();
      rmSync(temporary, { recursive: true, force: true });
    }
  });

  it('refuses the netlink source when TMPDIR cannot hold its binding (mounted noexec), as a configuration error naming TMPDIR (exit 2)', async (t) => {
    if (!canBuild(t) || !requireRoot(t, 'mounting a noexec tmpfs')) return;
    const noexec = mkdtempSync(path.join(tmpdir(), 'udp-listener-exporter-noexec-'));
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'noexec,size=4m', 'tmpfs', noexec]);
      try {
        const refused = await runCommand(executable, [], { ...NO_NODE, TMPDIR: noexec, UDP_LISTENER_SOURCE: 'netlink', OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: '0' }, alone);
        assert.equal(refused.code, 2, refused.stderr);
        assert.match(refused.stderr, /msg="start-up failed" error="UDP_LISTENER_SOURCE: \\"netlink\\": the netlink binding \(koffi\) cannot load here: koffi's native binding, carried in the single executable, cannot load from a copy in .* \(TMPDIR: .*not be mounted noexec\): .*failed to map segment/);
        assert.deepEqual(readdirSync(noexec), []);
      } finally {
        await run('umount', [noexec]);
      }
    } finally {
      rmSync(noexec, { recursive: true, force: true });
    }
  });

  it('reads a web configuration file and checks basic auth (YAML and bcrypt bundled)', async (t) => {
    if (!canBuild(t)) return;
    const configDirectory = path.join(alone, 'config');
    mkdirSync(configDirectory);
    const webConfig = path.join(configDirectory, 'web.yml');
    writeFileSync(webConfig, `basic_auth_users:\n  prometheus: ${HASH}\n`);
    const service = await startService({ ...NO_NODE, UDP_LISTENER_PORTS: '514', UDP_LISTENER_WEB_CONFIG_FILE: webConfig }, options);
    let exitCode: number | null;
    try {
      const allowed = await get(`${service.baseUrl}/metrics`, { auth: ['prometheus', 'fakepassword'] });
      assert.equal(allowed.status, 200);
      assert.notEqual(valueOf(parseExposition(allowed.body.toString()), 'udp_listener_up', { network_local_port: '514' }), undefined);
      assert.equal((await get(`${service.baseUrl}/metrics`, { auth: ['prometheus', 'wrong'] })).status, 401);
    } finally {
      exitCode = await service.stop();
    }
    assert.equal(exitCode, 0, service.stderr());
  });
});
