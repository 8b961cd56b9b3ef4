/**
 * Every environment variable the service reads, declared once, with its default and what it
 * means. The configuration reads only variables listed here (config.ts checks), `--help`
 * prints this table, and the README's configuration tables are checked against it
 * (test/docs.test.ts), so the three cannot drift apart.
 */
import { DEFAULT_PROC_ROOT } from '../procfs/procfs.js';

/** Defaults of the values the configuration parses; the table below shows the same ones. */
export const DEFAULTS = {
  procRoot: DEFAULT_PROC_ROOT,
  discoveryLimit: 100,
  collectionTimeoutMs: 5000,
  owners: true,
  netns: 'host',
  socketSource: 'procfs',
  prometheusPort: 9464,
  logLevel: 'info',
  exporters: 'prometheus',
  exportIntervalMs: 60_000,
  exportTimeoutMs: 30_000,
  otlpProtocol: 'http/protobuf',
  otlpTimeoutMs: 10_000,
  otlpCompression: 'none',
  temporality: 'cumulative',
  serviceName: 'udp-listener-exporter',
} as const;

export interface VariableSpec {
  readonly name: string;
  /**
   * `exporter`: this service's own settings; `otel`: the standard OpenTelemetry ones that say
   * where metrics go; `otlp`: the standard ones of the OTLP push (documented in otel/README.md).
   */
  readonly group: 'exporter' | 'otel' | 'otlp';
  /** The default as the README shows it (Markdown). */
  readonly default: string;
  /** An example value (Markdown); empty when the variable above it shows one. */
  readonly example: string;
  /** One sentence (Markdown): what `--help` prints. */
  readonly summary: string;
  /** More for the README (Markdown), after the summary. */
  readonly details?: string;
}

const code = (value: string | number): string => `\`${value}\``;

export const VARIABLES: readonly VariableSpec[] = [
  {
    name: 'UDP_LISTENER_PORTS',
    group: 'exporter',
    default: 'unset: discovery mode',
    example: code('syslog=514,filebeat=6984,9000-9010'),
    summary: 'Comma list of `[name=]port` or `[name=]low-high`.',
    details:
      'Each port gets its own series; a name becomes the `udp_listener_name` label of every port it covers. Ports 1-65535; a port or a name may appear once; names are 1-64 characters of `A-Z a-z 0-9 _ . -`.',
  },
  {
    name: 'UDP_LISTENER_DISCOVERY_LIMIT',
    group: 'exporter',
    default: code(DEFAULTS.discoveryLimit),
    example: code(500),
    summary: 'Discovery mode: report at most this many ports, the lowest-numbered; the rest are counted in `udp_listener_discovery_omitted_ports`.',
    details: '1-65535.',
  },
  {
    name: 'UDP_LISTENER_COLLECTION_TIMEOUT',
    group: 'exporter',
    default: code(`${DEFAULTS.collectionTimeoutMs / 1000}s`),
    example: '`2s`, `500ms`',
    summary: 'A read of procfs that takes longer is abandoned: the scrape answers with what it has and the error metrics say which file timed out.',
    details: 'A file whose read is still stuck is not read again until it returns. Owner lookups also stop here and finish for the next scrape. 10ms-1m.',
  },
  {
    name: 'UDP_LISTENER_OWNERS',
    group: 'exporter',
    default: code(String(DEFAULTS.owners)),
    example: code('false'),
    summary: 'Find the processes holding each listener (see [Owners](#owners)).',
  },
  {
    name: 'UDP_LISTENER_NETNS',
    group: 'exporter',
    default: code(DEFAULTS.netns),
    example: code('all'),
    summary: "`host`: only the host's network namespace; `all`: every network namespace on the host, each series labelled with it.",
    details: 'See [Containers and network namespaces](#containers-and-network-namespaces).',
  },
  {
    name: 'UDP_LISTENER_SOURCE',
    group: 'exporter',
    default: code(DEFAULTS.socketSource),
    example: code('netlink'),
    summary: '`procfs`: read the socket tables `$HOST_PROC/1/net/udp` and `udp6`; `netlink`: ask the kernel over netlink sock_diag, as `ss` does.',
    details:
      '`netlink` is cheaper, misses no socket, and adds `udp_listener_receive_buffer_bytes`; see [The netlink source](#the-netlink-source). If it cannot work here, the service does not start (exit code 2).',
  },
  {
    name: 'UDP_LISTENER_WEB_CONFIG_FILE',
    group: 'exporter',
    default: 'unset: plain HTTP, no authentication',
    example: code('/etc/udp-listener-exporter/web-config.yml'),
    summary:
      "A web configuration file in exporter-toolkit's format (node_exporter's `--web.config.file`): TLS, client certificates, bcrypt basic auth users, response headers.",
    details:
      'Checked at start-up (a bad file: exit 2, naming file and key), read again on SIGHUP and when it or a file it names changes. See [Security](#security).',
  },
  {
    name: 'HOST_PROC',
    group: 'exporter',
    default: code(DEFAULTS.procRoot),
    example: code('/host/proc'),
    summary: 'Where procfs is mounted.',
    details:
      "Socket tables are read from `$HOST_PROC/1/net/udp` and `udp6`, the network namespace of PID 1, so a container with the host's procfs mounted sees the host's sockets (with the host PID namespace).",
  },
  {
    name: 'OTEL_LOG_LEVEL',
    group: 'exporter',
    default: code(DEFAULTS.logLevel),
    example: code('debug'),
    summary: '`none`, `error`, `warn`, `info`, `debug` (`verbose` and `all` mean `debug`).',
    details: "Logs are logfmt lines on stderr; the OpenTelemetry SDK's own messages go through the same logger.",
  },
  {
    name: 'OTEL_METRICS_EXPORTER',
    group: 'otel',
    default: code(DEFAULTS.exporters),
    example: code('prometheus,otlp'),
    summary: 'Comma list of `prometheus` (serve `/metrics`), `otlp` (push), `console` (print to stdout), or `none`.',
    details:
      "The specification's default is `otlp`; ours is `prometheus`: people scrape an exporter, and a push to a Collector nobody set up only fails. `otlp` alone opens no port.",
  },
  {
    name: 'OTEL_EXPORTER_PROMETHEUS_HOST',
    group: 'otel',
    default: 'all interfaces',
    example: code('127.0.0.1'),
    summary: 'Address the HTTP server listens on.',
  },
  {
    name: 'OTEL_EXPORTER_PROMETHEUS_PORT',
    group: 'otel',
    default: code(DEFAULTS.prometheusPort),
    example: code(9100),
    summary: 'Port of the HTTP server; `0` picks a free port, printed in the start-up log line.',
  },
  {
    name: 'OTEL_METRIC_EXPORT_INTERVAL',
    group: 'otlp',
    default: code(DEFAULTS.exportIntervalMs),
    example: code(15000),
    summary: 'Milliseconds between pushes (otlp, console).',
    details: 'The JS SDK does not read this itself; the service does.',
  },
  {
    name: 'OTEL_METRIC_EXPORT_TIMEOUT',
    group: 'otlp',
    default: code(DEFAULTS.exportTimeoutMs),
    example: code(10000),
    summary: 'Milliseconds one push may take.',
    details: 'Must not exceed the interval (a default timeout is shortened to a shorter interval).',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_PROTOCOL',
    group: 'otlp',
    default: code(DEFAULTS.otlpProtocol),
    example: code('grpc'),
    summary: '`http/protobuf`, `http/json` or `grpc`.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL',
    group: 'otlp',
    default: 'the above',
    example: code('http/json'),
    summary: 'Wins over `OTEL_EXPORTER_OTLP_PROTOCOL`.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    group: 'otlp',
    default: '`http://localhost:4318` (`http://localhost:4317` for gRPC)',
    example: code('http://collector:4318'),
    summary: 'Base URL: HTTP protocols append `/v1/metrics`; gRPC takes scheme, host and port only.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
    group: 'otlp',
    default: 'the above',
    example: code('https://gw.example/otlp/metrics'),
    summary: 'Used exactly as given, with no path appended.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_HEADERS',
    group: 'otlp',
    default: 'none',
    example: code('authorization=Bearer%20xyz'),
    summary: '`key=value` pairs, comma-separated, values percent-encoded; sent with every export (gRPC: as metadata).',
    details: 'Errors never print values.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_METRICS_HEADERS',
    group: 'otlp',
    default: 'none',
    example: code('x-tenant=platform'),
    summary: 'Merged with the above, winning per key.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_TIMEOUT',
    group: 'otlp',
    default: code(DEFAULTS.otlpTimeoutMs),
    example: code(5000),
    summary: 'Milliseconds for one request, retries included; never more than `OTEL_METRIC_EXPORT_TIMEOUT`.',
    details: 'So a request to a collector that does not answer is given up before the next push starts, and pushes cannot pile up.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_METRICS_TIMEOUT',
    group: 'otlp',
    default: 'the above',
    example: code(5000),
    summary: 'Wins over the above.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_COMPRESSION',
    group: 'otlp',
    default: code(DEFAULTS.otlpCompression),
    example: code('gzip'),
    summary: '`gzip` or `none`.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_METRICS_COMPRESSION',
    group: 'otlp',
    default: 'the above',
    example: code('gzip'),
    summary: 'Wins over the above.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_CERTIFICATE',
    group: 'otlp',
    default: 'system CAs',
    example: code('/etc/ssl/collector-ca.pem'),
    summary: "PEM file of the CA that signed the collector's certificate (https and gRPC over TLS).",
    details: 'Read and checked at start-up.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE',
    group: 'otlp',
    default: 'the above',
    example: '',
    summary: 'Wins over the above.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE',
    group: 'otlp',
    default: 'none',
    example: code('/etc/udp-exporter/client.pem'),
    summary: 'PEM client certificate for mutual TLS; needs the key too.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE',
    group: 'otlp',
    default: 'the above',
    example: '',
    summary: 'Wins over the above.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_CLIENT_KEY',
    group: 'otlp',
    default: 'none',
    example: code('/etc/udp-exporter/client-key.pem'),
    summary: 'PEM private key of the client certificate.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY',
    group: 'otlp',
    default: 'the above',
    example: '',
    summary: 'Wins over the above.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE',
    group: 'otlp',
    default: code(DEFAULTS.temporality),
    example: code('delta'),
    summary: '`cumulative`, `delta` or `lowmemory`, as the specification defines them.',
    details: 'Prometheus always gets cumulative.',
  },
  {
    name: 'OTEL_SERVICE_NAME',
    group: 'otel',
    default: code(DEFAULTS.serviceName),
    example: code('udp-exporter-eu1'),
    summary: '`service.name` of the resource.',
  },
  {
    name: 'OTEL_RESOURCE_ATTRIBUTES',
    group: 'otel',
    default: 'none',
    example: code('deployment.environment.name=prod'),
    summary: 'More resource attributes, `key=value` comma-separated, values percent-encoded.',
    details:
      "The resource also has `service.version`, `service.instance.id` (default: the host name), `host.*` and the SDK's attributes; `/metrics` shows it as `target_info`.",
  },
];

/** The names of every variable the service reads. */
export const VARIABLE_NAMES: readonly string[] = VARIABLES.map(({ name }) => name);
