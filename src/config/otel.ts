/**
 * The standard OpenTelemetry variables: which metric exporters run, how OTLP is sent, and the
 * resource. The JS SDK outside sdk-node reads none of OTEL_METRICS_EXPORTER, the OTLP protocol
 * or the export interval and timeout, and the OTLP exporters only warn about values they cannot
 * use; this module reads them all the way the specification describes and refuses bad values
 * at start-up with the variable and the token.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';
import { errorCode, parseInteger } from './values.js';
import { DEFAULTS } from './variables.js';

export type Reader = (name: string) => string | undefined;

export type MetricsExporterName = 'prometheus' | 'otlp' | 'console';
export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';
export type TemporalityPreference = 'cumulative' | 'delta' | 'lowmemory';

export interface OtlpConfig {
  readonly protocol: OtlpProtocol;
  /** The full URL requests go to. */
  readonly endpoint: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly compression: 'gzip' | 'none';
  /** PEM contents, read and checked at start-up. */
  readonly certificate: Buffer | undefined;
  readonly clientCertificate: Buffer | undefined;
  readonly clientKey: Buffer | undefined;
  readonly temporality: TemporalityPreference;
}

export interface ExportConfig {
  /** Empty when OTEL_METRICS_EXPORTER=none. */
  readonly exporters: ReadonlySet<MetricsExporterName>;
  /** Set exactly when `otlp` is among the exporters. */
  readonly otlp: OtlpConfig | undefined;
  /** Push interval and per-export timeout of the periodic readers (otlp, console). */
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export interface ResourceConfig {
  readonly serviceName: string;
  readonly attributes: Readonly<Record<string, string>>;
}


const MAX_MS = 24 * 60 * 60 * 1000;

const EXPORTER_NAMES = ['prometheus', 'otlp', 'console', 'none'] as const;

export function readExportConfig(read: Reader): ExportConfig {
  const exporters = readExporters(read);
  const intervalMs = milliseconds(read, 'OTEL_METRIC_EXPORT_INTERVAL', DEFAULTS.exportIntervalMs, 1);
  const explicitTimeout = read('OTEL_METRIC_EXPORT_TIMEOUT');
  let timeoutMs = milliseconds(read, 'OTEL_METRIC_EXPORT_TIMEOUT', DEFAULTS.exportTimeoutMs, 1);
  if (timeoutMs > intervalMs) {
    // The SDK refuses a timeout longer than the interval. Only a timeout the user chose is an error.
    if (explicitTimeout !== undefined) {
      throw new ConfigError('OTEL_METRIC_EXPORT_TIMEOUT', explicitTimeout, `must not exceed OTEL_METRIC_EXPORT_INTERVAL (${intervalMs} ms)`);
    }
    timeoutMs = intervalMs;
  }
  let otlp = exporters.has('otlp') ? readOtlpConfig(read) : undefined;
  // A request that outlives its export is abandoned by the reader but stays open, and the next
  // interval opens another: against a collector that never answers they would pile up. So one
  // request never waits longer than one export may take.
  if (otlp !== undefined && otlp.timeoutMs > timeoutMs) otlp = { ...otlp, timeoutMs };
  return { exporters, otlp, intervalMs, timeoutMs };
}

/**
 * The specification's default is `otlp`; ours is `prometheus`, because this is an exporter that
 * people scrape, and pushing to a Collector nobody configured would only log failures.
 */
function readExporters(read: Reader): Set<MetricsExporterName> {
  const raw = read('OTEL_METRICS_EXPORTER') ?? DEFAULTS.exporters;
  const written = raw.split(',').map((name) => name.trim());
  const names = written.map((name) => name.toLowerCase());
  names.forEach((name, index) => {
    if (!(EXPORTER_NAMES as readonly string[]).includes(name)) {
      throw new ConfigError('OTEL_METRICS_EXPORTER', written[index]!, `unknown exporter; expected a comma list of ${EXPORTER_NAMES.join(', ')}`);
    }
  });
  if (names.includes('none')) {
    if (names.some((name) => name !== 'none')) {
      throw new ConfigError('OTEL_METRICS_EXPORTER', raw, '"none" cannot be combined with other exporters');
    }
    return new Set();
  }
  return new Set(names as MetricsExporterName[]);
}

function readOtlpConfig(read: Reader): OtlpConfig {
  const either = (suffix: string): [string, string | undefined] => {
    const specific = `OTEL_EXPORTER_OTLP_METRICS_${suffix}`;
    const specificValue = read(specific);
    if (specificValue !== undefined) return [specific, specificValue];
    return [`OTEL_EXPORTER_OTLP_${suffix}`, read(`OTEL_EXPORTER_OTLP_${suffix}`)];
  };

  const [protocolVariable, protocolValue] = either('PROTOCOL');
  const protocol = (protocolValue ?? DEFAULTS.otlpProtocol) as OtlpProtocol;
  if (!['http/protobuf', 'http/json', 'grpc'].includes(protocol)) {
    throw new ConfigError(protocolVariable, protocolValue ?? '', 'expected http/protobuf, http/json or grpc');
  }

  const [compressionVariable, compressionValue] = either('COMPRESSION');
  const compression = compressionValue ?? DEFAULTS.otlpCompression;
  if (compression !== 'gzip' && compression !== 'none') {
    throw new ConfigError(compressionVariable, compression, 'expected gzip or none');
  }

  const [timeoutVariable] = either('TIMEOUT');
  const temporalityValue = read('OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE');
  const temporality = (temporalityValue ?? DEFAULTS.temporality).toLowerCase();
  if (!['cumulative', 'delta', 'lowmemory'].includes(temporality)) {
    throw new ConfigError('OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE', temporalityValue ?? '', 'expected cumulative, delta or lowmemory');
  }

  const [certificateVariable, certificatePath] = either('CERTIFICATE');
  const [clientCertificateVariable, clientCertificatePath] = either('CLIENT_CERTIFICATE');
  const [clientKeyVariable, clientKeyPath] = either('CLIENT_KEY');
  if ((clientCertificatePath === undefined) !== (clientKeyPath === undefined)) {
    const [variable, value] = clientKeyPath === undefined ? [clientCertificateVariable, clientCertificatePath] : [clientKeyVariable, clientKeyPath];
    throw new ConfigError(variable, value ?? '', 'a client certificate and a client key must be given together');
  }

  return {
    protocol,
    endpoint: otlpEndpoint(read, protocol),
    // Generic and metrics-specific headers are merged, the specific one winning per key, as the JS exporters do.
    headers: { ...parseHeaders(read, 'OTEL_EXPORTER_OTLP_HEADERS'), ...parseHeaders(read, 'OTEL_EXPORTER_OTLP_METRICS_HEADERS') },
    timeoutMs: milliseconds(read, timeoutVariable, DEFAULTS.otlpTimeoutMs, 1),
    compression,
    certificate: pemFile(certificateVariable, certificatePath, 'certificate'),
    clientCertificate: pemFile(clientCertificateVariable, clientCertificatePath, 'certificate'),
    clientKey: pemFile(clientKeyVariable, clientKeyPath, 'key'),
    temporality: temporality as TemporalityPreference,
  };
}

/**
 * The specification's rule: the metrics-specific endpoint is used as is; the generic one is a
 * base URL to which HTTP exporters append `v1/metrics`. gRPC takes either as is.
 */
function otlpEndpoint(read: Reader, protocol: OtlpProtocol): string {
  const specific = read('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT');
  const [variable, value] = specific !== undefined ? ['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', specific] : ['OTEL_EXPORTER_OTLP_ENDPOINT', read('OTEL_EXPORTER_OTLP_ENDPOINT')];
  if (value === undefined) return protocol === 'grpc' ? 'http://localhost:4317/' : 'http://localhost:4318/v1/metrics';
  const url = httpUrl(variable, value);
  if (protocol === 'grpc') {
    // gRPC calls a fixed method path; the exporter would silently drop any path given here.
    if (url.pathname !== '/') throw new ConfigError(variable, value, 'a gRPC endpoint has no path; give scheme, host and port only');
    return url.href;
  }
  if (specific !== undefined) return url.href;
  return new URL(`${url.pathname.replace(/\/?$/, '/')}v1/metrics`, url).href;
}

function httpUrl(variable: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(variable, value, 'not a URL; expected e.g. http://localhost:4318');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(variable, value, 'expected an http:// or https:// URL');
  }
  return url;
}

/** `key=value,key2=value2`, values percent-encoded. Values may be secrets: errors never show them. */
function parseHeaders(read: Reader, variable: string): Record<string, string> {
  const raw = read(variable);
  if (raw === undefined) return {};
  const headers: Record<string, string> = {};
  for (const [index, entry] of raw.split(',').entries()) {
    const equals = entry.indexOf('=');
    const key = (equals < 0 ? entry : entry.slice(0, equals)).trim();
    const shown = `entry ${index + 1} (${/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key) ? key : 'unnamed'}=...)`;
    if (equals < 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) {
      throw new ConfigError(variable, shown, 'expected comma-separated key=value pairs with header-name keys');
    }
    try {
      headers[key] = decodeURIComponent(entry.slice(equals + 1).trim());
    } catch {
      throw new ConfigError(variable, shown, 'bad percent-encoding in the value');
    }
  }
  return headers;
}

function pemFile(variable: string, path: string | undefined, kind: 'certificate' | 'key'): Buffer | undefined {
  if (path === undefined) return undefined;
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (error) {
    throw new ConfigError(variable, path, `cannot be read: ${errorCode(error)}`);
  }
  try {
    if (kind === 'certificate') new X509Certificate(pem);
    else createPrivateKey(pem);
  } catch (error) {
    throw new ConfigError(variable, path, `not a PEM ${kind}: ${(error as Error).message}`);
  }
  return pem;
}

function milliseconds(read: Reader, variable: string, fallback: number, min: number): number {
  return parseInteger(variable, read(variable), fallback, min, MAX_MS, 'milliseconds, a whole number');
}

/** OTEL_RESOURCE_ATTRIBUTES is `key=value,...` with percent-encoded values; OTEL_SERVICE_NAME wins over it. */
export function readResourceConfig(read: Reader): ResourceConfig {
  const attributes: Record<string, string> = {};
  const raw = read('OTEL_RESOURCE_ATTRIBUTES');
  if (raw !== undefined) {
    for (const entry of raw.split(',')) {
      const equals = entry.indexOf('=');
      const key = entry.slice(0, Math.max(0, equals)).trim();
      if (equals < 0 || key === '') {
        throw new ConfigError('OTEL_RESOURCE_ATTRIBUTES', entry, 'expected comma-separated key=value pairs');
      }
      try {
        attributes[key] = decodeURIComponent(entry.slice(equals + 1).trim());
      } catch {
        throw new ConfigError('OTEL_RESOURCE_ATTRIBUTES', entry, 'bad percent-encoding in the value');
      }
    }
  }
  const serviceName = read('OTEL_SERVICE_NAME') ?? attributes['service.name'] ?? DEFAULTS.serviceName;
  delete attributes['service.name'];
  return { serviceName, attributes };
}
