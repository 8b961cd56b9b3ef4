/**
 * The test receiver against the real OTLP exporters this service ships with (0.223.0): what each
 * of them puts on the wire, decoded by the receiver, must be exactly what the SDK collected. Then
 * the receiver's own promises: retries are recorded with their answers, a hung request times the
 * exporter out and does not hold close(), and garbage on the wire fails loudly. What no exporter
 * sends is in otlp-decode.test.ts.
 */
import assert from 'node:assert/strict';
import { ValueType } from '@opentelemetry/api';
import { OTLPMetricExporter as GrpcExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { AggregationTemporalityPreference, OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { ManualReader } from './support/metric-reader.js';
import {
  GRPC_EXPORT_PATH,
  metricNamed,
  OtlpReceiver,
  type DecodedDataPoint,
  type DecodedExport,
  type DecodedMetric,
  type OtlpTransport,
  type ReceivedRequest,
} from './support/otlp-receiver.js';

type Protocol = ReceivedRequest['transport'];
type ExportResult = Parameters<Parameters<PushMetricExporter['export']>[1]>[0];
type Compression = NonNullable<NonNullable<ConstructorParameters<typeof ProtoExporter>[0]>['compression']>;

/** ExportResultCode.SUCCESS of @opentelemetry/core, which this project does not depend on directly. */
const EXPORT_SUCCESS = 0;
const GZIP = 'gzip' as Compression;
const EXPORTER_USER_AGENT = 'OTel-OTLP-Exporter-JavaScript/0.223.0';
/** Any path: the service lets users choose one, and the receiver must not care. */
const CUSTOM_PATH = '/custom/otlp/metrics';
const COUNTER_VALUE = 2 ** 40 + 5;

function transportOf(protocol: Protocol): OtlpTransport {
  return protocol === 'grpc' ? 'grpc' : 'http';
}

interface ExporterOptions {
  readonly gzip?: boolean;
  readonly timeoutMillis?: number;
  readonly delta?: boolean;
}

function exporterFor(protocol: Protocol, receiver: OtlpReceiver, options: ExporterOptions = {}): PushMetricExporter {
  const config = {
    ...(options.gzip === true ? { compression: GZIP } : {}),
    ...(options.delta === true ? { temporalityPreference: AggregationTemporalityPreference.DELTA } : {}),
    timeoutMillis: options.timeoutMillis ?? 5_000,
  };
  switch (protocol) {
    case 'http/protobuf':
      return new ProtoExporter({ ...config, url: `${receiver.baseUrl}/v1/metrics` });
    case 'http/json':
      return new JsonExporter({ ...config, url: `${receiver.baseUrl}${CUSTOM_PATH}` });
    case 'grpc':
      return new GrpcExporter({ ...config, url: receiver.baseUrl });
  }
}

function exportOnce(exporter: PushMetricExporter, metrics: ResourceMetrics): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(metrics, resolve));
}

const RESOURCE = {
  'service.name': 'otlp-receiver-test',
  'service.instance.id': 'instance-1',
  'test.int': 42,
  'test.negative': -3,
  'test.double': 1.5,
  'test.flag': true,
  'test.strings': ['a', 'b'],
  'test.ints': [1, 2],
};

/** A provider with one instrument of each shape the service uses, observed with fixed values. */
function testProvider(readers: MetricReader[]): MeterProvider {
  const provider = new MeterProvider({ resource: resourceFromAttributes(RESOURCE), readers });
  const meter = provider.getMeter('otlp-receiver-test-scope', '1.2.3');
  meter
    .createObservableGauge('test.gauge.double', { description: 'A double gauge', unit: '1' })
    .addCallback((result) => {
      result.observe(0.25, { 'server.port': 514, 'network.transport': 'udp', 'test.listening': true, 'test.weight': 0.5 });
      result.observe(0.75, { 'server.port': 6514, 'network.transport': 'udp', 'test.listening': false, 'test.weight': 2.5 });
    });
  meter
    .createObservableGauge('test.gauge.int', { description: 'An int gauge', unit: '{listener}', valueType: ValueType.INT })
    .addCallback((result) => {
      result.observe(1, { 'server.port': 514 });
      result.observe(-7, { 'server.port': 6514 });
    });
  meter
    .createObservableCounter('test.counter', { description: 'A monotonic counter', unit: '{datagram}', valueType: ValueType.INT })
    .addCallback((result) => result.observe(COUNTER_VALUE, { 'server.port': 514 }));
  meter.createObservableUpDownCounter('test.updown', { description: 'A non-monotonic sum', unit: 'By' }).addCallback((result) => result.observe(-2.5));
  return provider;
}

function assertExport(decoded: DecodedExport, counterTemporality: 'delta' | 'cumulative', counterValue = COUNTER_VALUE): void {
  assert.deepEqual(decoded.resourceAttributes, {
    'service.name': 'otlp-receiver-test',
    'service.instance.id': 'instance-1',
    'test.int': 42n,
    'test.negative': -3n,
    'test.double': 1.5,
    'test.flag': true,
    'test.strings': ['a', 'b'],
    'test.ints': [1n, 2n],
  });
  assert.equal(decoded.scopes.length, 1);
  assert.equal(decoded.scopes[0]!.name, 'otlp-receiver-test-scope');
  assert.equal(decoded.scopes[0]!.version, '1.2.3');
  assert.deepEqual(
    decoded.scopes[0]!.metrics.map((m) => m.name),
    ['test.gauge.double', 'test.gauge.int', 'test.counter', 'test.updown'],
  );

  const port514 = { 'server.port': 514n, 'network.transport': 'udp', 'test.listening': true, 'test.weight': 0.5 };
  const port6514 = { 'server.port': 6514n, 'network.transport': 'udp', 'test.listening': false, 'test.weight': 2.5 };
  assertMetric(decoded, { name: 'test.gauge.double', description: 'A double gauge', unit: '1', kind: 'gauge' }, [
    [port514, 0.25, 'double'],
    [port6514, 0.75, 'double'],
  ]);
  assertMetric(decoded, { name: 'test.gauge.int', description: 'An int gauge', unit: '{listener}', kind: 'gauge' }, [
    [{ 'server.port': 514n }, 1, 'int'],
    [{ 'server.port': 6514n }, -7, 'int'],
  ]);
  const counter = { name: 'test.counter', description: 'A monotonic counter', unit: '{datagram}', kind: 'sum', isMonotonic: true } as const;
  assertMetric(decoded, { ...counter, aggregationTemporality: counterTemporality }, [[{ 'server.port': 514n }, counterValue, 'int']]);
  const updown = { name: 'test.updown', description: 'A non-monotonic sum', unit: 'By', kind: 'sum', isMonotonic: false } as const;
  assertMetric(decoded, { ...updown, aggregationTemporality: 'cumulative' }, [[{}, -2.5, 'double']]);

  const now = BigInt(Date.now()) * 1_000_000n;
  for (const point of decoded.scopes[0]!.metrics.flatMap((m) => m.dataPoints)) {
    const { startTimeUnixNano: start, timeUnixNano: time } = point;
    assert.ok(now - time < 60_000_000_000n && time <= now, `time_unix_nano ${time} is not within the last minute`);
    assert.ok(start > 0n && start <= time, `start_time_unix_nano ${start} after time_unix_nano ${time}`);
  }
}

type ExpectedPoint = readonly [attributes: DecodedDataPoint['attributes'], value: number, valueType: DecodedDataPoint['valueType']];

/** Everything about one metric but its timestamps, every data point included. */
function assertMetric(decoded: DecodedExport, expected: Omit<DecodedMetric, 'dataPoints'>, points: readonly ExpectedPoint[]): void {
  const found = metricNamed(decoded, expected.name);
  assert.ok(found !== undefined, `no metric ${expected.name}`);
  const { dataPoints, ...shape } = found;
  assert.deepEqual(shape, expected);
  assert.deepEqual(
    dataPoints.map((p): ExpectedPoint => [p.attributes, p.value, p.valueType]),
    points,
    `${expected.name} data points`,
  );
}

function assertHeaders(request: ReceivedRequest, protocol: Protocol, gzip: boolean): void {
  const h = request.headers;
  assert.equal(request.transport, protocol);
  assert.equal(request.gzip, gzip);
  if (protocol === 'grpc') {
    assert.equal(request.path, GRPC_EXPORT_PATH);
    assert.equal(h['content-type'], 'application/grpc');
    assert.equal(h['te'], 'trailers');
    assert.equal(h['grpc-encoding'], gzip ? 'gzip' : undefined);
    assert.match(String(h['user-agent']), new RegExp(`^${EXPORTER_USER_AGENT} grpc-node-js/`));
  } else {
    assert.equal(request.path, protocol === 'http/json' ? CUSTOM_PATH : '/v1/metrics');
    assert.equal(h['content-type'], protocol === 'http/json' ? 'application/json' : 'application/x-protobuf');
    assert.equal(h['content-encoding'], gzip ? 'gzip' : undefined);
    assert.equal(h['user-agent'], EXPORTER_USER_AGENT);
  }
}

/**
 * One collection of the test provider's instruments, made before the suite's tests run; the
 * provider is shut down after them. Call the returned function inside a test.
 */
function collectedForSuite(): () => ResourceMetrics {
  const reader = new ManualReader();
  const provider = testProvider([reader]);
  let collected: ResourceMetrics | undefined;
  before(async () => {
    ({ resourceMetrics: collected } = await reader.collect());
  });
  after(() => provider.shutdown());
  return () => {
    assert.ok(collected !== undefined, 'collected before the suite');
    return collected;
  };
}

const PROTOCOLS: readonly Protocol[] = ['http/protobuf', 'http/json', 'grpc'];

describe('what the real exporters send, decoded', () => {
  const collected = collectedForSuite();

  for (const protocol of PROTOCOLS) {
    for (const gzip of [false, true]) {
      it(`${protocol}${gzip ? ' with gzip' : ''}: every name, unit, kind, value, attribute type and the resource`, async () => {
        const receiver = await OtlpReceiver.start({ transport: transportOf(protocol) });
        const exporter = exporterFor(protocol, receiver, { gzip });
        try {
          const result = await exportOnce(exporter, collected());
          assert.equal(result.code, EXPORT_SUCCESS, String(result.error));
          assert.equal(receiver.requests.length, 1);
          const request = receiver.requests[0]!;
          assertHeaders(request, protocol, gzip);
          assert.equal(request.answeredWith, protocol === 'grpc' ? 0 : 200);
          assertExport(request.decoded, 'cumulative');
        } finally {
          await exporter.shutdown();
          await receiver.close();
        }
      });
    }
  }

  for (const protocol of PROTOCOLS) {
    it(`${protocol}: a periodic reader with delta preference sends delta counters, cumulative up-down counters`, async () => {
      const receiver = await OtlpReceiver.start({ transport: transportOf(protocol) });
      const periodic = new PeriodicExportingMetricReader({ exporter: exporterFor(protocol, receiver, { delta: true }), exportIntervalMillis: 60_000 });
      const deltaProvider = testProvider([periodic]);
      try {
        const first = receiver.waitFor(() => true, 5_000);
        await periodic.forceFlush();
        assertExport((await first).decoded, 'delta');
        const second = receiver.waitFor(() => true, 5_000);
        await periodic.forceFlush();
        // Nothing changed between the two collections: the delta is 0, the up-down counter stays.
        assertExport((await second).decoded, 'delta', 0);
      } finally {
        await deltaProvider.shutdown();
        await receiver.close();
      }
    });
  }
});

describe('answers and failures', () => {
  const collected = collectedForSuite();

  for (const protocol of ['http/protobuf', 'http/json'] as const) {
    it(`${protocol}: 503 then 200 is retried by the exporter, and both requests are recorded with their answers`, async () => {
      const receiver = await OtlpReceiver.start({ transport: 'http' });
      receiver.setBehaviour((i) => (i === 0 ? 503 : 'ok'));
      const exporter = exporterFor(protocol, receiver);
      try {
        const result = await exportOnce(exporter, collected());
        assert.equal(result.code, EXPORT_SUCCESS, String(result.error));
        await receiver.waitFor((r) => r.answeredWith === 503, 100, { includeEarlier: true });
        assert.deepEqual(
          receiver.requests.map((r) => r.answeredWith),
          [503, 200],
        );
        for (const request of receiver.requests) assertExport(request.decoded, 'cumulative');
      } finally {
        await exporter.shutdown();
        await receiver.close();
      }
    });
  }

  it('grpc: UNAVAILABLE is answered in the trailers and recorded (the 0.223.0 gRPC exporter does not retry it)', async () => {
    const receiver = await OtlpReceiver.start({ transport: 'grpc', behaviour: (i) => (i === 0 ? 14 : 'ok') });
    const exporter = exporterFor('grpc', receiver);
    try {
      const result = await exportOnce(exporter, collected());
      assert.notEqual(result.code, EXPORT_SUCCESS);
      assert.match(String(result.error), /14 UNAVAILABLE: test receiver answers 14 as told/);
      assert.deepEqual(
        receiver.requests.map((r) => r.answeredWith),
        [14],
      );
      assert.equal((await exportOnce(exporter, collected())).code, EXPORT_SUCCESS);
      assert.deepEqual(
        receiver.requests.map((r) => r.answeredWith),
        [14, 0],
      );
    } finally {
      await exporter.shutdown();
      await receiver.close();
    }
  });

  for (const protocol of PROTOCOLS) {
    it(`${protocol}: a hung request times the exporter out, and close() ends a hung connection at once`, async () => {
      const receiver = await OtlpReceiver.start({ transport: transportOf(protocol), behaviour: () => 'hang' });
      const quick = exporterFor(protocol, receiver, { timeoutMillis: 300 });
      // Long enough that only close() can end its request in time, short enough that its retries
      // against the closed port (HTTP) are over within the test.
      const patient = exporterFor(protocol, receiver, { timeoutMillis: 1_500 });
      try {
        const started = Date.now();
        const result = await exportOnce(quick, collected());
        assert.notEqual(result.code, EXPORT_SUCCESS);
        assert.ok(Date.now() - started < 1_000, `the exporter gave up after ${Date.now() - started} ms`);
        assert.equal(receiver.requests.length, 1);
        assert.equal(receiver.requests[0]!.answeredWith, 'hung');
        assertExport(receiver.requests[0]!.decoded, 'cumulative');

        const pending = exportOnce(patient, collected());
        await receiver.waitFor(() => true, 5_000);
        const closing = Date.now();
        await receiver.close();
        assert.ok(Date.now() - closing < 200, `close() took ${Date.now() - closing} ms with a hung request`);
        assert.notEqual((await pending).code, EXPORT_SUCCESS);
      } finally {
        await quick.shutdown();
        await patient.shutdown();
        await receiver.close();
      }
    });
  }
});

describe('garbage on the wire fails loudly', () => {
  it('http: answers 400 with a Status, records the failure, and waitFor and close reject until it is taken', async () => {
    const receiver = await OtlpReceiver.start({ transport: 'http' });
    const waiting = receiver.waitFor(() => true, 5_000);
    const post = (contentType: string, body: string | Buffer, encoding = 'identity'): Promise<Response> =>
      fetch(`${receiver.baseUrl}/v1/metrics`, { method: 'POST', headers: { 'Content-Type': contentType, 'Content-Encoding': encoding }, body });
    const response = await post('application/x-protobuf', Buffer.from([0x0a, 0x05, 0x01]));
    assert.equal(response.status, 400);
    assert.equal(response.headers.get('content-type'), 'application/x-protobuf');
    // A google.rpc.Status with only its message (field 2).
    const status = Buffer.from(await response.arrayBuffer()).toString('latin1');
    assert.match(status, /^\x12.ExportMetricsServiceRequest: field 1 \(LEN\) at byte 0 needs 5 bytes, 1 left$/s);
    await assert.rejects(waiting, /could not accept 1 request\(s\):\nhttp \/v1\/metrics \(answered 400\): ExportMetricsServiceRequest: field 1/);
    await assert.rejects(receiver.waitFor(() => true, 5_000), /could not accept 1 request/);
    assert.equal(receiver.requests.length, 0);

    const wrongType = await post('text/plain', 'hello');
    assert.equal(wrongType.status, 415);
    const badGzip = await post('application/json', '{}', 'gzip');
    assert.equal(badGzip.status, 400);
    assert.match(((await badGzip.json()) as { message: string }).message, /^body is not valid gzip: /);

    await assert.rejects(receiver.close(), /could not accept 3 request\(s\)/);
    assert.deepEqual(
      receiver.takeErrors().map((f) => f.answeredWith),
      [400, 415, 400],
    );
    await receiver.close();
  });

  it('http: a gzip JSON body posted by hand decodes like the exporter\'s', async () => {
    const receiver = await OtlpReceiver.start({ transport: 'http' });
    try {
      const metric = { name: 'm', gauge: { dataPoints: [{ timeUnixNano: '2', asDouble: 1.5 }] } };
      const body = gzipSync(JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [metric] }] }] }));
      const headers = { 'Content-Type': 'application/json; charset=utf-8', 'Content-Encoding': 'gzip' };
      const response = await fetch(`${receiver.baseUrl}/any/path?x=1`, { method: 'POST', headers, body });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), {});
      const request = await receiver.waitFor((r) => r.path === '/any/path?x=1', 1_000, { includeEarlier: true });
      assert.equal(request.gzip, true);
      assert.equal(metricNamed(request.decoded, 'm')?.dataPoints[0]?.value, 1.5);
    } finally {
      await receiver.close();
    }
  });

  it('grpc: answers INVALID_ARGUMENT for an undecodable message and UNIMPLEMENTED for another method', async () => {
    const receiver = await OtlpReceiver.start({ transport: 'grpc' });
    const client = http2.connect(receiver.baseUrl);
    const call = (path: string, body: Buffer): Promise<http2.IncomingHttpHeaders> =>
      new Promise((resolve, reject) => {
        const stream = client.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
        stream.on('response', resolve);
        stream.on('error', reject);
        stream.end(body);
      });
    try {
      const garbage = Buffer.from([0, 0, 0, 0, 2, 0x0a, 0x05]);
      const invalid = await call(GRPC_EXPORT_PATH, garbage);
      assert.equal(invalid['grpc-status'], '3');
      assert.match(decodeURIComponent(String(invalid['grpc-message'])), /ExportMetricsServiceRequest: field 1 \(LEN\) at byte 0 needs 5 bytes, 0 left/);
      const unknown = await call('/opentelemetry.proto.collector.trace.v1.TraceService/Export', Buffer.alloc(5));
      assert.equal(unknown['grpc-status'], '12');
      const flagWithoutEncoding = await call(GRPC_EXPORT_PATH, Buffer.from([1, 0, 0, 0, 0]));
      assert.equal(flagWithoutEncoding['grpc-status'], '3');
      assert.deepEqual(
        receiver.takeErrors().map((f) => [f.path, f.answeredWith]),
        [
          [GRPC_EXPORT_PATH, 3],
          ['/opentelemetry.proto.collector.trace.v1.TraceService/Export', 12],
          [GRPC_EXPORT_PATH, 3],
        ],
      );
    } finally {
      client.destroy();
      await receiver.close();
    }
  });
});
