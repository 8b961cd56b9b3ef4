/**
 * The check's verdict, a pure function of one or two snapshots: for each port whether it has
 * a listener, its sockets, receive queue, drops (and drops within --window) and owners, a
 * monitoring-plugin status per port and overall, and the report that `--json` prints as is
 * (its keys are the documented JSON format; see the README).
 *
 * A socket table that could not be read makes the whole check UNKNOWN: nothing is known about
 * any port then, and neither "all listening" (OK) nor "not listening" (CRITICAL) would be true.
 */
import { ListenerTable, type PortRow } from '../collection/listener-table.js';
import type { CollectionFailure, PortListeners, Snapshot } from '../collection/snapshot.js';
import type { WatchedPort } from '../config/ports.js';

export type PluginStatus = 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';

/** The monitoring-plugin convention (Nagios plugin guidelines), which Icinga, Zabbix and others share; the codes rise with severity. */
export const PLUGIN_EXIT_CODES: Readonly<Record<PluginStatus, number>> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 };

/** The problem of a port without a listener, as the report words it. */
const NO_LISTENER = 'no listener';

export interface CheckThresholds {
  /** WARNING when a port's receive queue holds more than this many bytes. */
  readonly queueWarningBytes?: number | undefined;
  /** CRITICAL when it holds more than this many bytes. */
  readonly queueCriticalBytes?: number | undefined;
}

export interface CheckReadings {
  /** The read the check answers from. */
  readonly last: Snapshot;
  /** With --window: the read taken `windowSeconds` before `last`. */
  readonly first?: Snapshot | undefined;
  readonly windowSeconds?: number | undefined;
}

export interface OwnerReport {
  readonly pid: number;
  /** From /proc/<pid>/comm, made printable (control bytes as \xNN). */
  readonly executable_name: string;
}

/** A port's listeners in one network namespace (UDP_LISTENER_NETNS=all only). */
export interface NetnsReport {
  readonly inode: number;
  readonly host: boolean;
  readonly container_id: string | null;
  readonly pod_uid: string | null;
  readonly sockets: number;
  readonly receive_queue_bytes: number;
  readonly drops: number;
}

export interface PortReport {
  readonly port: number;
  readonly name: string | null;
  readonly status: PluginStatus;
  /** null: unknown (the socket tables could not be read). */
  readonly up: boolean | null;
  readonly sockets: number | null;
  readonly receive_queue_bytes: number | null;
  /** Drops of the listening sockets since each was created, summed. */
  readonly drops: number | null;
  /** With --window: drops between the two reads; null without. */
  readonly drops_in_window: number | null;
  readonly owners: readonly OwnerReport[];
  /** What makes the status worse than OK, in words. */
  readonly problems: readonly string[];
  /** null unless every network namespace is watched (UDP_LISTENER_NETNS=all). */
  readonly netns: readonly NetnsReport[] | null;
}

export interface ErrorReport {
  /** The file (or, before any read, the variable or argument) concerned. */
  readonly source: string;
  /** errno name (ENOENT, EACCES, ...), or timeout, malformed, configuration, ... */
  readonly error: string;
  readonly message: string;
}

export interface CheckReport {
  readonly status: PluginStatus;
  readonly exit_code: number;
  /** The status line's text, after "STATUS - ". */
  readonly summary: string;
  readonly window_seconds: number | null;
  readonly ports: readonly PortReport[];
  /** null when owner lookup is off (UDP_LISTENER_OWNERS=false). */
  readonly owner_lookup: { readonly unresolved_sockets: number; readonly unreadable_processes: number } | null;
  readonly errors: readonly ErrorReport[];
}

export function evaluateCheck(ports: readonly WatchedPort[], readings: CheckReadings, thresholds: CheckThresholds = {}): CheckReport {
  const { last, first } = readings;
  const windowSeconds = first === undefined ? undefined : readings.windowSeconds;
  const errors = [...(first === undefined ? [] : errorReports(first.failures)), ...errorReports(last.failures)].filter(
    (error, index, all) => all.findIndex((other) => other.source === error.source && other.error === error.error) === index,
  );
  const unreadable = [first, last].map((snapshot) => snapshot !== undefined && whyUnreadable(snapshot)).find((why) => typeof why === 'string');
  if (unreadable !== undefined) return unknownReport(ports, `cannot read the socket tables: ${unreadable}`, errors);

  const rowsByPort = new Map<number, PortRow[]>();
  for (const row of new ListenerTable(ports).rows(last)) {
    const rows = rowsByPort.get(row.port);
    if (rows === undefined) rowsByPort.set(row.port, [row]);
    else rows.push(row);
  }
  const dropsBefore = first === undefined ? undefined : dropsBySocket(first);
  const reports = ports.map((watched) => portReport(watched, rowsByPort.get(watched.port) ?? [], dropsBefore, windowSeconds, thresholds));
  const status = worst(reports.map((report) => report.status));
  return {
    status,
    exit_code: PLUGIN_EXIT_CODES[status],
    summary: summarize(status, reports, windowSeconds),
    window_seconds: windowSeconds ?? null,
    ports: reports,
    owner_lookup: last.owners === undefined ? null : { unresolved_sockets: last.owners.unresolvedSockets, unreadable_processes: last.owners.unreadableProcesses },
    errors,
  };
}

/** A check that could not look: UNKNOWN, every port unknown. */
export function unknownReport(ports: readonly WatchedPort[], summary: string, errors: readonly ErrorReport[]): CheckReport {
  return {
    status: 'UNKNOWN',
    exit_code: PLUGIN_EXIT_CODES.UNKNOWN,
    summary,
    window_seconds: null,
    ports: ports.map(({ port, name }) => ({
      port,
      name: name ?? null,
      status: 'UNKNOWN',
      up: null,
      sockets: null,
      receive_queue_bytes: null,
      drops: null,
      drops_in_window: null,
      owners: [],
      problems: ['not read'],
      netns: null,
    })),
    owner_lookup: null,
    errors,
  };
}

/** How a port is named in words: `514 (syslog)`, or `9000`. */
export function portLabel({ port, name }: { port: number; name?: string | null | undefined }): string {
  return name === undefined || name === null ? String(port) : `${port} (${name})`;
}

/** `10s`, `0.5s`. */
export function formatSeconds(seconds: number): string {
  return `${Number(seconds.toFixed(3))}s`;
}

/** Undefined when every socket table of the snapshot was read; otherwise why not. */
function whyUnreadable(snapshot: Snapshot): string | undefined {
  const tableFailures = snapshot.failures.filter(({ file }) => file.endsWith('/udp') || file.endsWith('/udp6'));
  const explain = (failures: readonly CollectionFailure[], fallback: string): string =>
    failures.length === 0 ? fallback : failures.map(({ message }) => message).join('; ');
  if (snapshot.namespaces.length === 0) return explain(snapshot.failures, 'no network namespace could be read');
  if (snapshot.namespaces.some(({ listeners }) => listeners === undefined)) return explain(tableFailures, 'a socket table could not be read');
  return undefined;
}

function errorReports(failures: readonly CollectionFailure[]): ErrorReport[] {
  return failures.map(({ file, failure, message }) => ({ source: file, error: failure, message }));
}

/**
 * Each socket's drop counter in a read, to pair with a later read. Sockets pair by inode (unique
 * while the socket lives): a restarted listener is a new socket. Kernel-owned sockets (a
 * WireGuard or VXLAN port) all have inode 0, so those pair by namespace and port instead.
 */
function dropsBySocket(snapshot: Snapshot): Map<string, number> {
  const drops = new Map<string, number>();
  for (const { namespace, listeners } of snapshot.namespaces) {
    for (const port of listeners?.values() ?? []) addSocketDrops(drops, namespace?.inode, port);
  }
  return drops;
}

/** Adds each of a port's sockets' drop counters to `drops`, keyed as socketKey pairs them. */
function addSocketDrops(drops: Map<string, number>, namespaceInode: number | undefined, port: PortListeners): void {
  port.inodes.forEach((inode, index) => {
    const key = socketKey(namespaceInode, port.port, inode);
    drops.set(key, (drops.get(key) ?? 0) + port.socketDrops[index]!);
  });
}

function socketKey(namespaceInode: number | undefined, port: number, inode: number): string {
  return inode === 0 ? `kernel ${namespaceInode ?? ''} ${port}` : `inode ${inode}`;
}

/**
 * Drops between the two reads: per socket, the increase of its counter. A socket the first read
 * did not see was created in between, so all its drops happened in the window; one whose
 * counter went down is not the same socket (an inode reused after a restart) and counts the
 * same way. Drops of a socket that closed in between are lost with it.
 */
function dropsInWindow(rows: readonly PortRow[], before: ReadonlyMap<string, number>): number {
  const now = new Map<string, number>();
  for (const { namespace, listeners } of rows) if (listeners !== undefined) addSocketDrops(now, namespace?.inode, listeners);
  let total = 0;
  for (const [key, drops] of now) {
    const earlier = before.get(key);
    total += earlier === undefined || drops < earlier ? drops : drops - earlier;
  }
  return total;
}

function portReport(
  watched: WatchedPort,
  rows: readonly PortRow[],
  dropsBefore: ReadonlyMap<string, number> | undefined,
  windowSeconds: number | undefined,
  thresholds: CheckThresholds,
): PortReport {
  const listening = rows.filter((row) => row.listeners !== undefined);
  const sum = (value: (row: PortRow) => number): number => listening.reduce((total, row) => total + value(row), 0);
  const sockets = sum((row) => row.listeners!.sockets);
  const queue = sum((row) => row.listeners!.receiveQueueBytes);
  const inWindow = dropsBefore === undefined ? null : dropsInWindow(listening, dropsBefore);
  const owners: OwnerReport[] = [];
  for (const row of listening) {
    for (const { pid, executableName } of row.owners) {
      if (!owners.some((owner) => owner.pid === pid)) owners.push({ pid, executable_name: executableName });
    }
  }

  const problems: { status: PluginStatus; text: string }[] = [];
  if (listening.length === 0) problems.push({ status: 'CRITICAL', text: NO_LISTENER });
  const { queueWarningBytes, queueCriticalBytes } = thresholds;
  if (queueCriticalBytes !== undefined && queue > queueCriticalBytes) {
    problems.push({ status: 'CRITICAL', text: `receive queue ${queue} B, above ${queueCriticalBytes} B` });
  } else if (queueWarningBytes !== undefined && queue > queueWarningBytes) {
    problems.push({ status: 'WARNING', text: `receive queue ${queue} B, above ${queueWarningBytes} B` });
  }
  if (inWindow !== null && inWindow > 0) problems.push({ status: 'WARNING', text: `${inWindow} drops in ${formatSeconds(windowSeconds ?? 0)}` });

  const watchesNamespaces = rows.some((row) => row.namespace !== undefined);
  return {
    port: watched.port,
    name: watched.name ?? null,
    status: worst(problems.map((problem) => problem.status)),
    up: listening.length > 0,
    sockets,
    receive_queue_bytes: queue,
    drops: sum((row) => row.listeners!.drops),
    drops_in_window: inWindow,
    owners,
    problems: problems.map((problem) => problem.text),
    netns: watchesNamespaces
      ? listening.map(({ namespace, listeners }) => ({
          inode: namespace!.inode,
          host: namespace!.isHost,
          container_id: namespace!.hints.containerId ?? null,
          pod_uid: namespace!.hints.podUid ?? null,
          sockets: listeners!.sockets,
          receive_queue_bytes: listeners!.receiveQueueBytes,
          drops: listeners!.drops,
        }))
      : null,
  };
}

function worst(statuses: readonly PluginStatus[]): PluginStatus {
  return statuses.reduce<PluginStatus>((worstSoFar, status) => (PLUGIN_EXIT_CODES[status] > PLUGIN_EXIT_CODES[worstSoFar] ? status : worstSoFar), 'OK');
}

/** The status line: every failing port with its name, the ports without a listener first. */
function summarize(status: PluginStatus, ports: readonly PortReport[], windowSeconds: number | undefined): string {
  const plural = (count: number, one: string, many: string): string => `${count} ${count === 1 ? one : many}`;
  if (status === 'OK') {
    const drops = windowSeconds === undefined ? '' : `, no drops in ${formatSeconds(windowSeconds)}`;
    return `${plural(ports.length, 'port has', 'ports have')} a listener${drops}`;
  }
  const parts: string[] = [];
  const down = ports.filter((port) => port.up === false);
  if (down.length > 0) {
    parts.push(`no listener on ${down.map(portLabel).join(', ')}: ${ports.length - down.length} of ${plural(ports.length, 'port', 'ports')} up`);
  }
  for (const severity of ['CRITICAL', 'WARNING'] as const) {
    for (const port of ports) {
      if (port.status !== severity) continue;
      const others = port.problems.filter((problem) => problem !== NO_LISTENER);
      if (others.length > 0) parts.push(`${portLabel(port)}: ${others.join(', ')}`);
    }
  }
  return parts.join('; ');
}
