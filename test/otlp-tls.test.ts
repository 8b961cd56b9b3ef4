/**
 * OTLP to a Collector over TLS with a client certificate, configured only by the standard
 * variables: OTEL_EXPORTER_OTLP_CERTIFICATE (the CA that signed the Collector's certificate) and
 * OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE / _CLIENT_KEY (what the Collector asks of its clients).
 * The receiver accepts only clients whose certificate the test CA signed, so a delivered export
 * proves all three files were used; without the CA the export must fail and be counted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeTestPki, type TestPki } from './support/certificates.js';
import { scrape, valueOf } from './support/exposition.js';
import { metricNamed, OtlpReceiver, type OtlpTransport } from './support/otlp-receiver.js';
import { until } from './support/prometheus.js';
import { startService, type ServiceProcess } from './support/service.js';
import { findTool } from './support/tools.js';

describe('OTLP over TLS with a client certificate', () => {
  let pki: TestPki | undefined;

  before(() => {
    const openssl = findTool('openssl');
    if (openssl === undefined) {
      if (process.env.CI === 'true') throw new Error('openssl is not installed; .ci/run must install the Debian package openssl');
      return;
    }
    pki = makeTestPki(openssl);
  });
  after(() => pki?.remove());

  const cases: [string, OtlpTransport, string][] = [
    ['http/protobuf', 'http', 'http/protobuf'],
    ['http/json', 'http', 'http/json'],
    ['grpc', 'grpc', 'grpc'],
  ];
  for (const [name, transport, protocol] of cases) {
    it(`${name}: the CA and the client certificate from the standard variables`, async (t) => {
      if (pki === undefined) return t.skip('openssl not installed');
      const receiver = await OtlpReceiver.start({ transport, tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert } });
      assert.ok(receiver.baseUrl.startsWith('https://'));
      const service = await startOrClose(receiver, {
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.baseUrl,
        OTEL_EXPORTER_OTLP_CERTIFICATE: pki.ca.certFile,
        OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: pki.client.certFile,
        OTEL_EXPORTER_OTLP_CLIENT_KEY: pki.client.keyFile,
        OTEL_METRIC_EXPORT_INTERVAL: '300',
        UDP_LISTENER_PORTS: '9',
      });
      let exitCode: number | null = null;
      try {
        const { decoded } = await receiver.waitFor((r) => metricNamed(r.decoded, 'udp.listener.up') !== undefined, 10_000, { includeEarlier: true });
        assert.equal(metricNamed(decoded, 'udp.listener.up')!.dataPoints[0]!.value, 0);
      } finally {
        exitCode = await service.stop();
        await receiver.close();
      }
      assert.equal(exitCode, 0);
    });
  }

  it('without the CA the Collector\'s certificate is not trusted: nothing is delivered, failures are counted', async (t) => {
    if (pki === undefined) return t.skip('openssl not installed');
    const receiver = await OtlpReceiver.start({ transport: 'http', tls: { cert: pki.server.cert, key: pki.server.key } });
    const service = await startOrClose(receiver, {
      OTEL_METRICS_EXPORTER: 'prometheus,otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.baseUrl,
      OTEL_EXPORTER_OTLP_TIMEOUT: '500',
      OTEL_METRIC_EXPORT_INTERVAL: '500',
      OTEL_METRIC_EXPORT_TIMEOUT: '500',
      UDP_LISTENER_PORTS: '9',
    });
    try {
      await until(
        'two failed exports',
        async () => ((valueOf(await scrape(service.baseUrl), 'udp_listener_exporter_otlp_export_failures_total') ?? 0) >= 2 ? true : undefined),
        service.stderr,
        20_000,
        250,
      );
      assert.equal(receiver.requests.length, 0);
      assert.match(service.stderr(), /OTLP export failed/);
    } finally {
      await service.stop();
      await receiver.close();
    }
  });
});

/** Starts the service, closing the receiver if it does not start (an open server would hold the test file open). */
async function startOrClose(receiver: OtlpReceiver, env: Record<string, string>): Promise<ServiceProcess> {
  try {
    return await startService(env);
  } catch (error) {
    await receiver.close();
    throw error;
  }
}
