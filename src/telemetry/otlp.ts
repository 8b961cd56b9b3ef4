/**
 * OTLP push: the exporter for the configured protocol, wrapped so that failures are counted
 * for a self metric and logged once per failure burst (not once per retry or per interval).
 */
import { credentials, Metadata } from '@grpc/grpc-js';
import { isIP } from 'node:net';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter as GrpcExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { AggregationTemporalityPreference, OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtobufExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import type { AggregationTemporality, InstrumentType, PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { OtlpConfig, TemporalityPreference } from '../config/otel.js';
import type { Logger } from '../log.js';

const TEMPORALITY: Readonly<Record<TemporalityPreference, AggregationTemporalityPreference>> = {
  cumulative: AggregationTemporalityPreference.CUMULATIVE,
  delta: AggregationTemporalityPreference.DELTA,
  lowmemory: AggregationTemporalityPreference.LOWMEMORY,
};

/**
 * Every setting is passed explicitly from the validated configuration. (The exporters also read
 * the same OTEL_EXPORTER_OTLP_* variables themselves, but only warn about bad values.)
 */
export function createOtlpExporter(otlp: OtlpConfig): PushMetricExporter {
  const common = {
    url: otlp.endpoint,
    timeoutMillis: otlp.timeoutMs,
    compression: otlp.compression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE,
    temporalityPreference: TEMPORALITY[otlp.temporality],
  };
  if (otlp.protocol === 'grpc') {
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(otlp.headers)) metadata.set(key, value);
    const channel = otlp.endpoint.startsWith('https:')
      ? withoutIpServerName(credentials.createSsl(otlp.certificate ?? null, otlp.clientKey ?? null, otlp.clientCertificate ?? null), otlp.endpoint)
      : credentials.createInsecure();
    return new GrpcExporter({ ...common, metadata, credentials: channel });
  }
  const http = {
    ...common,
    headers: { ...otlp.headers },
    httpAgentOptions: {
      keepAlive: true,
      ...(otlp.certificate ? { ca: otlp.certificate } : {}),
      ...(otlp.clientCertificate ? { cert: otlp.clientCertificate } : {}),
      ...(otlp.clientKey ? { key: otlp.clientKey } : {}),
    },
  };
  return otlp.protocol === 'http/json' ? new JsonExporter(http) : new ProtobufExporter(http);
}

/** The part of grpc-js 1.14's SecureChannelCredentialsImpl the workaround below touches. */
interface SecureConnectorFactory {
  _createSecureConnector(...args: unknown[]): { connectionOptions?: { servername?: string } };
}

/**
 * grpc-js (1.14.7, the latest) sets the TLS server name (SNI) to the endpoint's host even when
 * that is an IP address. RFC 6066 forbids it; Node 20 only warns (DEP0123), Node 26 refuses the
 * connection, so OTLP/gRPC over TLS to `https://10.0.0.5:4317` never connects. For an IP
 * endpoint the server name is removed before grpc-js connects: Node then checks the certificate
 * against the IP, as it does for the HTTP exporters. If grpc-js changes its internals the
 * function leaves the credentials alone, and test/otlp-tls.test.ts on Node 26 says so.
 */
function withoutIpServerName<C extends object>(channel: C, endpoint: string): C {
  const host = new URL(endpoint).hostname.replace(/^\[(.*)\]$/, '$1');
  const factory = channel as unknown as Partial<SecureConnectorFactory>;
  if (isIP(host) === 0 || typeof factory._createSecureConnector !== 'function') return channel;
  const createSecureConnector = factory._createSecureConnector.bind(channel);
  factory._createSecureConnector = (...args: unknown[]) => {
    const connector = createSecureConnector(...args);
    if (connector.connectionOptions !== undefined && isIP(connector.connectionOptions.servername ?? '') !== 0) delete connector.connectionOptions.servername;
    return connector;
  };
  return channel;
}

export interface ExportCounts {
  readonly exports: number;
  readonly failures: number;
}

/** Counts results and logs the first failure of a burst and the recovery that ends it. */
export class ReportingExporter implements PushMetricExporter {
  private readonly inner: PushMetricExporter;
  private readonly logger: Logger;
  private readonly endpoint: string;
  private counts = { exports: 0, failures: 0 };
  private failuresInBurst = 0;

  constructor(inner: PushMetricExporter, logger: Logger, endpoint: string) {
    this.inner = inner;
    this.logger = logger;
    this.endpoint = endpoint;
  }

  get results(): ExportCounts {
    return this.counts;
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    this.inner.export(metrics, (result) => {
      this.counts = {
        exports: this.counts.exports + 1,
        failures: this.counts.failures + (result.code === ExportResultCode.SUCCESS ? 0 : 1),
      };
      if (result.code === ExportResultCode.SUCCESS) {
        if (this.failuresInBurst > 0) {
          this.logger.info('OTLP export recovered', { endpoint: this.endpoint, failed_exports: this.failuresInBurst });
        }
        this.failuresInBurst = 0;
      } else {
        if (this.failuresInBurst === 0) {
          this.logger.warn('OTLP export failed; the next interval tries again, and recovery is logged', {
            endpoint: this.endpoint,
            error: result.error?.message ?? 'unknown',
          });
        }
        this.failuresInBurst++;
      }
      resultCallback(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return this.inner.selectAggregationTemporality!(instrumentType);
  }
}
