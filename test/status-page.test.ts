/**
 * The status page at `/`: who gets it (content negotiation), what it shows for a snapshot, the
 * escaping of everything in it, its headers, and that a page view is a collection like a scrape,
 * sharing the one in flight. The page in a real browser is test/status-page-browser.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { escapeHtml, html, join } from '../src/http/html.js';
import { prefersHtml } from '../src/http/server.js';
import { StatusPage, type StatusPageFacts } from '../src/http/status-page.js';
import { parseExposition, scrape, valueOf } from './support/exposition.js';
import { FIXTURES } from './support/paths.js';
import { startService, type ServiceProcess } from './support/service.js';
import { snapshot } from './support/snapshots.js';
import { until } from './support/prometheus.js';
import { StuckFuse } from './support/stuck-fuse.js';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

describe('prefersHtml', () => {
  const cases: [string | undefined, boolean][] = [
    [BROWSER_ACCEPT, true],
    ['application/xhtml+xml', true],
    ['TEXT/HTML; charset=utf-8', true],
    ['text/plain, text/html;q=0.1', true],
    ['*/*', false],
    [undefined, false],
    ['', false],
    ['text/html;q=0', false],
    ['text/html;q=0.0, */*', false],
    ['text/plain', false],
    ['text/htmlx', false],
  ];
  for (const [accept, expected] of cases) {
    it(`${JSON.stringify(accept)}: ${expected ? 'the status page' : 'the landing page'}`, () => assert.equal(prefersHtml(accept), expected));
  }
});

describe('html', () => {
  it('escapes every value, and only values', () => {
    const name = `<script>alert("x")</script>&'`;
    assert.equal(escapeHtml(name), '&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;&#38;&#39;');
    assert.equal(html`<td title="${name}">${name}</td>`.markup, `<td title="${escapeHtml(name)}">${escapeHtml(name)}</td>`);
    assert.equal(html`<p>${42}</p>`.markup, '<p>42</p>');
  });

  it('does not escape Html twice, in a value, a list or a join', () => {
    const cell = html`<b>${'<i>'}</b>`;
    assert.equal(html`<td>${cell}</td>`.markup, '<td><b>&#60;i&#62;</b></td>');
    assert.equal(html`${[cell, cell]}`.markup, '<b>&#60;i&#62;</b><b>&#60;i&#62;</b>');
    assert.equal(join([cell, cell], ' & ').markup, '<b>&#60;i&#62;</b> &#38; <b>&#60;i&#62;</b>');
  });
});

const FACTS: StatusPageFacts = {
  version: '1.2.3',
  hostname: 'node-7',
  ports: [{ port: 514, name: 'syslog' }, { port: 6984, name: 'filebeat' }, { port: 9000 }],
  discoveryLimit: 100,
  procRoot: '/host/proc',
  netns: 'host',
};
const CONTEXT = { collections: 12, readAt: new Date('2026-12-02T10:00:00Z') };

/** The listener table's rows: [port, up, cells as text]. */
function rowsOf(page: string): [number, boolean, string[]][] {
  const body = /<table id="listeners">[\s\S]*?<tbody>([\s\S]*?)<\/tbody>/.exec(page)![1]!;
  return [...body.matchAll(/<tr class="(?:up|down)" data-port="(\d+)" data-up="([01])">([\s\S]*?)<\/tr>/g)].map(([, port, up, cells]) => [
    Number(port),
    up === '1',
    [...cells!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map(([, cell]) => cell!.replace(/<[^>]+>/g, '')),
  ]);
}

describe('StatusPage.render', () => {
  it('a row per configured port: up, sockets, queue, drops and owners, the ports without a listener too', () => {
    const page = new StatusPage(FACTS).render(
      snapshot({
        sockets: [[514, 11, 0, 0], [9000, 21, 1664, 28], [9000, 22, 0, 2]],
        owners: { 11: [{ pid: 812, executableName: 'rsyslogd' }], 21: [{ pid: 900, executableName: 'vector' }], 22: [{ pid: 901, executableName: 'vector' }] },
      }),
      CONTEXT,
    );
    assert.deepEqual(rowsOf(page), [
      [514, true, ['514', 'syslog', 'yes', '1', '0 B', '0', 'rsyslogd (pid 812)']],
      [6984, false, ['6984', 'filebeat', 'no', '0', '0 B', '0', '']],
      [9000, true, ['9000', '', 'yes', '2', '1,664 B', '30', 'vector (pid 900), vector (pid 901)']],
    ]);
    assert.match(page, /<title>UDP listeners on node-7<\/title>/);
    assert.match(page, /<p id="summary">Ports with a listener: 2 of 3 configured\.<\/p>/);
    assert.match(page, /Read at 2026-12-02T10:00:00\.000Z in 1\.0 ms \(collection 12 since start-up\) from <code>\/host\/proc<\/code>/);
    assert.match(page, /<a href="metrics">Metrics<\/a>/);
    assert.doesNotMatch(page, /<script|Network namespace|Collection errors/);
  });

  it('escapes a hostile process name, the host name and file names in errors', () => {
    const hostile = `<script>document.title='pwned'</script><img src=x onerror="alert(1)">&amp;`;
    const page = new StatusPage({ ...FACTS, hostname: '<b>host</b>' }).render(
      snapshot({
        sockets: [[514, 11, 0, 0]],
        owners: { 11: [{ pid: 5, executableName: hostile }] },
        failures: [{ file: '/proc/<i>/net/snmp', failure: 'EIO', message: '<u>broken</u>' }],
      }),
      CONTEXT,
    );
    assert.ok(page.includes(escapeHtml(hostile)), 'the name, escaped');
    for (const raw of ['<script', '<img', '<b>', '<i>', '<u>', 'onerror="']) assert.ok(!page.includes(raw), raw);
  });

  it('UDP_LISTENER_NETNS=all: a namespace column, and ports of other namespaces where they listen', () => {
    const page = new StatusPage({ ...FACTS, ports: [{ port: 514, name: 'syslog' }], netns: 'all' }).render(
      snapshot({
        namespaces: [
          { namespace: { inode: 4026531840, isHost: true, pids: [1], hints: {} }, sockets: [] },
          { namespace: { inode: 4026532300, isHost: false, pids: [42], hints: { containerId: '0123456789abcdef0123', podUid: 'a-b' } }, sockets: [[514, 31, 0, 0]] },
        ],
        owners: {},
      }),
      CONTEXT,
    );
    assert.match(page, /<th>Network namespace<\/th>/);
    assert.deepEqual(rowsOf(page), [
      [514, false, ['514', 'syslog', 'no', '0', '0 B', '0', '', '4026531840 (host)']],
      [514, true, ['514', 'syslog', 'yes', '1', '0 B', '0', 'unknown', '4026532300 (container 0123456789ab, pod a-b)']],
    ]);
  });

  it('discovery mode: what was found, and how many ports the limit left out', () => {
    const page = new StatusPage({ ...FACTS, ports: [] }).render(snapshot({ sockets: [[514, 11, 0, 0], [8125, 12, 0, 0]], omittedPorts: 3 }), CONTEXT);
    assert.match(page, /<p id="summary">Discovery mode: 2 listening ports outside the ephemeral range\. 3 more left out by the discovery limit \(100\)\.<\/p>/);
    assert.deepEqual(rowsOf(page).map(([port, up, cells]) => [port, up, cells.at(-1)]), [[514, true, 'lookup off'], [8125, true, 'lookup off']]);
  });

  it('discovery mode with UDP_LISTENER_NETNS=all: a port listening in two namespaces is two rows but one port', () => {
    const page = new StatusPage({ ...FACTS, ports: [], netns: 'all' }).render(
      snapshot({
        namespaces: [
          { namespace: { inode: 4026531840, isHost: true, pids: [1], hints: {} }, sockets: [[514, 11, 0, 0]] },
          { namespace: { inode: 4026532300, isHost: false, pids: [42], hints: {} }, sockets: [[514, 31, 0, 0]] },
        ],
        owners: {},
      }),
      CONTEXT,
    );
    assert.equal(rowsOf(page).length, 2);
    assert.match(page, /<p id="summary">Discovery mode: 1 listening port outside the ephemeral range\.<\/p>/);
  });

  it('unreadable socket tables: no rows, the reason, and the errors', () => {
    const page = new StatusPage(FACTS).render(
      snapshot({ sockets: undefined, failures: [{ file: '/proc/1/net/udp', failure: 'EACCES', message: '/proc/1/net/udp: EACCES: permission denied' }] }),
      CONTEXT,
    );
    assert.deepEqual(rowsOf(page), []);
    assert.match(page, /The socket tables of the host could not be read: their ports are not shown/);
    assert.match(page, /<table id="errors">[\s\S]*<tr><td><code>\/proc\/1\/net\/udp<\/code><\/td><td>EACCES<\/td><td>\/proc\/1\/net\/udp: EACCES: permission denied<\/td><\/tr>/);
  });

  it('the Content-Security-Policy allows no script and exactly the page’s own stylesheet', () => {
    const statusPage = new StatusPage(FACTS);
    const page = statusPage.render(snapshot({ sockets: [] }), CONTEXT);
    const style = /<style>([\s\S]*?)<\/style>/.exec(page)![1]!;
    const hash = createHash('sha256').update(style).digest('base64');
    assert.equal(statusPage.contentSecurityPolicy, `default-src 'none'; style-src 'sha256-${hash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`);
    assert.doesNotMatch(page, /\sstyle=/, 'no inline style attribute, which the policy would block');
  });
});

describe('the status page served', () => {
  let service: ServiceProcess;
  before(async () => {
    service = await startService({ HOST_PROC: `${FIXTURES}procfs/real`, UDP_LISTENER_PORTS: 'syslog=514,7777' });
  });
  after(async () => {
    await service?.stop();
  });

  const collections = async (): Promise<number> => valueOf(await scrape(service.baseUrl), 'udp_listener_exporter_collections_total')!;

  it('a browser gets the live page, with a policy against scripts, never cached', async () => {
    const response = await fetch(`${service.baseUrl}/`, { headers: { accept: BROWSER_ACCEPT } });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(response.headers.get('content-security-policy')!, /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; /);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.equal(response.headers.get('vary'), 'Accept');
    const page = await response.text();
    assert.deepEqual(rowsOf(page).map(([port, up]) => [port, up]), [[514, true], [7777, false]]);
  });

  it('curl, wget and health checks (a wildcard or no Accept) keep the static landing page', async () => {
    for (const headers of [{ accept: '*/*' }, {}] as Record<string, string>[]) {
      const response = await fetch(`${service.baseUrl}/`, { headers });
      assert.equal(response.headers.get('vary'), 'Accept');
      assert.equal(response.headers.get('content-security-policy'), null);
      const page = await response.text();
      assert.match(page, /<title>UDP listener exporter<\/title>/);
      assert.doesNotMatch(page, /id="listeners"/);
    }
  });

  it('each page view is one collection, like a scrape; the landing page is none', async () => {
    const start = await collections();
    await (await fetch(`${service.baseUrl}/`, { headers: { accept: BROWSER_ACCEPT } })).text();
    assert.equal(await collections(), start + 2, 'the page view and this scrape');
    await (await fetch(`${service.baseUrl}/`, { headers: { accept: '*/*' } })).text();
    assert.equal(await collections(), start + 3, 'only this scrape');
  });

  it('HEAD of the page: the headers, no body', async () => {
    const response = await fetch(`${service.baseUrl}/`, { method: 'HEAD', headers: { accept: BROWSER_ACCEPT } });
    assert.equal(response.status, 200);
    assert.notEqual(response.headers.get('content-security-policy'), null);
    assert.equal(await response.text(), '');
  });
});

describe('a page view and a scrape at the same moment', () => {
  it('share one read of procfs: the page and the scrape name the same collection', async (t) => {
    const fuse = await StuckFuse.mountForTest(t);
    if (fuse === undefined) return;
    // The read is held in the kernel until the collection's deadline: whatever arrives before it
    // joins that collection, which is what is tested; 3 s leave room for a busy machine.
    const service = await startService({ HOST_PROC: fuse.mountpoint, UDP_LISTENER_PORTS: 'syslog=514', UDP_LISTENER_COLLECTION_TIMEOUT: '3s' });
    try {
      const before = valueOf(await scrape(service.baseUrl), 'udp_listener_exporter_collections_total')!;
      await fuse.block('1/net/udp');
      const readsBefore = await fuse.reads('1/net/udp');
      const pageView = fetch(`${service.baseUrl}/`, { headers: { accept: BROWSER_ACCEPT } }).then((response) => response.text());
      await until('the page view to start its read of the table', async () => ((await fuse.reads('1/net/udp')) === readsBefore ? undefined : true), () => service.stderr(), 20_000, 10);
      const scraped = await (await fetch(`${service.baseUrl}/metrics`)).text();
      const page = await pageView;

      const collection = valueOf(parseExposition(scraped), 'udp_listener_exporter_collections_total');
      assert.equal(collection, before + 1);
      assert.match(page, new RegExp(`\\(collection ${collection} since start-up\\)`));
      assert.equal(await fuse.reads('1/net/udp'), readsBefore + 1, 'one read of the table for both');
      // The held read ran out of time: both say so, neither shows a port as down.
      assert.match(page, /The socket tables of the host could not be read/);
      assert.match(page, /<td>timeout<\/td>/);
      assert.equal(valueOf(parseExposition(scraped), 'udp_listener_up', { network_local_port: '514', udp_listener_name: 'syslog' }), undefined);
    } finally {
      // A read being answered by the FUSE daemon holds the service until it returns.
      await fuse.release('1/net/udp');
      await service.stop();
      await fuse.unmount();
    }
  });
});
