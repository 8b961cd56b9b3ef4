/**
 * The whole /metrics page on a fixture procfs (the captured real files, plus fd links, a second
 * network namespace and a hostile process name), compared byte for byte with the golden files in
 * test/fixtures/golden/. test/golden-scrape.test.ts holds the checkout to them; the package and
 * the single executable are held to the same files, so each serves exactly what the checkout does.
 *
 * Only what cannot be the same twice is normalised: the fixture tree's temporary path, the
 * collection's duration and target_info (host name, host id).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FIXTURES } from './paths.js';
import { procTree } from './proc-tree.js';
import { startService, type StartOptions } from './service.js';

export const GOLDEN = `${FIXTURES}golden/`;
const HOST_NETNS = 'net:[4026531840]';

/** The captured tables, owners for some listeners, and a container namespace held by pid 4242. */
function goldenTree(): ReturnType<typeof procTree> {
  const udp = readFileSync(`${FIXTURES}procfs/real/1/net/udp`, 'latin1').split('\n');
  // The container's one listener: the 6984 wildcard line under another inode.
  const containerUdp = `${udp[0]}\n${udp[2]!.replace(' 5047 ', ' 7001 ')}\n`;
  return procTree({
    '1/ns/net': { link: HOST_NETNS },
    '1/fd/0': { link: '/dev/null' },
    '1/fd/3': { link: 'socket:[5047]' },
    '1/fd/4': { link: 'socket:[5059]' },
    '1/fd/5': { link: 'socket:[5053]' },
    '1/fd/6': { link: 'socket:[5054]' },
    '1/fd/7': { link: 'socket:[5049]' },
    '4242/comm': 've"c\\tor{}\x01\n',
    '4242/cgroup': '0::/system.slice/docker-0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0.scope\n',
    '4242/ns/net': { link: 'net:[4026532999]' },
    '4242/fd/9': { link: 'socket:[7001]' },
    '4242/net/udp': containerUdp,
    '4242/net/snmp': readFileSync(`${FIXTURES}procfs/real/1/net/snmp`, 'latin1'),
  });
}

function normalise(page: string, root: string): string {
  return page
    .split(root)
    .join('<HOST_PROC>')
    .split('\n')
    .filter((line) => !line.startsWith('target_info{'))
    .map((line) => line.replace(/^(udp_listener_exporter_collection_duration_seconds) \S+$/, '$1 <duration>'))
    .join('\n');
}

export interface GoldenCase {
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;
  /** Files of the tree replaced for this case only, e.g. a table cut short. */
  readonly broken?: Readonly<Record<string, string>>;
}

export const GOLDEN_CASES: readonly GoldenCase[] = [
  { name: 'configured', env: { UDP_LISTENER_PORTS: 'syslog=514,filebeat=6984,ipfix=2055,618,1514,5140,8125,9000,61812,6985,7000-7001' } },
  { name: 'discovery', env: {} },
  { name: 'netns-all', env: { UDP_LISTENER_NETNS: 'all', UDP_LISTENER_PORTS: 'syslog=514,filebeat=6984,8125' } },
  { name: 'owners-off', env: { UDP_LISTENER_OWNERS: 'false', UDP_LISTENER_PORTS: '514,6984' } },
  {
    name: 'broken-tables',
    env: { UDP_LISTENER_PORTS: '514,6984' },
    // A socket table cut short, and a counters header with NoPorts misspelt (no kernel's).
    broken: {
      '1/net/udp6': readFileSync(`${FIXTURES}procfs/real/1/net/udp6`, 'latin1').slice(0, 300),
      '1/net/snmp': 'Udp: InDatagrams NoPrts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 1 2 3 4 5 6\n',
    },
  },
];

/**
 * The normalised page the service serves for this case, started as `options` say with `extraEnv`
 * added; asserts it answered 200 and then exited 0 on SIGTERM.
 */
export async function goldenCasePage({ env, broken }: GoldenCase, options: StartOptions = {}, extraEnv: Record<string, string> = {}): Promise<string> {
  const tree = goldenTree();
  try {
    if (broken !== undefined) tree.change(broken);
    const service = await startService({ ...extraEnv, HOST_PROC: tree.root, ...env }, options);
    let page: string;
    let exitCode: number | null;
    try {
      const response = await fetch(`${service.baseUrl}/metrics`);
      assert.equal(response.status, 200);
      page = normalise(await response.text(), tree.root);
    } finally {
      exitCode = await service.stop();
    }
    assert.equal(exitCode, 0, `exit code after SIGTERM; stderr:\n${service.stderr()}`);
    return page;
  } finally {
    tree.remove();
  }
}

/** Asserts that the artifact started as `options` serves every golden page byte for byte. */
export async function assertServesGoldenPages(options: StartOptions, extraEnv: Record<string, string> = {}): Promise<void> {
  for (const goldenCase of GOLDEN_CASES) {
    const file = `${GOLDEN}${goldenCase.name}.prom`;
    assert.equal(await goldenCasePage(goldenCase, options, extraEnv), readFileSync(file, 'utf8'), `the page differs from ${file}`);
  }
}
