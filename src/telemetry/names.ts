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

export interface InstrumentSpec {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  /** What a Prometheus user sees, by either path. */
  readonly prometheusName: string;
}

export const LISTENER_UP: InstrumentSpec = {
  name: 'udp.listener.up',
  unit: '',
  description: 'Whether the UDP port has at least one listener (an unconnected socket bound to it): 1 or 0.',
  prometheusName: 'udp_listener_up',
};

export const LISTENER_SOCKETS: InstrumentSpec = {
  name: 'udp.listener.sockets',
  unit: '{socket}',
  description: 'Listening sockets on the UDP port, IPv4 and IPv6 together (SO_REUSEPORT siblings each count).',
  prometheusName: 'udp_listener_sockets',
};

export const LISTENER_RECEIVE_QUEUE: InstrumentSpec = {
  name: 'udp.listener.receive_queue.bytes',
  unit: 'By',
  description:
    "Kernel memory charged to the receive queues of the port's listening sockets, in bytes (datagrams waiting to be read, skb overhead included).",
  prometheusName: 'udp_listener_receive_queue_bytes',
};

export const LISTENER_DROPS: InstrumentSpec = {
  name: 'udp.listener.drops',
  unit: '{datagram}',
  description:
    "Datagrams dropped by the port's listening sockets (receive queue full, memory or checksum errors), summed over them. Restarts from 0 when a listener restarts.",
  prometheusName: 'udp_listener_drops_total',
};

export const DISCOVERY_OMITTED_PORTS: InstrumentSpec = {
  name: 'udp.listener.discovery.omitted_ports',
  unit: '{port}',
  description: 'Discovery mode: listening ports not reported because of UDP_LISTENER_DISCOVERY_LIMIT (the highest-numbered are left out).',
  prometheusName: 'udp_listener_discovery_omitted_ports',
};

export const COLLECTIONS: InstrumentSpec = {
  name: 'udp.listener.exporter.collections',
  unit: '{collection}',
  description: 'Reads of procfs by the exporter; concurrent scrapes and exports share one.',
  prometheusName: 'udp_listener_exporter_collections_total',
};

export const COLLECTION_DURATION: InstrumentSpec = {
  name: 'udp.listener.exporter.collection.duration.seconds',
  unit: 's',
  description: 'Time the collection behind this scrape took to read and parse procfs, in seconds.',
  prometheusName: 'udp_listener_exporter_collection_duration_seconds',
};

export const COLLECTION_ERRORS: InstrumentSpec = {
  name: 'udp.listener.exporter.collection.errors',
  unit: '{error}',
  description: 'Failed reads of procfs files, by file and reason (ENOENT, EACCES, malformed, timeout, ...).',
  prometheusName: 'udp_listener_exporter_collection_errors_total',
};

export const READ_SUCCESS: InstrumentSpec = {
  name: 'udp.listener.exporter.read.success',
  unit: '',
  description: 'Whether the last collection read and parsed this procfs file: 1 or 0.',
  prometheusName: 'udp_listener_exporter_read_success',
};

export const ALL_INSTRUMENTS: readonly InstrumentSpec[] = [
  LISTENER_UP,
  LISTENER_SOCKETS,
  LISTENER_RECEIVE_QUEUE,
  LISTENER_DROPS,
  DISCOVERY_OMITTED_PORTS,
  COLLECTIONS,
  COLLECTION_DURATION,
  COLLECTION_ERRORS,
  READ_SUCCESS,
];
