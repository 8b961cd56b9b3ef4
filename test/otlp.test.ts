/**
 * OTLP push as a Collector receives it: the real service process sends to a receiver in the test
 * that decodes the wire format (protobuf, JSON, gRPC; gzip), while the test holds a real open
 * port and leaves another closed. The same resource also reaches /metrics as target_info.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { METRICS } from '../src/telemetry/metrics.js';
import { collectorLabelName, collectorMetricName } from './support/collector-naming.js';
import { samplesOf, scrape, valueOf } from './support/exposition.js';
import { metricNamed, OtlpReceiver, type Behaviour, type DecodedExport, type OtlpTransport, type ReceivedRequest } from './support/otlp-receiver.js';
import { until } from './support/prometheus.js';
import { startService, type ServiceProcess } from './support/service.js';
import { NON_EPHEMERAL, SocketHolder, type HeldSocket } from './support/sockets.js';

const holder = new SocketHolder();
let open: HeldSocket;
let closedPort: number;

before(async () => {
  open = await holder.open({ family: 'ipv4', address: '0.0.0.0', port: NON_EPHEMERAL });
  const probe = await holder.open({ family: 'ipv4', address: '0.0.0.0', port: NON_EPHEMERAL });
  closedPort = probe.port;
  await holder.close(probe);
});
after(() => holder.dispose());

const PACKAGE_VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

const hasListenerMetrics = (r: ReceivedRequest) => metricNamed(r.decoded, 'udp.listener.up') !== undefined;

/** The value of a metric's data point with these attributes (ints arrive as bigint). */
function pointValue(decoded: DecodedExport, name: string, attributes: Record<string, string | bigint>): number | undefined {
  const metric = metricNamed(decoded, name);
  const point = metric?.dataPoints.find(
    (p) => Object.keys(p.attributes).length === Object.keys(attributes).length && Object.entries(attributes).every(([k, v]) => p.attributes[k] === v),
  );
  return point?.value;
}

function otlpEnv(receiver: OtlpReceiver, extra: Record<string, string> = {}): Record<string, string> {
  return {
    OTEL_METRICS_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.baseUrl,
    OTEL_METRIC_EXPORT_INTERVAL: '300',
    UDP_LISTENER_PORTS: `shipper=${open.port},${closedPort}`,
    ...extra,
  };
}

/**
 * Runs body against a started service, then stops it. When body fails, that failure is what the
 * test reports: the service is still stopped, but its exit code is not asserted. Only after body
 * succeeded must the service exit 0 on SIGTERM (a body may stop it itself; stop() then returns the
 * code it exited with).
 */
async function withService(env: Record<string, string>, body: (service: ServiceProcess) => Promise<void>): Promise<void> {
  const service = await startService(env);
  try {
    await body(service);
  } catch (error) {
    await service.stop().catch(() => undefined);
    throw error;
  }
  assert.equal(await service.stop(), 0, `exit code after SIGTERM; stderr:\n${service.stderr()}`);
}

/**
 * withService for a service pushing to an OTLP receiver started for it: otlpEnv plus `env`, which
 * may need the receiver's URL. The receiver is closed on every path, after the service stopped so
 * that the final flush on SIGTERM still reaches it; a request it could not decode fails the test
 * there unless body already failed.
 */
async function withOtlpService(
  env: Record<string, string> | ((receiver: OtlpReceiver) => Record<string, string>),
  options: { transport: OtlpTransport; behaviour?: Behaviour },
  body: (service: ServiceProcess, receiver: OtlpReceiver) => Promise<void>,
): Promise<void> {
  const receiver = await OtlpReceiver.start(options);
  try {
    await withService(otlpEnv(receiver, typeof env === 'function' ? env(receiver) : env), (service) => body(service, receiver));
  } catch (error) {
    await receiver.close().catch(() => undefined);
    throw error;
  }
  await receiver.close();
}

const FAILED_EXPORTS = 'udp_listener_exporter_otlp_export_failures_total';

/** Scrapes every 100 ms until the failed-export counter reaches `atLeast`; throws after timeoutMs. */
async function untilFailedExports(service: ServiceProcess, atLeast: number, timeoutMs: number): Promise<void> {
  let seen: number | undefined;
  await until(
    `${FAILED_EXPORTS} >= ${atLeast}`,
    async () => {
      seen = valueOf(await scrape(service.baseUrl), FAILED_EXPORTS);
      return seen !== undefined && seen >= atLeast ? true : undefined;
    },
    () => `last seen: ${seen}\n${service.stderr()}`,
    timeoutMs,
    100,
  );
}

describe('OTLP on the wire', () => {
  const transports: [string, 'http' | 'grpc', Record<string, string>, ReceivedRequest['transport'], boolean][] = [
    ['http/protobuf', 'http', {}, 'http/protobuf', false],
    ['http/protobuf with gzip', 'http', { OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }, 'http/protobuf', true],
    ['http/json', 'http', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, 'http/json', false],
    ['http/json with gzip', 'http', { OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: 'gzip' }, 'http/json', true],
    ['grpc', 'grpc', { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'grpc', false],
    ['grpc with gzip', 'grpc', { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }, 'grpc', true],
  ];
  for (const [name, transport, env, expectedTransport, gzip] of transports) {
    it(`${name}: names, units, values of an open and a closed port, attributes, resource and headers`, async () => {
      const withHeadersAndResource = {
        ...env,
        OTEL_EXPORTER_OTLP_HEADERS: 'x-scope-orgid=platform%20team',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test,host.name=override-host',
      };
      await withOtlpService(withHeadersAndResource, { transport }, async (_service, receiver) => {
        const request = await receiver.waitFor(hasListenerMetrics, 10_000, { includeEarlier: true });
        assert.equal(request.transport, expectedTransport);
        assert.equal(request.gzip, gzip);
        assert.equal(request.headers['x-scope-orgid'], 'platform team');
        if (transport === 'http') assert.equal(request.path, '/v1/metrics');
        const { decoded } = request;

        assert.equal(pointValue(decoded, 'udp.listener.up', { 'network.local.port': BigInt(open.port), 'udp.listener.name': 'shipper' }), 1);
        assert.equal(pointValue(decoded, 'udp.listener.up', { 'network.local.port': BigInt(closedPort) }), 0);
        assert.equal(pointValue(decoded, 'udp.listener.sockets', { 'network.local.port': BigInt(open.port), 'udp.listener.name': 'shipper' }), 1);
        const owners = metricNamed(decoded, 'udp.listener.owner.info')!.dataPoints;
        assert.deepEqual(owners.map((p) => p.attributes['process.pid']), [BigInt(holder.pid)]);

        const drops = metricNamed(decoded, 'udp.listener.drops')!;
        assert.deepEqual([drops.kind, drops.isMonotonic, drops.aggregationTemporality, drops.unit], ['sum', true, 'cumulative', '{datagram}']);
        const queue = metricNamed(decoded, 'udp.listener.receive_queue.bytes')!;
        assert.deepEqual([queue.kind, queue.unit], ['gauge', 'By']);
        assert.ok(queue.description.length > 20);

        const resource = decoded.resourceAttributes;
        assert.equal(resource['service.name'], 'udp-listener-exporter');
        assert.equal(resource['service.version'], PACKAGE_VERSION);
        assert.equal(resource['deployment.environment.name'], 'test');
        assert.equal(resource['host.name'], 'override-host');
        assert.equal(resource['service.instance.id'], hostname());
        assert.equal(typeof resource['host.arch'], 'string');
        assert.equal(resource['telemetry.sdk.language'], 'nodejs');
      });
    });
  }

  it('the Collector\'s prometheus exporter would show exactly the names of the direct scrape', async () => {
    await withOtlpService({ OTEL_METRICS_EXPORTER: 'prometheus,otlp' }, { transport: 'http' }, async (service, receiver) => {
      const { decoded } = await receiver.waitFor(hasListenerMetrics, 10_000, { includeEarlier: true });
      const page = await scrape(service.baseUrl);
      const viaCollector = new Set<string>();
      const labelsViaCollector = new Set<string>();
      for (const metric of decoded.scopes.flatMap((s) => s.metrics)) {
        const type = metric.kind === 'sum' ? (metric.isMonotonic ? 'counter' : 'nonmonotonic_sum') : 'gauge';
        viaCollector.add(collectorMetricName(metric.name, metric.unit, type));
        for (const point of metric.dataPoints) for (const key of Object.keys(point.attributes)) labelsViaCollector.add(collectorLabelName(key));
      }
      const direct = new Set(page.samples.map((s) => s.name).filter((n) => n !== 'target_info'));
      const directLabels = new Set(page.samples.filter((s) => s.name !== 'target_info').flatMap((s) => Object.keys(s.labels)));
      assert.deepEqual([...viaCollector].sort(), [...direct].sort());
      assert.deepEqual([...labelsViaCollector].sort(), [...directLabels].sort());
      for (const name of viaCollector) {
        assert.ok(METRICS.some((spec) => spec.prometheusName === name), `${name} is in metrics.ts`);
      }
    });
  });
});

describe('the resource as target_info on /metrics', () => {
  /** The labels of the page's one target_info sample. */
  async function targetInfo(service: ServiceProcess): Promise<Readonly<Record<string, string>>> {
    const samples = samplesOf(await scrape(service.baseUrl), 'target_info');
    assert.equal(samples.length, 1, JSON.stringify(samples));
    assert.equal(samples[0]!.value, 1);
    return samples[0]!.labels;
  }

  it('carries the default service name, the package version, the real host name and OTEL_RESOURCE_ATTRIBUTES', async () => {
    await withService({ UDP_LISTENER_PORTS: String(open.port), OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging,team=platform' }, async (service) => {
      const labels = await targetInfo(service);
      assert.equal(labels.service_name, 'udp-listener-exporter');
      assert.equal(labels.service_version, PACKAGE_VERSION);
      assert.equal(labels.host_name, hostname());
      assert.equal(labels.deployment_environment_name, 'staging');
      assert.equal(labels.team, 'platform');
    });
  });

  it('carries OTEL_SERVICE_NAME over a service.name in OTEL_RESOURCE_ATTRIBUTES', async () => {
    const env = { UDP_LISTENER_PORTS: String(open.port), OTEL_SERVICE_NAME: 'edge-udp', OTEL_RESOURCE_ATTRIBUTES: 'service.name=ignored,region=eu-west' };
    await withService(env, async (service) => {
      const labels = await targetInfo(service);
      assert.equal(labels.service_name, 'edge-udp');
      assert.equal(labels.service_version, PACKAGE_VERSION);
      assert.equal(labels.host_name, hostname());
      assert.equal(labels.region, 'eu-west');
    });
  });
});

describe('OTEL_METRICS_EXPORTER combinations', () => {
  /** TCP ports the process listens on, from its own fds and the kernel's TCP tables. */
  function listeningTcpPorts(pid: number): number[] {
    const inodes = new Set<string>();
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    }
    const ports: number[] = [];
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      for (const line of readFileSync(table, 'latin1').split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        if (fields[3] === '0A' && inodes.has(fields[9]!)) ports.push(parseInt(fields[1]!.split(':')[1]!, 16));
      }
    }
    return ports;
  }

  it('otlp alone pushes and opens no port', async () => {
    await withOtlpService({}, { transport: 'http' }, async (service, receiver) => {
      await receiver.waitFor(hasListenerMetrics, 10_000, { includeEarlier: true });
      assert.equal(service.baseUrl, '');
      assert.deepEqual(listeningTcpPorts(service.child.pid!), []);
      assert.match(service.stderr(), /msg=started .*exporters=otlp/);
    });
  });

  it('prometheus alone serves /metrics and pushes nothing', async () => {
    await withOtlpService({ OTEL_METRICS_EXPORTER: 'prometheus' }, { transport: 'http' }, async (service, receiver) => {
      assert.equal(valueOf(await scrape(service.baseUrl), 'udp_listener_up', { network_local_port: String(open.port), udp_listener_name: 'shipper' }), 1);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.equal(receiver.requests.length, 0);
      assert.equal(valueOf(await scrape(service.baseUrl), 'udp_listener_exporter_otlp_exports_total'), undefined);
    });
  });

  it('prometheus,otlp serves and pushes from one set of instruments, and counts the pushes', async () => {
    await withOtlpService({ OTEL_METRICS_EXPORTER: 'prometheus,otlp' }, { transport: 'http' }, async (service, receiver) => {
      const pushed = await receiver.waitFor(hasListenerMetrics, 10_000, { includeEarlier: true });
      assert.equal(pointValue(pushed.decoded, 'udp.listener.up', { 'network.local.port': BigInt(open.port), 'udp.listener.name': 'shipper' }), 1);
      const page = await scrape(service.baseUrl);
      assert.equal(valueOf(page, 'udp_listener_up', { network_local_port: String(open.port), udp_listener_name: 'shipper' }), 1);
      assert.ok(valueOf(page, 'udp_listener_exporter_otlp_exports_total')! >= 1);
      assert.equal(valueOf(page, FAILED_EXPORTS), 0);
    });
  });

  it('console prints the metrics to stdout', async () => {
    await withService({ OTEL_METRICS_EXPORTER: 'console', OTEL_METRIC_EXPORT_INTERVAL: '200', UDP_LISTENER_PORTS: String(open.port) }, async (service) => {
      let stdout = '';
      service.child.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      await until('udp.listener.up on stdout', async () => (stdout.includes('udp.listener.up') ? true : undefined), () => `stdout:\n${stdout}`, 5_000, 100);
    });
  });

  it('none starts, warns, and exits cleanly', async () => {
    await withService({ OTEL_METRICS_EXPORTER: 'none' }, async (service) => {
      assert.match(service.stderr(), /level=warn msg="OTEL_METRICS_EXPORTER=none/);
    });
  });
});

describe('endpoints, shutdown and an unhealthy collector', () => {
  it('OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta sends counters as deltas', async () => {
    await withOtlpService({ OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta' }, { transport: 'http' }, async (_service, receiver) => {
      const { decoded } = await receiver.waitFor(hasListenerMetrics, 10_000, { includeEarlier: true });
      assert.equal(metricNamed(decoded, 'udp.listener.drops')!.aggregationTemporality, 'delta');
      assert.equal(metricNamed(decoded, 'udp.host.datagrams.received')!.aggregationTemporality, 'delta');
    });
  });

  it('the metrics-specific endpoint is used as is, custom path included', async () => {
    const endpoints = (receiver: OtlpReceiver) => ({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${receiver.baseUrl}/custom/otlp/path`,
    });
    await withOtlpService(endpoints, { transport: 'http' }, async (_service, receiver) => {
      const request = await receiver.waitFor(hasListenerMetrics, 10_000, { includeEarlier: true });
      assert.equal(request.path, '/custom/otlp/path');
    });
  });

  it('SIGTERM with a long interval still delivers a final export, then exits 0', async () => {
    await withOtlpService({ OTEL_METRIC_EXPORT_INTERVAL: '600000' }, { transport: 'http' }, async (service, receiver) => {
      assert.equal(receiver.requests.length, 0);
      const delivered = receiver.waitFor(hasListenerMetrics, 5_000);
      assert.equal(await service.stop(), 0);
      const { decoded } = await delivered;
      assert.equal(pointValue(decoded, 'udp.listener.up', { 'network.local.port': BigInt(open.port), 'udp.listener.name': 'shipper' }), 1);
    });
  });

  it('a collector answering 503 is counted and logged once, /metrics is unaffected, and the next interval after recovery delivers', async () => {
    const env = { OTEL_METRICS_EXPORTER: 'prometheus,otlp', OTEL_METRIC_EXPORT_INTERVAL: '500', OTEL_EXPORTER_OTLP_TIMEOUT: '400' };
    await withOtlpService(env, { transport: 'http', behaviour: () => 503 }, async (service, receiver) => {
      await untilFailedExports(service, 2, 6_000);
      assert.equal(valueOf(await scrape(service.baseUrl), 'udp_listener_up', { network_local_port: String(open.port), udp_listener_name: 'shipper' }), 1);
      assert.equal((service.stderr().match(/msg="OTLP export failed/g) ?? []).length, 1, 'one log line per failure burst');
      assert.match(service.stderr(), /msg="OTLP export failed.*endpoint=http:\/\/127\.0\.0\.1:\d+\/v1\/metrics error=/);

      receiver.setBehaviour(() => 'ok');
      const recovered = await receiver.waitFor((r) => r.answeredWith === 200 && hasListenerMetrics(r), 10_000);
      assert.equal(pointValue(recovered.decoded, 'udp.listener.up', { 'network.local.port': BigInt(open.port), 'udp.listener.name': 'shipper' }), 1);
      assert.equal(pointValue(recovered.decoded, 'udp.listener.up', { 'network.local.port': BigInt(closedPort) }), 0);
      await until('the recovery log line', async () => (/msg="OTLP export recovered"/.test(service.stderr()) ? true : undefined), () => service.stderr(), 3_000, 100);
      assert.match(service.stderr(), /msg="OTLP export recovered" endpoint=\S+ failed_exports=\d+/);
    });
  });

  it('a collector that never answers blocks nothing: scrapes answer, failures are counted, SIGTERM exits 0 within 5 s', async () => {
    const env = { OTEL_METRICS_EXPORTER: 'prometheus,otlp', OTEL_METRIC_EXPORT_INTERVAL: '500', OTEL_EXPORTER_OTLP_TIMEOUT: '300' };
    await withOtlpService(env, { transport: 'http', behaviour: () => 'hang' }, async (service, receiver) => {
      await receiver.waitFor(() => true, 10_000, { includeEarlier: true });
      for (let i = 0; i < 10; i++) {
        const started = performance.now();
        assert.equal(valueOf(await scrape(service.baseUrl), 'udp_listener_up', { network_local_port: String(closedPort) }), 0);
        assert.ok(performance.now() - started < 3000, 'a scrape waited on the collector');
      }
      await untilFailedExports(service, 1, 4_000);
      const stopping = performance.now();
      assert.equal(await service.stop(), 0);
      assert.ok(performance.now() - stopping < 5000, `took ${performance.now() - stopping} ms`);
    });
  });

  it('a collector that is not there (connection refused) is a counted, logged failure', async () => {
    const env = {
      OTEL_METRICS_EXPORTER: 'prometheus,otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1',
      OTEL_METRIC_EXPORT_INTERVAL: '300',
      OTEL_EXPORTER_OTLP_TIMEOUT: '250',
    };
    await withService(env, async (service) => {
      await untilFailedExports(service, 1, 5_000);
      assert.match(service.stderr(), /msg="OTLP export failed/);
      assert.equal(samplesOf(await scrape(service.baseUrl), 'udp_listener_exporter_collection_errors_total').length, 0);
    });
  });
});
