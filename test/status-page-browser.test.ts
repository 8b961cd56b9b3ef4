/**
 * The status page in a real browser (Debian's Chromium, headless, started by the test): the
 * DOM after the page ran has a row per configured port with the right up state and owner;
 * hostile process names are text, and no script of theirs runs; basic auth applies.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { escapeHtml } from '../src/http/html.js';
import { StatusPage } from '../src/http/status-page.js';
import { executableNameFromComm } from '../src/procfs/pid-comm.js';
import { dumpDom, requireChromium, textOf } from './support/chromium.js';
import { startService, type ServiceProcess } from './support/service.js';
import { NON_EPHEMERAL, SocketHolder, type HeldSocket } from './support/sockets.js';
import { snapshot } from './support/snapshots.js';

/** Rows of the listener table in a dumped DOM: port -> [up, owners' text]. */
function rowsOf(dom: string): Map<number, { up: boolean; cells: string[] }> {
  const rows = new Map<number, { up: boolean; cells: string[] }>();
  const table = /<table id="listeners">([\s\S]*?)<\/table>/.exec(dom);
  if (table === null) return rows;
  for (const [, port, up, cells] of table[1]!.matchAll(/<tr class="(?:up|down)" data-port="(\d+)" data-up="([01])">([\s\S]*?)<\/tr>/g)) {
    rows.set(Number(port), { up: up === '1', cells: [...cells!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map(([, cell]) => textOf(cell!)) });
  }
  return rows;
}

/** Elements a hostile name would have made, had it been markup. */
const INJECTED = /<(script|img|b|svg|iframe)[\s>/]/i;

/** Process names of at most 15 bytes (the kernel's limit), each trying to be markup. */
const HOSTILE_NAMES: readonly Buffer[] = [Buffer.from(`<img src=x>"'`), Buffer.from('</td><b>x</b>'), Buffer.from(`<script>"\nx'`)];

describe('the status page in Chromium', () => {
  const holders: SocketHolder[] = [];
  let service: ServiceProcess;
  let plain: { holder: SocketHolder; socket: HeldSocket };
  const hostile: { holder: SocketHolder; socket: HeldSocket; name: string }[] = [];
  let nobody: number;

  before(async () => {
    const open = async (comm: Buffer): Promise<{ holder: SocketHolder; socket: HeldSocket }> => {
      const holder = new SocketHolder({ comm });
      holders.push(holder);
      return { holder, socket: await holder.open({ family: 'ipv4', address: '0.0.0.0', port: NON_EPHEMERAL }) };
    };
    plain = await open(Buffer.from('web-shipper'));
    for (const comm of HOSTILE_NAMES) hostile.push({ ...(await open(comm)), name: executableNameFromComm(comm) });
    const gone = await plain.holder.open({ family: 'ipv4', address: '0.0.0.0', port: NON_EPHEMERAL });
    await plain.holder.close(gone);
    nobody = gone.port;
    const ports = [`shipper=${plain.socket.port}`, ...hostile.map(({ socket }, index) => `hostile${index}=${socket.port}`), `missing=${nobody}`];
    service = await startService({ UDP_LISTENER_PORTS: ports.join(','), UDP_LISTENER_COLLECTION_TIMEOUT: '30s' });
  });
  after(async () => {
    await service?.stop();
    await Promise.all(holders.map((holder) => holder.dispose()));
  });

  it('shows a row per configured port with its up state and owner; hostile names are text', async (t) => {
    const chromium = requireChromium(t);
    if (chromium === undefined) return;
    const { dom } = await dumpDom(chromium, `${service.baseUrl}/`);
    const rows = rowsOf(dom);
    assert.deepEqual([...rows.keys()], [plain.socket.port, ...hostile.map(({ socket }) => socket.port), nobody].sort((a, b) => a - b), dom);

    const shipper = rows.get(plain.socket.port)!;
    assert.equal(shipper.up, true);
    assert.deepEqual(shipper.cells.slice(0, 4), [String(plain.socket.port), 'shipper', 'yes', '1']);
    assert.equal(shipper.cells[6], `web-shipper (pid ${plain.holder.pid})`);
    for (const { holder, socket, name } of hostile) {
      const row = rows.get(socket.port)!;
      assert.equal(row.up, true);
      assert.equal(row.cells[6], `${name} (pid ${holder.pid})`, 'the name exactly, as text');
    }
    const missing = rows.get(nobody)!;
    assert.equal(missing.up, false);
    assert.deepEqual(missing.cells.slice(1, 4), ['missing', 'no', '0']);

    const hostName = /<title>UDP listeners on ([^<]*)<\/title>/.exec(dom);
    assert.ok(hostName !== null, 'the title is the page’s own');
    assert.doesNotMatch(dom, INJECTED, 'an element made from a process name');
    assert.match(textOf(/<p id="summary">([\s\S]*?)<\/p>/.exec(dom)![1]!), new RegExp(`^Ports with a listener: ${hostile.length + 1} of ${hostile.length + 2} configured\\.$`));
  });
});

/**
 * Process names are 15 bytes at most, too short for a script that shows it ran. Here the renderer
 * gets a long one, and a plain server serves the page WITHOUT the Content-Security-Policy: what
 * keeps the script from running is the escaping alone. The same markup unescaped, served the
 * same way, must run it, or this test could not tell.
 */
describe('escaping alone keeps a script in a process name from running', () => {
  const PAYLOAD = `<script>document.title='pwned'</script><img src=x onerror="document.title='pwned'">`;
  let server: Server;
  let base: string;
  let escaped: string;

  before(async () => {
    const page = new StatusPage({ version: 'test', hostname: 'test-host', ports: [{ port: 514, name: 'syslog' }], discoveryLimit: 100, procRoot: '/proc', netns: 'host' });
    escaped = page.render(snapshot({ sockets: [[514, 11, 0, 0]], owners: { 11: [{ pid: 5, executableName: PAYLOAD }] } }), { collections: 1, readAt: new Date() });
    assert.ok(escaped.includes(escapeHtml(PAYLOAD)));
    const pages: Record<string, string> = { '/escaped': escaped, '/unescaped': escaped.replace(escapeHtml(PAYLOAD), PAYLOAD) };
    server = createServer((request, response) => {
      const body = pages[request.url ?? ''];
      response.writeHead(body === undefined ? 404 : 200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(body ?? '');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => server?.close());

  it('the escaped page: the title is unchanged, nothing injected, the name shown as text', async (t) => {
    const chromium = requireChromium(t);
    if (chromium === undefined) return;
    const { dom } = await dumpDom(chromium, `${base}/escaped`);
    assert.match(dom, /<title>UDP listeners on test-host<\/title>/);
    assert.doesNotMatch(dom, INJECTED);
    assert.equal(rowsOf(dom).get(514)!.cells[6], `${PAYLOAD} (pid 5)`);
  });

  it('control: the same markup unescaped does run in this browser', async (t) => {
    const chromium = requireChromium(t);
    if (chromium === undefined) return;
    const { dom } = await dumpDom(chromium, `${base}/unescaped`);
    assert.match(dom, /<title>pwned<\/title>/);
  });
});

describe('the status page behind basic auth, in Chromium', () => {
  /** exporter-toolkit's example hash: bcrypt cost 10 of "fakepassword". */
  const HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';
  const directory = mkdtempSync(path.join(tmpdir(), 'udp-listener-page-auth-'));
  let service: ServiceProcess;

  before(async () => {
    const file = path.join(directory, 'web.yml');
    writeFileSync(file, `basic_auth_users:\n  prometheus: ${HASH}\n`);
    service = await startService({ UDP_LISTENER_PORTS: 'syslog=514', UDP_LISTENER_WEB_CONFIG_FILE: file });
  });
  after(async () => {
    await service?.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  // A headless browser cannot type into the password dialog; credentials in the URL are what
  // Chromium answers the server's 401 challenge with (it asks without them first).
  it('without credentials or with a wrong password: a 401, no table; with them: the page', async (t) => {
    const chromium = requireChromium(t);
    if (chromium === undefined) return;
    const url = new URL(service.baseUrl);
    for (const credentials of ['', 'prometheus:wrong@']) {
      const { dom } = await dumpDom(chromium, `http://${credentials}${url.host}/`);
      assert.doesNotMatch(dom, /id="listeners"/, `credentials ${JSON.stringify(credentials)}`);
    }
    const { dom } = await dumpDom(chromium, `http://prometheus:fakepassword@${url.host}/`);
    assert.deepEqual([...rowsOf(dom).keys()], [514]);
  });
});
