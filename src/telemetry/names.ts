/**
 * Instrument names, units and attribute keys in one place.
 *
 * Names are chosen so that a Prometheus user sees the same name whether they scrape /metrics
 * directly or read the OTLP stream through an OpenTelemetry Collector's prometheus exporter:
 * the direct path (the JS PrometheusSerializer) turns dots into underscores and appends only
 * `_total`, while the Collector also appends a unit word (`By` -> `_bytes`, `s` -> `_seconds`,
 * unit `1` on a gauge -> `_ratio`) unless a token of the name already is that word, and drops
 * `{annotation}` units. So byte and second quantities carry their unit word in the name,
 * counts use `{annotation}` units, and nothing uses unit `1`.
 * test/naming.test.ts checks every instrument against those rules.
 */

export const METER_NAME = 'udp-listener-exporter';

export const ATTR_PORT = 'network.local.port';
export const ATTR_LISTENER_NAME = 'udp.listener.name';
export const ATTR_FILE_PATH = 'file.path';
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_NETWORK_TYPE = 'network.type';
export const ATTR_PROCESS_PID = 'process.pid';
export const ATTR_PROCESS_EXECUTABLE_NAME = 'process.executable.name';
/** UDP_LISTENER_NETNS=all: the network namespace's inode, and hints of what it belongs to. */
export const ATTR_NETNS_INODE = 'linux.netns.inode';
export const ATTR_CONTAINER_ID = 'container.id';
export const ATTR_K8S_POD_UID = 'k8s.pod.uid';
/** Which lookup found processes it could not read: `owners` (fd walk) or `namespaces`. */
export const ATTR_LOOKUP = 'lookup';

export interface InstrumentSpec {
  readonly name: string;
  /** Observable gauge, or observable (monotonic) counter. */
  readonly kind: 'gauge' | 'counter';
  /** Whole numbers unless said otherwise. */
  readonly valueType?: 'double';
  readonly unit: string;
  readonly description: string;
  /** What a Prometheus user sees, by either path. */
  readonly prometheusName: string;
}

export const LISTENER_UP: InstrumentSpec = {
  name: 'udp.listener.up',
  kind: 'gauge',
  unit: '',
  description: 'Whether the UDP port has at least one listener (an unconnected socket bound to it): 1 or 0.',
  prometheusName: 'udp_listener_up',
};

export const LISTENER_SOCKETS: InstrumentSpec = {
  name: 'udp.listener.sockets',
  kind: 'gauge',
  unit: '{socket}',
  description: 'Listening sockets on the UDP port, IPv4 and IPv6 together (SO_REUSEPORT siblings each count).',
  prometheusName: 'udp_listener_sockets',
};

export const LISTENER_RECEIVE_QUEUE: InstrumentSpec = {
  name: 'udp.listener.receive_queue.bytes',
  kind: 'gauge',
  unit: 'By',
  description:
    "Kernel memory charged to the receive queues of the port's listening sockets, in bytes (datagrams waiting to be read, skb overhead included).",
  prometheusName: 'udp_listener_receive_queue_bytes',
};

export const LISTENER_DROPS: InstrumentSpec = {
  name: 'udp.listener.drops',
  kind: 'counter',
  unit: '{datagram}',
  description:
    "Datagrams dropped by the port's listening sockets (receive queue full, memory or checksum errors), summed over them. Restarts from 0 when a listener restarts.",
  prometheusName: 'udp_listener_drops_total',
};

export const LISTENER_OWNER_INFO: InstrumentSpec = {
  name: 'udp.listener.owner.info',
  kind: 'gauge',
  unit: '',
  description:
    'A process holding a listening socket of the port: always 1, with process_pid and process_executable_name (from /proc/<pid>/comm). Join on network_local_port.',
  prometheusName: 'udp_listener_owner_info',
};

export const DISCOVERY_OMITTED_PORTS: InstrumentSpec = {
  name: 'udp.listener.discovery.omitted_ports',
  kind: 'gauge',
  unit: '{port}',
  description: 'Discovery mode: listening ports not reported because of UDP_LISTENER_DISCOVERY_LIMIT (the highest-numbered are left out).',
  prometheusName: 'udp_listener_discovery_omitted_ports',
};

export const COLLECTIONS: InstrumentSpec = {
  name: 'udp.listener.exporter.collections',
  kind: 'counter',
  unit: '{collection}',
  description: 'Reads of procfs by the exporter; concurrent scrapes and exports share one.',
  prometheusName: 'udp_listener_exporter_collections_total',
};

export const COLLECTION_DURATION: InstrumentSpec = {
  name: 'udp.listener.exporter.collection.duration.seconds',
  kind: 'gauge',
  valueType: 'double',
  unit: 's',
  description: 'Time the collection behind this scrape took to read and parse procfs, in seconds.',
  prometheusName: 'udp_listener_exporter_collection_duration_seconds',
};

export const COLLECTION_ERRORS: InstrumentSpec = {
  name: 'udp.listener.exporter.collection.errors',
  kind: 'counter',
  unit: '{error}',
  description: 'Failed reads of procfs files, by file and reason (ENOENT, EACCES, malformed, timeout, ...).',
  prometheusName: 'udp_listener_exporter_collection_errors_total',
};

export const READ_SUCCESS: InstrumentSpec = {
  name: 'udp.listener.exporter.read.success',
  kind: 'gauge',
  unit: '',
  description: 'Whether the last collection read and parsed this procfs file: 1 or 0.',
  prometheusName: 'udp_listener_exporter_read_success',
};

/** Host-wide counters of /proc/net/snmp (Udp) and snmp6 (Udp6), with the kernel column each reads. */
export const HOST_DATAGRAMS_RECEIVED: InstrumentSpec = {
  name: 'udp.host.datagrams.received',
  kind: 'counter',
  unit: '{datagram}',
  description: 'UDP datagrams delivered to sockets on the host (InDatagrams).',
  prometheusName: 'udp_host_datagrams_received_total',
};

export const HOST_DATAGRAMS_SENT: InstrumentSpec = {
  name: 'udp.host.datagrams.sent',
  kind: 'counter',
  unit: '{datagram}',
  description: 'UDP datagrams sent from the host (OutDatagrams).',
  prometheusName: 'udp_host_datagrams_sent_total',
};

export const HOST_DATAGRAMS_NO_PORT: InstrumentSpec = {
  name: 'udp.host.datagrams.no_port',
  kind: 'counter',
  unit: '{datagram}',
  description: 'UDP datagrams that arrived for a port with no listener (NoPorts): lost, e.g. log lines sent to a shipper that is down.',
  prometheusName: 'udp_host_datagrams_no_port_total',
};

export const HOST_RECEIVE_ERRORS: InstrumentSpec = {
  name: 'udp.host.receive.errors',
  kind: 'counter',
  unit: '{datagram}',
  description: 'UDP datagrams received but not delivered for any error (InErrors; includes receive-buffer and checksum errors).',
  prometheusName: 'udp_host_receive_errors_total',
};

export const HOST_RECEIVE_BUFFER_ERRORS: InstrumentSpec = {
  name: 'udp.host.receive_buffer.errors',
  kind: 'counter',
  unit: '{datagram}',
  description: "UDP datagrams dropped because a socket's receive buffer was full (RcvbufErrors).",
  prometheusName: 'udp_host_receive_buffer_errors_total',
};

export const HOST_SEND_BUFFER_ERRORS: InstrumentSpec = {
  name: 'udp.host.send_buffer.errors',
  kind: 'counter',
  unit: '{datagram}',
  description: "UDP datagrams not sent because a socket's send buffer was full (SndbufErrors).",
  prometheusName: 'udp_host_send_buffer_errors_total',
};

export const HOST_CHECKSUM_ERRORS: InstrumentSpec = {
  name: 'udp.host.checksum.errors',
  kind: 'counter',
  unit: '{datagram}',
  description: 'UDP datagrams received with a bad checksum (InCsumErrors).',
  prometheusName: 'udp_host_checksum_errors_total',
};

/** Each host counter and the snmp/snmp6 column it reads. */
export const HOST_COUNTERS: readonly (readonly [InstrumentSpec, string])[] = [
  [HOST_DATAGRAMS_RECEIVED, 'InDatagrams'],
  [HOST_DATAGRAMS_SENT, 'OutDatagrams'],
  [HOST_DATAGRAMS_NO_PORT, 'NoPorts'],
  [HOST_RECEIVE_ERRORS, 'InErrors'],
  [HOST_RECEIVE_BUFFER_ERRORS, 'RcvbufErrors'],
  [HOST_SEND_BUFFER_ERRORS, 'SndbufErrors'],
  [HOST_CHECKSUM_ERRORS, 'InCsumErrors'],
];

export const OWNER_UNRESOLVED_SOCKETS: InstrumentSpec = {
  name: 'udp.listener.exporter.owner_lookup.unresolved_sockets',
  kind: 'gauge',
  unit: '{socket}',
  description: 'Listening sockets on the page whose owning process is not known: not yet found within the collection deadline, or held by a process the exporter may not inspect.',
  prometheusName: 'udp_listener_exporter_owner_lookup_unresolved_sockets',
};

export const UNREADABLE_PROCESSES: InstrumentSpec = {
  name: 'udp.listener.exporter.unreadable_processes',
  kind: 'gauge',
  unit: '{process}',
  description:
    'Processes whose /proc entries the last lookup could not read for lack of privileges (lookup="owners": fd directories; lookup="namespaces": ns/net links). Nonzero means CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE are missing.',
  prometheusName: 'udp_listener_exporter_unreadable_processes',
};

export const OTLP_EXPORTS: InstrumentSpec = {
  name: 'udp.listener.exporter.otlp.exports',
  kind: 'counter',
  unit: '{export}',
  description: 'OTLP exports attempted (each may retry several times inside the exporter).',
  prometheusName: 'udp_listener_exporter_otlp_exports_total',
};

export const OTLP_EXPORT_FAILURES: InstrumentSpec = {
  name: 'udp.listener.exporter.otlp.export_failures',
  kind: 'counter',
  unit: '{export}',
  description: 'OTLP exports that failed after the exporter gave up retrying (collector down, slow, or refusing).',
  prometheusName: 'udp_listener_exporter_otlp_export_failures_total',
};

export const ALL_INSTRUMENTS: readonly InstrumentSpec[] = [
  LISTENER_UP,
  LISTENER_SOCKETS,
  LISTENER_RECEIVE_QUEUE,
  LISTENER_DROPS,
  LISTENER_OWNER_INFO,
  DISCOVERY_OMITTED_PORTS,
  ...HOST_COUNTERS.map(([spec]) => spec),
  COLLECTIONS,
  COLLECTION_DURATION,
  COLLECTION_ERRORS,
  READ_SUCCESS,
  OWNER_UNRESOLVED_SOCKETS,
  UNREADABLE_PROCESSES,
  OTLP_EXPORTS,
  OTLP_EXPORT_FAILURES,
];
