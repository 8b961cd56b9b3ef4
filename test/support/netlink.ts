/**
 * What the netlink source is held to, wherever it runs (the checkout, the single executable):
 * the same configuration started once per source must give the same listener series, and a
 * network namespace of the test's own to read through it.
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { samplesOf, scrape, type Exposition, type Sample } from './exposition.js';
import { startService, type ServiceProcess, type StartOptions } from './service.js';

/** Every series that describes a listener: what must not depend on the source. */
const LISTENER_SERIES = ['udp_listener_up', 'udp_listener_sockets', 'udp_listener_receive_queue_bytes', 'udp_listener_drops_total', 'udp_listener_owner_info'];

/** The listener series of `ports`, as sorted lines: what two pages are compared by. */
export function listenerSeries(page: Exposition, ports: ReadonlySet<number>): string[] {
  const line = ({ name, labels, value }: Sample): string => `${name}${JSON.stringify(Object.entries(labels).sort())} ${value}`;
  return LISTENER_SERIES.flatMap((name) => samplesOf(page, name))
    .filter((sample) => ports.has(Number(sample.labels.network_local_port)))
    .map(line)
    .sort();
}

/**
 * Starts the same configuration once per source and returns both pages, procfs first;
 * `whileNetlinkRuns` looks at the netlink service after its scrape, before it stops.
 */
export async function scrapeBothSources(
  env: Record<string, string>,
  options: StartOptions = {},
  whileNetlinkRuns: (service: ServiceProcess) => void = () => undefined,
): Promise<[Exposition, Exposition]> {
  const procfs = await startService({ ...env, UDP_LISTENER_SOURCE: 'procfs' }, options);
  try {
    const netlink = await startService({ ...env, UDP_LISTENER_SOURCE: 'netlink' }, options);
    try {
      const pages: [Exposition, Exposition] = [await scrape(procfs.baseUrl), await scrape(netlink.baseUrl)];
      whileNetlinkRuns(netlink);
      return pages;
    } finally {
      await netlink.stop();
    }
  } finally {
    await procfs.stop();
  }
}

/** A network namespace of the test's own (root only: `ip netns add`), its loopback up. */
export class NetworkNamespace {
  readonly name: string;
  /** Its inode, which the service labels its series with (linux_netns_inode). */
  readonly inode: number;

  constructor(name: string) {
    execFileSync('ip', ['netns', 'add', name]);
    this.name = name;
    this.inode = statSync(`/run/netns/${name}`).ino;
    execFileSync('ip', this.exec(['ip', 'link', 'set', 'lo', 'up']).slice(1));
  }

  /** `command` run inside the namespace. */
  exec(command: readonly string[] = []): string[] {
    return ['ip', 'netns', 'exec', this.name, ...command];
  }

  delete(): void {
    execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
  }
}
