/**
 * The whole page, byte for byte, against golden files: the service started as a process on a
 * fixture procfs (the captured real files, plus fd links, a second network namespace and a
 * hostile process name), scraped over HTTP. Refactoring must not change one byte of it; a
 * deliberate change of the page regenerates the files with `UPDATE_GOLDEN=1 npm test` and
 * shows up in the diff of the commit.
 *
 * Only what cannot be the same twice is normalised: the fixture tree's temporary path, the
 * collection's duration and target_info (host name, host id).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FIXTURES } from './support/paths.js';
import { procTree } from './support/proc-tree.js';
import { startService } from './support/service.js';

const GOLDEN = `${FIXTURES}golden/`;
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

interface GoldenCase {
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;
  /** Files of the tree replaced for this case only, e.g. a table cut short. */
  readonly broken?: Readonly<Record<string, string>>;
}

const CASES: readonly GoldenCase[] = [
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

describe('golden scrape on the captured fixtures', () => {
  for (const { name, env, broken } of CASES) {
    it(`${name}: the page is byte-identical to test/fixtures/golden/${name}.prom`, async (t) => {
      const tree = goldenTree();
      t.after(() => tree.remove());
      if (broken !== undefined) tree.change(broken);
      const service = await startService({ HOST_PROC: tree.root, ...env });
      try {
        const response = await fetch(`${service.baseUrl}/metrics`);
        assert.equal(response.status, 200);
        const page = normalise(await response.text(), tree.root);
        const file = `${GOLDEN}${name}.prom`;
        if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, page);
        assert.equal(page, readFileSync(file, 'utf8'), `the page differs from ${file}; if the change is intended, run UPDATE_GOLDEN=1 npm test`);
      } finally {
        assert.equal(await service.stop(), 0);
      }
    });
  }
});
