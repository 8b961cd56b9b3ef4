/**
 * The web configuration file reloaded while the service runs, as an operator does it: certificates
 * and users rewritten on disk, then a real `kill -HUP`, or no signal at all; checked with a real
 * HTTPS client that looks at the certificate the server presents. A bad rewrite is refused with
 * one error line and the previous configuration keeps serving.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { makeTestPki, type TestPki } from './support/certificates.js';
import { parseExposition, valueOf } from './support/exposition.js';
import { get, type RequestOptions } from './support/https.js';
import { until } from './support/prometheus.js';
import { startService, type ServiceProcess } from './support/service.js';
import { requireTool } from './support/tools.js';

/** exporter-toolkit's example hash: bcrypt cost 10 of "fakepassword". */
const HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';
const PASSWORD = 'fakepassword';
const SUCCESSFUL = 'udp_listener_exporter_config_last_reload_successful';
const TIMESTAMP = 'udp_listener_exporter_config_last_reload_success_timestamp_seconds';

function workDirectory(t: TestContext): string {
  const directory = mkdtempSync(path.join(tmpdir(), 'udp-listener-reload-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

function pkis(t: TestContext): [TestPki, TestPki] | undefined {
  const openssl = requireTool(t, 'openssl', 'openssl');
  if (openssl === undefined) return undefined;
  const pair: [TestPki, TestPki] = [makeTestPki(openssl), makeTestPki(openssl)];
  t.after(() => pair.forEach((pki) => pki.remove()));
  return pair;
}

function fingerprint(pem: Buffer): string {
  return new X509Certificate(pem).fingerprint256;
}

/** The reload gauges as a scrape by `user` sees them. */
async function reloadGauges(service: ServiceProcess, options: RequestOptions): Promise<{ successful: number | undefined; timestamp: number | undefined }> {
  const response = await get(`${service.baseUrl}/metrics`, options);
  assert.equal(response.status, 200);
  const page = parseExposition(response.body.toString());
  return { successful: valueOf(page, SUCCESSFUL), timestamp: valueOf(page, TIMESTAMP) };
}

function linesMatching(service: ServiceProcess, pattern: RegExp): string[] {
  return service.stderr().split('\n').filter((line) => pattern.test(line));
}

async function untilLogged(service: ServiceProcess, pattern: RegExp, count: number): Promise<string[]> {
  return until(`${count} log line(s) matching ${pattern}`, async () => {
    const lines = linesMatching(service, pattern);
    return lines.length >= count ? lines : undefined;
  }, () => service.stderr(), 10_000, 50);
}

describe('reloading the web configuration', { concurrency: true }, () => {
  it('kill -HUP: the next handshake presents the new certificate and the new users apply; a bad rewrite is refused with one line naming file and key, and the old one serves on', async (t) => {
    const pair = pkis(t);
    if (pair === undefined) return;
    const [a, b] = pair;
    const directory = workDirectory(t);
    const [certFile, keyFile, file] = ['server.crt', 'server.key', 'web.yml'].map((name) => path.join(directory, name)) as [string, string, string];
    const webConfig = (users: string, cert = 'server.crt'): void =>
      writeFileSync(file, `tls_server_config:\n  cert_file: ${cert}\n  key_file: server.key\nbasic_auth_users:\n${users}`);
    copyFileSync(a.server.certFile, certFile);
    copyFileSync(a.server.keyFile, keyFile);
    webConfig(`  alice: ${HASH}\n`);
    const service = await startService({ UDP_LISTENER_PORTS: '514', UDP_LISTENER_WEB_CONFIG_FILE: file });
    t.after(() => service.stop());
    assert.match(service.baseUrl, /^https:/);
    const ca = Buffer.concat([a.ca.cert, b.ca.cert]);
    const alice: RequestOptions = { ca, auth: ['alice', PASSWORD] };
    const bob: RequestOptions = { ca, auth: ['bob', PASSWORD] };

    const before = await get(`${service.baseUrl}/metrics`, alice);
    assert.equal(before.status, 200);
    assert.equal(before.peerFingerprint, fingerprint(a.server.cert));
    const started = await reloadGauges(service, alice);
    assert.equal(started.successful, 1);
    assert.ok(Math.abs(started.timestamp! - Date.now() / 1000) < 120, `start-up load at ${started.timestamp}`);

    // Rotate the certificate and replace alice with bob, then signal.
    copyFileSync(b.server.certFile, certFile);
    copyFileSync(b.server.keyFile, keyFile);
    webConfig(`  bob: ${HASH}\n`);
    process.kill(service.child.pid!, 'SIGHUP');
    const [reloaded] = await untilLogged(service, /msg="web configuration reloaded"/, 1);
    assert.match(reloaded!, / level=info .*file=\S+web\.yml trigger=SIGHUP tls=on basic_auth_users=1$/);

    const after = await get(`${service.baseUrl}/metrics`, bob);
    assert.equal(after.status, 200, 'the new user is refused');
    assert.equal(after.peerFingerprint, fingerprint(b.server.cert), 'the new handshake presented the old certificate');
    assert.equal((await get(`${service.baseUrl}/metrics`, alice)).status, 401, 'the removed user still gets in');
    const rotated = await reloadGauges(service, bob);
    assert.equal(rotated.successful, 1);
    assert.ok(rotated.timestamp! >= started.timestamp!);

    // A rewrite naming a certificate that is not there: refused, the running one serves on.
    webConfig(`  carol: ${HASH}\n`, 'missing.crt');
    process.kill(service.child.pid!, 'SIGHUP');
    const [refused] = await untilLogged(service, /msg="web configuration not reloaded; the previous one keeps serving"/, 1);
    assert.match(refused!, / level=error .*file=\S+web\.yml trigger=SIGHUP error=".*UDP_LISTENER_WEB_CONFIG_FILE: .*web\.yml.*: tls_server_config\.cert_file: cannot read .*missing\.crt.*ENOENT/);
    const kept = await get(`${service.baseUrl}/metrics`, bob);
    assert.equal(kept.status, 200);
    assert.equal(kept.peerFingerprint, fingerprint(b.server.cert));
    assert.equal((await get(`${service.baseUrl}/metrics`, { ca, auth: ['carol', PASSWORD] })).status, 401);
    const failed = await reloadGauges(service, bob);
    assert.equal(failed.successful, 0);
    assert.equal(failed.timestamp, rotated.timestamp, 'the timestamp is of the last successful load');
    // Requests go on; the refused file is not retried and logged again until it changes.
    for (let i = 0; i < 3; i++) await get(`${service.baseUrl}/metrics`, bob);
    assert.equal(linesMatching(service, /msg="web configuration not reloaded/).length, 1, service.stderr());
    assert.equal(service.child.exitCode, null);
  });

  it('a rewritten file is taken without a signal, within about a second of the next connection', async (t) => {
    const directory = workDirectory(t);
    const file = path.join(directory, 'web.yml');
    writeFileSync(file, `basic_auth_users:\n  alice: ${HASH}\n`);
    const service = await startService({ UDP_LISTENER_PORTS: '514', UDP_LISTENER_WEB_CONFIG_FILE: file });
    t.after(() => service.stop());
    assert.equal((await get(`${service.baseUrl}/metrics`, { auth: ['alice', PASSWORD] })).status, 200);

    writeFileSync(file, `basic_auth_users:\n  bob: ${HASH}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n`);
    const status = await until(
      'bob to be let in',
      async () => {
        const response = await get(`${service.baseUrl}/metrics`, { auth: ['bob', PASSWORD] });
        return response.status === 200 ? response : undefined;
      },
      () => service.stderr(),
      10_000,
      200,
    );
    assert.equal(status.headers['x-frame-options'], 'deny');
    assert.match(linesMatching(service, /msg="web configuration reloaded"/)[0]!, /trigger="changed file"/);
    assert.equal((await get(`${service.baseUrl}/metrics`, { auth: ['alice', PASSWORD] })).status, 401);
  });

  it('switching TLS on takes a restart: refused with the key named, and plain HTTP serves on', async (t) => {
    const pair = pkis(t);
    if (pair === undefined) return;
    const directory = workDirectory(t);
    const file = path.join(directory, 'web.yml');
    writeFileSync(file, `basic_auth_users:\n  alice: ${HASH}\n`);
    const service = await startService({ UDP_LISTENER_PORTS: '514', UDP_LISTENER_WEB_CONFIG_FILE: file });
    t.after(() => service.stop());
    writeFileSync(file, `tls_server_config:\n  cert_file: ${pair[0].server.certFile}\n  key_file: ${pair[0].server.keyFile}\nbasic_auth_users:\n  alice: ${HASH}\n`);
    process.kill(service.child.pid!, 'SIGHUP');
    const [refused] = await untilLogged(service, /msg="web configuration not reloaded/, 1);
    assert.match(refused!, /tls_server_config: switching TLS on takes a restart/);
    const gauges = await reloadGauges(service, { auth: ['alice', PASSWORD] });
    assert.equal(gauges.successful, 0);
  });

  it('SIGHUP without a web configuration file changes nothing and says so (it used to end the process, exit 129)', async (t) => {
    const service = await startService({ UDP_LISTENER_PORTS: '514' });
    t.after(() => service.stop());
    process.kill(service.child.pid!, 'SIGHUP');
    const [line] = await untilLogged(service, /msg="nothing to reload/, 1);
    assert.match(line!, /environment variables are read only at start-up.* trigger=SIGHUP$/);
    const page = parseExposition(await (await fetch(`${service.baseUrl}/metrics`)).text());
    assert.equal(valueOf(page, SUCCESSFUL), undefined, 'no reload gauges without a web configuration file');
    assert.equal(await service.stop(), 0);
  });
});
