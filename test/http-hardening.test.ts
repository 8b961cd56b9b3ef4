/**
 * The HTTP endpoint against clients that misbehave: hundreds of connections that send half a
 * request header and stall, unknown paths and methods, malformed requests; and gzip for
 * Prometheus, which always sends Accept-Encoding: gzip.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { acceptsGzip } from '../src/http/server.js';
import { parseExposition } from './support/exposition.js';
import { get } from './support/https.js';
import { startService, type ServiceProcess } from './support/service.js';

const STALLED_CLIENTS = 300;

/** Sends raw bytes and resolves with everything the server sends back before it closes. */
function rawExchange(host: string, port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => socket.end(request));
    let reply = '';
    socket.on('data', (chunk: Buffer) => (reply += chunk.toString('latin1')));
    socket.on('close', () => resolve(reply));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
  });
}

describe('HTTP hardening', () => {
  let service: ServiceProcess;
  let host: string;
  let port: number;
  before(async () => {
    service = await startService({ UDP_LISTENER_PORTS: '514' });
    ({ hostname: host } = new URL(service.baseUrl));
    port = Number(new URL(service.baseUrl).port);
  });
  after(async () => {
    await service?.stop();
  });

  it(`${STALLED_CLIENTS} clients stalled in the middle of a request header delay no scrape, and are dropped within 30 s`, async (t) => {
    const sent = performance.now();
    const closedAfter: number[] = [];
    const sockets: Socket[] = [];
    await Promise.all(
      Array.from(
        { length: STALLED_CLIENTS },
        () =>
          new Promise<void>((resolve, reject) => {
            const socket = connect(port, host, () => {
              socket.write('GET /metrics HTTP/1.1\r\nHost: exporter\r\nX-Half: ');
              resolve();
            });
            socket.on('error', () => undefined);
            // Read (and drop) what the server sends, or the socket never sees the server's FIN.
            socket.resume();
            socket.on('close', () => closedAfter.push(performance.now() - sent));
            socket.once('error', reject);
            sockets.push(socket);
          }),
      ),
    );
    try {
      const scrape = await fetch(`${service.baseUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(scrape.status, 200);
      assert.ok(parseExposition(await scrape.text()).samples.length > 0);

      const deadline = performance.now() + 30_000;
      while (closedAfter.length < STALLED_CLIENTS && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
      assert.equal(closedAfter.length, STALLED_CLIENTS, `${STALLED_CLIENTS - closedAfter.length} stalled connections still open after 30 s`);
      t.diagnostic(`stalled connections dropped after ${(Math.min(...closedAfter) / 1000).toFixed(1)}-${(Math.max(...closedAfter) / 1000).toFixed(1)} s`);
      assert.ok(Math.max(...closedAfter) < 30_000);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });

  it('answers unknown paths and methods with a fixed text and no internals', async () => {
    for (const [method, path, status, body] of [
      ['GET', '/nope', 404, 'Not Found\n'],
      ['GET', '/metrics/../../etc/passwd', 404, 'Not Found\n'],
      ['GET', '/metrics.json', 404, 'Not Found\n'],
      ['POST', '/metrics', 405, 'Method Not Allowed\n'],
      ['DELETE', '/', 405, 'Method Not Allowed\n'],
      ['OPTIONS', '/metrics', 405, 'Method Not Allowed\n'],
      ['TRACE', '/', 405, 'Method Not Allowed\n'],
    ] as const) {
      const response = await get(`${service.baseUrl}${path}`, { method });
      assert.equal(response.status, status, `${method} ${path}`);
      assert.equal(response.body.toString(), body, `${method} ${path}`);
      assert.equal(response.headers['content-type'], 'text/plain; charset=utf-8');
      for (const header of ['server', 'x-powered-by']) assert.equal(response.headers[header], undefined, header);
    }
  });

  it('answers CONNECT with 405 and Allow: GET, HEAD, then closes, like any method but GET and HEAD', async () => {
    const reply = await rawExchange(host, port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    const [head, body] = reply.split('\r\n\r\n');
    const lines = head!.split('\r\n');
    assert.equal(lines[0], 'HTTP/1.1 405 Method Not Allowed');
    assert.ok(lines.includes('Allow: GET, HEAD'), head);
    assert.ok(lines.includes('Content-Type: text/plain; charset=utf-8'), head);
    assert.equal(body, 'Method Not Allowed\n');
    // The service is still there for the next client.
    assert.equal((await get(`${service.baseUrl}/metrics`)).status, 200);
  });

  it('answers a malformed request or an oversized header with a bare 400 or 431', async () => {
    const garbage = await rawExchange(host, port, 'NOT HTTP AT ALL\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.doesNotMatch(garbage, /node|Error|at .*\.js|udp-listener/i);
    const huge = await rawExchange(host, port, `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(huge, /^HTTP\/1\.1 431 /);
    assert.doesNotMatch(huge, /node|Error|at .*\.js/i);
  });

  it('compresses /metrics with gzip when asked, saying Vary: Accept-Encoding either way', async () => {
    const plain = await get(`${service.baseUrl}/metrics`);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers.vary, 'Accept-Encoding');
    const zipped = await get(`${service.baseUrl}/metrics`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.equal(zipped.headers.vary, 'Accept-Encoding');
    assert.equal(Number(zipped.headers['content-length']), zipped.body.length);
    const unzipped = parseExposition(gunzipSync(zipped.body).toString());
    assert.deepEqual(
      unzipped.samples.map((s) => [s.name, s.labels]),
      parseExposition(plain.body.toString()).samples.map((s) => [s.name, s.labels]),
    );
    const refused = await get(`${service.baseUrl}/metrics`, { headers: { 'accept-encoding': 'gzip;q=0, identity' } });
    assert.equal(refused.headers['content-encoding'], undefined);
    const head = await get(`${service.baseUrl}/metrics`, { method: 'HEAD', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(head.headers['content-encoding'], 'gzip');
    assert.equal(head.body.length, 0);
  });
});

describe('acceptsGzip', () => {
  const cases: [string | undefined, boolean][] = [
    [undefined, false],
    ['', false],
    ['gzip', true],
    ['deflate, gzip;q=1.0, *;q=0.5', true],
    ['br, GZIP', true],
    ['gzip;q=0', false],
    ['identity', false],
    ['*', true],
    ['x-gzip', true],
    ['gzipped', false],
  ];
  for (const [header, expected] of cases) it(`${JSON.stringify(header)} -> ${expected}`, () => assert.equal(acceptsGzip(header), expected));
});
