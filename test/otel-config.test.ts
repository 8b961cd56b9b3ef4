import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config/config.js';
import { ConfigError } from '../src/config/errors.js';

const otlp = (env: Record<string, string>) => loadConfig({ OTEL_METRICS_EXPORTER: 'otlp', ...env }).export.otlp!;

describe('OTEL_METRICS_EXPORTER', () => {
  const cases: [string | undefined, string[]][] = [
    [undefined, ['prometheus']],
    ['prometheus', ['prometheus']],
    ['otlp', ['otlp']],
    ['prometheus,otlp', ['prometheus', 'otlp']],
    [' OTLP , prometheus ', ['otlp', 'prometheus']],
    ['console', ['console']],
    ['otlp,otlp', ['otlp']],
    ['none', []],
  ];
  for (const [value, expected] of cases) {
    it(`${JSON.stringify(value)} runs ${expected.join(' and ') || 'nothing'}`, () => {
      const exporters = loadConfig(value === undefined ? {} : { OTEL_METRICS_EXPORTER: value }).export.exporters;
      assert.deepEqual([...exporters].sort(), expected.sort());
    });
  }
});

describe('OTLP settings', () => {
  it('defaults: http/protobuf to localhost:4318/v1/metrics, cumulative, no compression, 10 s', () => {
    assert.deepEqual(otlp({}), {
      protocol: 'http/protobuf',
      endpoint: 'http://localhost:4318/v1/metrics',
      headers: {},
      timeoutMs: 10000,
      compression: 'none',
      certificate: undefined,
      clientCertificate: undefined,
      clientKey: undefined,
      temporality: 'cumulative',
    });
  });

  it('the generic endpoint gets v1/metrics appended; the metrics-specific one is used as is', () => {
    assert.equal(otlp({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).endpoint, 'http://collector:4318/v1/metrics');
    assert.equal(otlp({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gw.example/otlp/' }).endpoint, 'https://gw.example/otlp/v1/metrics');
    assert.equal(otlp({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gw.example/otlp' }).endpoint, 'https://gw.example/otlp/v1/metrics');
    assert.equal(
      otlp({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://collector:9999/custom/path' }).endpoint,
      'http://collector:9999/custom/path',
    );
    assert.equal(otlp({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).endpoint, 'http://localhost:4317/');
    assert.equal(otlp({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4317' }).endpoint, 'http://collector:4317/');
  });

  it('the metrics-specific protocol, timeout and compression win over the generic ones', () => {
    const config = otlp({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_TIMEOUT: '5000',
      OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '2500',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'none',
      OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'Delta',
    });
    assert.deepEqual([config.protocol, config.timeoutMs, config.compression, config.temporality], ['http/json', 2500, 'gzip', 'delta']);
  });

  it('headers: generic and specific merged per key, values percent-decoded', () => {
    const config = otlp({
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc,x-tenant=a',
      OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'x-tenant=b',
    });
    assert.deepEqual(config.headers, { authorization: 'Bearer abc', 'x-tenant': 'b' });
  });

  it('one request never outlives its export: the OTLP timeout is capped at the export timeout', () => {
    assert.equal(otlp({ OTEL_METRIC_EXPORT_INTERVAL: '2000' }).timeoutMs, 2000);
    assert.equal(otlp({ OTEL_METRIC_EXPORT_TIMEOUT: '5000', OTEL_EXPORTER_OTLP_TIMEOUT: '8000' }).timeoutMs, 5000);
    assert.equal(otlp({ OTEL_EXPORTER_OTLP_TIMEOUT: '8000' }).timeoutMs, 8000);
  });

  it('interval and timeout: the SDK defaults, a default timeout is clamped to a shorter interval', () => {
    assert.deepEqual(pick(loadConfig({ OTEL_METRIC_EXPORT_INTERVAL: '5000' })), [5000, 5000]);
    assert.deepEqual(pick(loadConfig({ OTEL_METRIC_EXPORT_INTERVAL: '15000', OTEL_METRIC_EXPORT_TIMEOUT: '3000' })), [15000, 3000]);
  });

  it('reads and checks certificate files', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'otlp-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=test', '-days', '1', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`], { stdio: 'ignore' });
    const config = otlp({
      OTEL_EXPORTER_OTLP_CERTIFICATE: `${dir}/cert.pem`,
      OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE: `${dir}/cert.pem`,
      OTEL_EXPORTER_OTLP_CLIENT_KEY: `${dir}/key.pem`,
    });
    assert.ok(config.certificate!.toString().includes('BEGIN CERTIFICATE'));
    assert.ok(config.clientKey!.toString().includes('PRIVATE KEY'));
    writeFileSync(`${dir}/junk.pem`, 'not a certificate');
    assertRefused({ OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_CERTIFICATE: `${dir}/junk.pem` }, 'OTEL_EXPORTER_OTLP_CERTIFICATE', `${dir}/junk.pem`);
    assertRefused({ OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_CLIENT_KEY: `${dir}/key.pem` }, 'OTEL_EXPORTER_OTLP_CLIENT_KEY', `${dir}/key.pem`);
  });

  it('OTLP variables are not even read unless otlp is an exporter', () => {
    assert.doesNotThrow(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'carrier-pigeon' }));
  });
});

function pick(config: ReturnType<typeof loadConfig>): [number, number] {
  return [config.export.intervalMs, config.export.timeoutMs];
}

function assertRefused(env: Record<string, string>, variable: string, token: string): void {
  assert.throws(
    () => loadConfig(env),
    (error: unknown) => error instanceof ConfigError && error.variable === variable && error.token === token && error.message.startsWith(`${variable}: ${JSON.stringify(token)}: `),
    `${JSON.stringify(env)} should be refused naming ${variable} and ${token}`,
  );
}

describe('bad OpenTelemetry values stop start-up, naming the variable and the token', () => {
  const cases: [Record<string, string>, string, string][] = [
    [{ OTEL_METRICS_EXPORTER: 'prometheus,zipkin' }, 'OTEL_METRICS_EXPORTER', 'zipkin'],
    [{ OTEL_METRICS_EXPORTER: 'none,otlp' }, 'OTEL_METRICS_EXPORTER', 'none,otlp'],
    [{ OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http' }, 'OTEL_EXPORTER_OTLP_PROTOCOL', 'http'],
    [{ OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc/json' }, 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', 'grpc/json'],
    [{ OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318'],
    [{ OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'ftp://collector/' }, 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'ftp://collector/'],
    [{ OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317/v1/metrics' }, 'OTEL_EXPORTER_OTLP_ENDPOINT', 'http://c:4317/v1/metrics'],
    [{ OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_TIMEOUT: '10s' }, 'OTEL_EXPORTER_OTLP_TIMEOUT', '10s'],
    [{ OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '0' }, 'OTEL_EXPORTER_OTLP_METRICS_TIMEOUT', '0'],
    [{ OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_COMPRESSION: 'zstd' }, 'OTEL_EXPORTER_OTLP_COMPRESSION', 'zstd'],
    [{ OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'sometimes' }, 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE', 'sometimes'],
    [{ OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_CERTIFICATE: '/no/such/ca.pem' }, 'OTEL_EXPORTER_OTLP_CERTIFICATE', '/no/such/ca.pem'],
    [{ OTEL_METRIC_EXPORT_INTERVAL: '-5' }, 'OTEL_METRIC_EXPORT_INTERVAL', '-5'],
    [{ OTEL_METRIC_EXPORT_INTERVAL: '1000', OTEL_METRIC_EXPORT_TIMEOUT: '5000' }, 'OTEL_METRIC_EXPORT_TIMEOUT', '5000'],
  ];
  for (const [env, variable, token] of cases) {
    it(`${variable}=${JSON.stringify(env[variable])}`, () => assertRefused(env, variable, token));
  }

  it('a malformed header names its entry and key but never shows a value, which may be a secret', () => {
    for (const [headers, shown] of [
      ['authorization=Bearer secret-token,broken', 'entry 2 (broken=...)'],
      ['bad key=secret-value', 'entry 1 (unnamed=...)'],
      ['authorization=%ZZsecret', 'entry 1 (authorization=...)'],
    ] as const) {
      assert.throws(
        () => loadConfig({ OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_HEADERS: headers }),
        (error: unknown) => error instanceof ConfigError && error.token === shown && !error.message.includes('secret'),
      );
    }
  });
});
