/** The page at `/`: what this is, what it watches, and a link to /metrics. */
import type { WatchedPort } from '../config/ports.js';
import { escapeHtml } from './html.js';

export interface LandingPageFacts {
  readonly version: string;
  readonly ports: readonly WatchedPort[];
  readonly discoveryLimit: number;
  readonly procRoot: string;
}

export function renderLandingPage(facts: LandingPageFacts): string {
  const watching =
    facts.ports.length === 0
      ? `Discovery mode: every port with a UDP listener outside the ephemeral range, at most ${facts.discoveryLimit}.`
      : `Watching ${facts.ports.length} port${facts.ports.length === 1 ? '' : 's'}: ${describePorts(facts.ports)}.`;
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>UDP listener exporter</title></head>
<body>
<h1>UDP listener exporter</h1>
<p>Version ${escapeHtml(facts.version)}. ${escapeHtml(watching)} procfs: <code>${escapeHtml(facts.procRoot)}</code>.</p>
<p><a href="metrics">Metrics</a>. A browser (an Accept header naming text/html) gets the live table of listeners here.</p>
</body>
</html>
`;
}

/** Ports as the user wrote them: consecutive ports with the same name folded into ranges. */
function describePorts(ports: readonly WatchedPort[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ports.length; ) {
    let j = i;
    while (j + 1 < ports.length && ports[j + 1]!.port === ports[j]!.port + 1 && ports[j + 1]!.name === ports[i]!.name) j++;
    const range = j === i ? `${ports[i]!.port}` : `${ports[i]!.port}-${ports[j]!.port}`;
    const name = ports[i]!.name;
    parts.push(name === undefined ? range : `${name}=${range}`);
    i = j + 1;
  }
  return parts.join(', ');
}
