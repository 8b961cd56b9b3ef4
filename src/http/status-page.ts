/**
 * The live status page a browser gets at `/`: the current table of listeners (port, name, up,
 * sockets, receive queue, drops, owners, the namespace where several are watched), what the
 * collection could not read, and a link to /metrics. Rendered on the server from one Snapshot,
 * the same read a scrape at that moment shares; no JavaScript.
 *
 * Every value goes through the `html` template, which escapes it: process names are chosen by
 * whoever starts the process. The page is served with a Content-Security-Policy that allows no
 * script at all and only its own stylesheet (by hash), so even a mistake here could not run one.
 */
import { createHash } from 'node:crypto';
import { ListenerTable, type PortRow } from '../collection/listener-table.js';
import { describeNamespace } from '../collection/namespaces.js';
import type { Snapshot } from '../collection/snapshot.js';
import type { NetnsMode } from '../config/config.js';
import type { WatchedPort } from '../config/ports.js';
import { Html, html, join } from './html.js';

export interface StatusPageFacts {
  readonly version: string;
  /** Shown in the title: a tab per host is how people keep several open. */
  readonly hostname: string;
  /** Configured ports; empty means discovery mode. */
  readonly ports: readonly WatchedPort[];
  readonly discoveryLimit: number;
  readonly procRoot: string;
  readonly netns: NetnsMode;
}

export interface RenderContext {
  /** Collections since start-up, this one included. */
  readonly collections: number;
  readonly readAt: Date;
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1b1b1b; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #c8c8c8; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
tr.down td { background: #fde2e2; }
tr.down td.up { color: #a40000; font-weight: bold; }
.problem { color: #a40000; }
.meta { color: #555; font-size: 0.9rem; }
code { font-size: 0.95em; }
`;

export class StatusPage {
  /** For the response header: no script, no other resource, this page's stylesheet only. */
  readonly contentSecurityPolicy: string;
  private readonly facts: StatusPageFacts;
  private readonly table: ListenerTable;

  constructor(facts: StatusPageFacts) {
    this.facts = facts;
    this.table = new ListenerTable(facts.ports);
    const styleHash = createHash('sha256').update(STYLE).digest('base64');
    this.contentSecurityPolicy = `default-src 'none'; style-src 'sha256-${styleHash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
  }

  render(snapshot: Snapshot, context: RenderContext): string {
    const { facts } = this;
    const rows = this.table.rows(snapshot);
    const withNamespaces = facts.netns === 'all';
    const title = `UDP listeners on ${facts.hostname}`;
    const page = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${Html.fromTrustedMarkup(STYLE)}</style>
</head>
<body>
<h1>${title}</h1>
${this.summary(snapshot, rows)}
<table id="listeners">
<thead><tr><th>Port</th><th>Name</th><th>Up</th><th>Sockets</th><th>Receive queue</th><th>Drops</th><th>Owners</th>${withNamespaces ? html`<th>Network namespace</th>` : ''}</tr></thead>
<tbody>
${rows.map((row) => this.row(row, snapshot, withNamespaces))}</tbody>
</table>
${ownerNote(snapshot)}${errors(snapshot)}<p class="meta">Read at ${context.readAt.toISOString()} in ${(snapshot.durationSeconds * 1000).toFixed(1)} ms (collection ${context.collections} since start-up) from <code>${facts.procRoot}</code>. Reload for a new read; every view reads procfs like a scrape does. udp-listener-exporter ${facts.version}.</p>
<p><a href="metrics">Metrics</a> (Prometheus text format)</p>
</body>
</html>
`;
    return page.markup;
  }

  private summary(snapshot: Snapshot, rows: readonly PortRow[]): Html {
    const { ports, discoveryLimit } = this.facts;
    const unread = snapshot.namespaces.filter((namespace) => namespace.listeners === undefined).length;
    const unreadNote =
      snapshot.namespaces.length === 0
        ? html` <strong class="problem">No network namespace could be read: nothing is known about any port.</strong>`
        : unread > 0
          ? html` <strong class="problem">The socket tables of ${unread === 1 && snapshot.namespaces.length === 1 ? 'the host' : `${unread} network namespaces`} could not be read: their ports are not shown (see the errors below).</strong>`
          : '';
    let counts: string;
    if (ports.length > 0) {
      const listening = new Set(rows.filter((row) => row.listeners !== undefined).map((row) => row.port));
      counts = `Ports with a listener: ${listening.size} of ${ports.length} configured.`;
    } else {
      const omitted = snapshot.omittedPorts > 0 ? ` ${snapshot.omittedPorts} more left out by the discovery limit (${discoveryLimit}).` : '';
      // With UDP_LISTENER_NETNS=all a port has a row per namespace: count it once.
      const listening = new Set(rows.map((row) => row.port)).size;
      counts = `Discovery mode: ${listening} listening port${listening === 1 ? '' : 's'} outside the ephemeral range.${omitted}`;
    }
    return html`<p id="summary">${counts}${unreadNote}</p>`;
  }

  private row(row: PortRow, snapshot: Snapshot, withNamespaces: boolean): Html {
    const { listeners } = row;
    const up = listeners !== undefined;
    const owners =
      snapshot.owners === undefined
        ? html`<span class="meta">lookup off</span>`
        : row.owners.length === 0
          ? up
            ? html`<span class="meta">unknown</span>`
            : ''
          : join(
              row.owners.map((owner) => html`<span class="owner" data-pid="${owner.pid}">${owner.executableName} (pid ${owner.pid})</span>`),
              ', ',
            );
    return html`<tr class="${up ? 'up' : 'down'}" data-port="${row.port}" data-up="${up ? 1 : 0}"><td class="number">${row.port}</td><td>${row.name ?? ''}</td><td class="up">${up ? 'yes' : 'no'}</td><td class="number">${listeners?.sockets ?? 0}</td><td class="number">${formatBytes(listeners?.receiveQueueBytes ?? 0)}</td><td class="number">${listeners?.drops ?? 0}</td><td class="owners">${owners}</td>${withNamespaces ? html`<td>${row.namespace === undefined ? '' : describeNamespace(row.namespace)}</td>` : ''}</tr>
`;
  }
}

function ownerNote(snapshot: Snapshot): Html | string {
  const lookup = snapshot.owners;
  if (lookup === undefined || lookup.unresolvedSockets === 0) return '';
  const why =
    lookup.unreadableProcesses > 0
      ? `${lookup.unreadableProcesses} processes could not be inspected: the exporter needs CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE (or root) to see other users' sockets.`
      : 'their holders were not found within this collection.';
  return html`<p id="owner-note">Owners of ${lookup.unresolvedSockets} listening socket${lookup.unresolvedSockets === 1 ? '' : 's'} unknown: ${why}</p>
`;
}

function errors(snapshot: Snapshot): Html | string {
  if (snapshot.failures.length === 0) return '';
  return html`<h2>Collection errors</h2>
<table id="errors">
<thead><tr><th>File</th><th>Error</th><th>Message</th></tr></thead>
<tbody>
${snapshot.failures.map(({ file, failure, message }) => html`<tr><td><code>${file}</code></td><td>${failure}</td><td>${message}</td></tr>
`)}</tbody>
</table>
`;
}

/** `1,664 B`: bytes as the kernel counts them, grouped for reading. */
function formatBytes(bytes: number): string {
  return `${bytes.toLocaleString('en-US')} B`;
}
