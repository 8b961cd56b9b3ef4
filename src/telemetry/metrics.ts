/**
 * Every metric the exporter publishes, declared once: its names, kind, unit, description, the
 * labels it carries, and how its values are observed from one collection. The instruments
 * (instruments.ts), the README's metric table (test/docs.test.ts) and `--help` all come from
 * this table: a new metric is one entry here and, when it needs data the view does not have
 * yet, one field in view.ts.
 *
 * Names are chosen so that a Prometheus user sees the same name whether they scrape /metrics
 * directly or read the OTLP stream through an OpenTelemetry Collector's prometheus exporter:
 * the direct path (the JS PrometheusSerializer) turns dots into underscores and appends only
 * `_total`, while the Collector also appends a unit word (`By` -> `_bytes`, `s` -> `_seconds`,
 * unit `1` on a gauge -> `_ratio`) unless a token of the name already is that word, and drops
 * `{annotation}` units. So byte and second quantities carry their unit word in the name,
 * counts use `{annotation}` units, and nothing uses unit `1`. test/naming.test.ts checks every
 * metric against those rules.
 */
import type { Attributes } from '@opentelemetry/api';
import type { PortListeners } from '../collection/snapshot.js';
import { NO_ATTRIBUTES, type CollectionView, type CountRow } from './view.js';

export type Emit = (value: number, attributes: Attributes) => void;
/** Emits the metric's values for one collection. */
export type Observe = (view: CollectionView, emit: Emit) => void;

export interface MetricDefinition {
  /** The OpenTelemetry instrument name. */
  readonly name: string;
  /** What a Prometheus user sees, by either path. */
  readonly prometheusName: string;
  /** Observable gauge, or observable (monotonic) counter. */
  readonly kind: 'gauge' | 'counter';
  /** Whole numbers unless said otherwise. */
  readonly valueType?: 'double';
  readonly unit: string;
  /** The HELP text of the page and the instrument's description. */
  readonly description: string;
  /** The labels on the page, as the README's metric table shows them. */
  readonly labels: string;
  /** More for the README, in Markdown, after the description. */
  readonly readmeNote?: string;
  readonly observe: Observe;
}

const LISTENER_LABELS = 'port, name';

/** One series per reported port: the listeners' value, or what a port without one reads. */
function perPort(value: (listeners: PortListeners | undefined) => number): Observe {
  return (view, emit) => {
    for (const row of view.listeners) emit(value(row.listeners), row.attributes);
  };
}

/** One series per namespace and IP version, from a column of snmp (Udp) or snmp6 (Udp6). */
function hostCounter(column: string): Observe {
  return (view, emit) => {
    for (const { attributes, columns } of view.hostCounters) {
      // Older kernels lack some columns: absent, not 0.
      const value = columns.get(column);
      if (value !== undefined) emit(value, attributes);
    }
  };
}

/** A single series without attributes, absent while the value is undefined. */
function single(value: (view: CollectionView) => number | undefined): Observe {
  return (view, emit) => {
    const observed = value(view);
    if (observed !== undefined) emit(observed, NO_ATTRIBUTES);
  };
}

function rows(select: (view: CollectionView) => readonly CountRow[]): Observe {
  return (view, emit) => {
    for (const { attributes, value } of select(view)) emit(value, attributes);
  };
}

export const METRICS: readonly MetricDefinition[] = [
  {
    name: 'udp.listener.up',
    prometheusName: 'udp_listener_up',
    kind: 'gauge',
    unit: '',
    description: 'Whether the UDP port has at least one listener (an unconnected socket bound to it): 1 or 0.',
    labels: LISTENER_LABELS,
    readmeNote: 'Configured ports are always present.',
    observe: perPort((listeners) => (listeners === undefined ? 0 : 1)),
  },
  {
    name: 'udp.listener.sockets',
    prometheusName: 'udp_listener_sockets',
    kind: 'gauge',
    unit: '{socket}',
    description: 'Listening sockets on the UDP port, IPv4 and IPv6 together (SO_REUSEPORT siblings each count).',
    labels: LISTENER_LABELS,
    observe: perPort((listeners) => listeners?.sockets ?? 0),
  },
  {
    name: 'udp.listener.receive_queue.bytes',
    prometheusName: 'udp_listener_receive_queue_bytes',
    kind: 'gauge',
    unit: 'By',
    description:
      "Kernel memory charged to the receive queues of the port's listening sockets, in bytes (datagrams waiting to be read, skb overhead included).",
    labels: LISTENER_LABELS,
    readmeNote: 'This is `rx_queue`: not a datagram count.',
    observe: perPort((listeners) => listeners?.receiveQueueBytes ?? 0),
  },
  {
    name: 'udp.listener.receive_buffer.bytes',
    prometheusName: 'udp_listener_receive_buffer_bytes',
    kind: 'gauge',
    unit: 'By',
    description:
      "The receive buffers of the port's listening sockets, in bytes, summed like the queue: SO_RCVBUF as the kernel holds it (twice what was asked for, see socket(7)). The queue is full when it reaches this.",
    labels: LISTENER_LABELS,
    readmeNote:
      'Only with `UDP_LISTENER_SOURCE=netlink` (procfs does not show it), and only for ports with a listener: absent otherwise, never 0. `udp_listener_receive_queue_bytes / udp_listener_receive_buffer_bytes` is how full the queue is.',
    observe: (view, emit) => {
      for (const row of view.listeners) {
        const bytes = row.listeners?.receiveBufferBytes;
        if (bytes !== undefined) emit(bytes, row.attributes);
      }
    },
  },
  {
    name: 'udp.listener.drops',
    prometheusName: 'udp_listener_drops_total',
    kind: 'counter',
    unit: '{datagram}',
    description:
      "Datagrams dropped by the port's listening sockets (receive queue full, memory or checksum errors), summed over them. Restarts from 0 when a listener restarts.",
    labels: LISTENER_LABELS,
    readmeNote: 'A restart is a counter reset, which `rate()` and `increase()` handle.',
    observe: perPort((listeners) => listeners?.drops ?? 0),
  },
  {
    name: 'udp.listener.owner.info',
    prometheusName: 'udp_listener_owner_info',
    kind: 'gauge',
    unit: '',
    description:
      'A process holding a listening socket of the port: always 1, with process_pid and process_executable_name (from /proc/<pid>/comm). Join on network_local_port.',
    labels: `${LISTENER_LABELS}, \`process_pid\`, \`process_executable_name\``,
    readmeNote: 'See [Owners](#owners).',
    observe: (view, emit) => {
      for (const attributes of view.owners) emit(1, attributes);
    },
  },
  {
    name: 'udp.listener.discovery.omitted_ports',
    prometheusName: 'udp_listener_discovery_omitted_ports',
    kind: 'gauge',
    unit: '{port}',
    description: 'Discovery mode: listening ports not reported because of UDP_LISTENER_DISCOVERY_LIMIT (the highest-numbered are left out).',
    labels: '',
    observe: single((view) => view.omittedPorts),
  },
  {
    name: 'udp.host.datagrams.received',
    prometheusName: 'udp_host_datagrams_received_total',
    kind: 'counter',
    unit: '{datagram}',
    description: 'UDP datagrams delivered to sockets on the host (InDatagrams).',
    labels: '`network_type`',
    readmeNote: '`ipv4` from `$HOST_PROC/1/net/snmp`, `ipv6` from `Udp6InDatagrams` of `snmp6`; likewise below.',
    observe: hostCounter('InDatagrams'),
  },
  {
    name: 'udp.host.datagrams.sent',
    prometheusName: 'udp_host_datagrams_sent_total',
    kind: 'counter',
    unit: '{datagram}',
    description: 'UDP datagrams sent from the host (OutDatagrams).',
    labels: '`network_type`',
    observe: hostCounter('OutDatagrams'),
  },
  {
    name: 'udp.host.datagrams.no_port',
    prometheusName: 'udp_host_datagrams_no_port_total',
    kind: 'counter',
    unit: '{datagram}',
    description: 'UDP datagrams that arrived for a port with no listener (NoPorts): lost, e.g. log lines sent to a shipper that is down.',
    labels: '`network_type`',
    observe: hostCounter('NoPorts'),
  },
  {
    name: 'udp.host.receive.errors',
    prometheusName: 'udp_host_receive_errors_total',
    kind: 'counter',
    unit: '{datagram}',
    description: 'UDP datagrams received but not delivered for any error (InErrors; includes receive-buffer and checksum errors).',
    labels: '`network_type`',
    observe: hostCounter('InErrors'),
  },
  {
    name: 'udp.host.receive_buffer.errors',
    prometheusName: 'udp_host_receive_buffer_errors_total',
    kind: 'counter',
    unit: '{datagram}',
    description: "UDP datagrams dropped because a socket's receive buffer was full (RcvbufErrors).",
    labels: '`network_type`',
    readmeNote: 'The host-wide sum of what `udp_listener_drops_total` shows per port.',
    observe: hostCounter('RcvbufErrors'),
  },
  {
    name: 'udp.host.send_buffer.errors',
    prometheusName: 'udp_host_send_buffer_errors_total',
    kind: 'counter',
    unit: '{datagram}',
    description: "UDP datagrams not sent because a socket's send buffer was full (SndbufErrors).",
    labels: '`network_type`',
    observe: hostCounter('SndbufErrors'),
  },
  {
    name: 'udp.host.checksum.errors',
    prometheusName: 'udp_host_checksum_errors_total',
    kind: 'counter',
    unit: '{datagram}',
    description: 'UDP datagrams received with a bad checksum (InCsumErrors).',
    labels: '`network_type`',
    observe: hostCounter('InCsumErrors'),
  },
  {
    name: 'udp.listener.exporter.collections',
    prometheusName: 'udp_listener_exporter_collections_total',
    kind: 'counter',
    unit: '{collection}',
    description: 'Reads of procfs by the exporter; concurrent scrapes and exports share one.',
    labels: '',
    readmeNote: 'So it grows slower than the scrape count under load.',
    observe: single((view) => view.collections),
  },
  {
    name: 'udp.listener.exporter.collection.duration.seconds',
    prometheusName: 'udp_listener_exporter_collection_duration_seconds',
    kind: 'gauge',
    valueType: 'double',
    unit: 's',
    description: 'Time the collection behind this scrape took to read and parse procfs, in seconds.',
    labels: '',
    observe: single((view) => view.durationSeconds),
  },
  {
    name: 'udp.listener.exporter.collection.errors',
    prometheusName: 'udp_listener_exporter_collection_errors_total',
    kind: 'counter',
    unit: '{error}',
    description: 'Failed reads of procfs files, by file and reason (ENOENT, EACCES, malformed, timeout, ...).',
    labels: '`file_path`, `error_type`',
    readmeNote: '`error_type` is one of `ENOENT`, `EACCES`, `EPERM`, `EIO`, `malformed`, `not_regular_file`, `too_large`, `timeout`, `still_stuck`, `other`.',
    observe: rows((view) => view.failureCounts),
  },
  {
    name: 'udp.listener.exporter.read.success',
    prometheusName: 'udp_listener_exporter_read_success',
    kind: 'gauge',
    unit: '',
    description: 'Whether the last collection read and parsed this procfs file: 1 or 0.',
    labels: '`file_path`',
    readmeNote:
      'With `UDP_LISTENER_SOURCE=netlink` the socket tables are `netlink:sock_diag/udp` and `netlink:sock_diag/udp6` (other namespaces: `netlink:<pid>/sock_diag/udp`, `udp6`), here and in the errors above; a malformed or cut-short reply counts as `malformed`.',
    observe: rows((view) => view.readSuccess),
  },
  {
    name: 'udp.listener.exporter.owner_lookup.unresolved_sockets',
    prometheusName: 'udp_listener_exporter_owner_lookup_unresolved_sockets',
    kind: 'gauge',
    unit: '{socket}',
    description:
      'Listening sockets on the page whose owning process is not known: not yet found within the collection deadline, or held by a process the exporter may not inspect.',
    labels: '',
    readmeNote: 'Only with owner lookup on.',
    observe: single((view) => view.unresolvedOwners),
  },
  {
    name: 'udp.listener.exporter.unreadable_processes',
    prometheusName: 'udp_listener_exporter_unreadable_processes',
    kind: 'gauge',
    unit: '{process}',
    description:
      'Processes whose /proc entries the last lookup could not read for lack of privileges (lookup="owners": fd directories; lookup="namespaces": ns/net links). Nonzero means CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE are missing.',
    labels: '`lookup`',
    readmeNote: '`namespaces` only with `UDP_LISTENER_NETNS=all`.',
    observe: rows((view) => view.unreadableProcesses),
  },
  {
    name: 'udp.listener.exporter.otlp.exports',
    prometheusName: 'udp_listener_exporter_otlp_exports_total',
    kind: 'counter',
    unit: '{export}',
    description: 'OTLP exports attempted (each may retry several times inside the exporter).',
    labels: '',
    readmeNote: 'Only with `otlp` on.',
    observe: single((view) => view.otlp?.exports),
  },
  {
    name: 'udp.listener.exporter.otlp.export_failures',
    prometheusName: 'udp_listener_exporter_otlp_export_failures_total',
    kind: 'counter',
    unit: '{export}',
    description: 'OTLP exports that failed after the exporter gave up retrying (collector down, slow, or refusing).',
    labels: '',
    readmeNote: 'Only with `otlp` on.',
    observe: single((view) => view.otlp?.failures),
  },
  {
    name: 'udp.listener.exporter.config.last_reload_successful',
    prometheusName: 'udp_listener_exporter_config_last_reload_successful',
    kind: 'gauge',
    unit: '',
    description:
      'Whether the last reload of the web configuration file (SIGHUP, or a changed file) succeeded: 1 or 0. At 0 the previous configuration is still serving.',
    labels: '',
    readmeNote: 'Only with `UDP_LISTENER_WEB_CONFIG_FILE`. As Prometheus\'s own `prometheus_config_last_reload_successful`.',
    observe: single((view) => (view.webConfigReload === undefined ? undefined : view.webConfigReload.lastReloadSuccessful ? 1 : 0)),
  },
  {
    name: 'udp.listener.exporter.config.last_reload_success_timestamp.seconds',
    prometheusName: 'udp_listener_exporter_config_last_reload_success_timestamp_seconds',
    kind: 'gauge',
    unit: 's',
    description: 'When the web configuration file was last loaded successfully, at start-up or by a reload, in seconds since the Unix epoch.',
    labels: '',
    readmeNote: 'Only with `UDP_LISTENER_WEB_CONFIG_FILE`.',
    observe: single((view) => view.webConfigReload?.lastSuccessSeconds),
  },
];
