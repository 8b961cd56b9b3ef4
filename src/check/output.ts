/**
 * The check's report as monitoring-plugin output (Nagios plugin guidelines):
 *
 *   STATUS - summary | 'label'=value[UOM];warn;crit;min;max ...
 *   one line per port
 *   notes and read errors
 *
 * Process names are chosen by whoever runs the process: a `|` in one would start perfdata and
 * a newline a new line, so both are written as \xNN in every text line.
 */
import { describeNamespace } from '../collection/namespaces.js';
import { formatSeconds, portLabel, type CheckReport, type CheckThresholds, type PortReport } from './evaluate.js';

export function pluginOutput(report: CheckReport, thresholds: CheckThresholds): string {
  const perfdata = report.ports.flatMap((port) => portPerfdata(port, report.window_seconds !== null, thresholds)).join(' ');
  const lines = [`${report.status} - ${pluginText(report.summary)}${perfdata === '' ? '' : ` | ${perfdata}`}`];
  const ownerLookup = report.owner_lookup !== null;
  for (const port of report.ports) lines.push(pluginText(portLine(port, report.window_seconds, ownerLookup)));
  const lookup = report.owner_lookup;
  if (lookup !== null && lookup.unresolved_sockets > 0) {
    const why =
      lookup.unreadable_processes > 0
        ? `: ${lookup.unreadable_processes} processes could not be inspected (run as root, or with CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE)`
        : ' (not found in time, or held by no process)';
    lines.push(`owners of ${lookup.unresolved_sockets} listening sockets unknown${why}`);
  }
  for (const { message } of report.errors) {
    // The status line may say it already (the socket tables, a configuration error).
    if (!report.summary.includes(message)) lines.push(pluginText(`error: ${message}`));
  }
  return `${lines.join('\n')}\n`;
}

/** `514 (syslog): OK - 1 socket, receive queue 0 B, 0 drops, owner rsyslogd (pid 812)`. */
function portLine(port: PortReport, windowSeconds: number | null, ownerLookup: boolean): string {
  const facts: string[] = [];
  if (port.up === true) {
    facts.push(`${port.sockets} socket${port.sockets === 1 ? '' : 's'}`, `receive queue ${port.receive_queue_bytes} B`);
    const inWindow = port.drops_in_window === null || windowSeconds === null ? '' : ` (${port.drops_in_window} in ${formatSeconds(windowSeconds)})`;
    facts.push(`${port.drops} drops${inWindow}`);
    if (port.owners.length > 0) {
      facts.push(`owner${port.owners.length === 1 ? '' : 's'} ${port.owners.map((owner) => `${owner.executable_name} (pid ${owner.pid})`).join(', ')}`);
    } else if (ownerLookup) {
      facts.push('owner unknown');
    }
    if (port.netns !== null) facts.push(`in netns ${port.netns.map(describeNetns).join(', ')}`);
  }
  const problems = port.problems.join(', ');
  return `${portLabel(port)}: ${port.status} - ${[problems, facts.join(', ')].filter((part) => part !== '').join('; ')}`;
}

function describeNetns(netns: NonNullable<PortReport['netns']>[number]): string {
  const hints = { ...(netns.container_id === null ? {} : { containerId: netns.container_id }), ...(netns.pod_uid === null ? {} : { podUid: netns.pod_uid }) };
  return describeNamespace({ inode: netns.inode, isHost: netns.host, hints });
}

/**
 * Perfdata of a port: its sockets (critical below 1), its receive queue in bytes with the
 * thresholds given, and its drops: a counter (`c`) without --window, the drops within the
 * window (warning above 0) with it. Labels are `name_port_...` or `port_...`.
 */
function portPerfdata(port: PortReport, windowed: boolean, thresholds: CheckThresholds): string[] {
  if (port.up === null) return [];
  const label = port.name === null ? String(port.port) : `${port.name}_${port.port}`;
  const item = (suffix: string, value: string, warn = '', crit = ''): string => `'${label}_${suffix}'=${value};${warn};${crit};0`;
  return [
    item('sockets', String(port.sockets), '', '1:'),
    item('queue', `${port.receive_queue_bytes}B`, threshold(thresholds.queueWarningBytes), threshold(thresholds.queueCriticalBytes)),
    windowed ? item('drops_in_window', String(port.drops_in_window), '0') : item('drops', `${port.drops}c`),
  ];
}

function threshold(value: number | undefined): string {
  return value === undefined ? '' : String(value);
}

/** One line of plugin text: `|` and line breaks as \xNN (see the module comment). */
export function pluginText(text: string): string {
  return text.replace(/[|\r\n]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
