/**
 * The service started with a web configuration file, met over real HTTPS connections: basic
 * auth, TLS, client certificates, configured headers, a real Prometheus scraping it, and bad
 * files stopping start-up.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { makeTestPki, type TestPki } from './support/certificates.js';
import { parseExposition, valueOf } from './support/exposition.js';
import { get } from './support/https.js';
import { REPO_ROOT } from './support/paths.js';
import { startPrometheus, until } from './support/prometheus.js';
import { runToExit, startService, type ServiceProcess } from './support/service.js';
import { findTool, requireTool } from './support/tools.js';

/** exporter-toolkit's example hash: bcrypt cost 10 (htpasswd's $2y$) of "fakepassword". */
const HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';
const USER = 'prometheus';
const PASSWORD = 'fakepassword';

const directory = mkdtempSync(path.join(tmpdir(), 'udp-listener-websec-'));
const openssl = findTool('openssl');
const pki: TestPki | undefined = openssl === undefined ? undefined : makeTestPki(openssl);
after(() => {
  rmSync(directory, { recursive: true, force: true });
  pki?.remove();
});

function webConfig(name: string, text: string): string {
  const file = path.join(directory, name);
  writeFileSync(file, text);
  return file;
}

/** The PKI, or undefined after skipping the test (never in CI, where openssl must be installed). */
function needPki(t: TestContext): TestPki | undefined {
  if (requireTool(t, 'openssl', 'openssl') === undefined) return undefined;
  return pki;
}

describe('basic auth over plain HTTP', () => {
  let service: ServiceProcess;
  before(async () => {
    const file = webConfig('auth.yml', `basic_auth_users:\n  ${USER}: ${HASH}\nhttp_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n`);
    service = await startService({ UDP_LISTENER_PORTS: '514', UDP_LISTENER_WEB_CONFIG_FILE: file });
  });
  after(async () => {
    await service?.stop();
  });

  it('serves the right password, and answers 401 with a challenge to a wrong one, an unknown user or none', async () => {
    const ok = await get(`${service.baseUrl}/metrics`, { auth: [USER, PASSWORD] });
    assert.equal(ok.status, 200);
    assert.equal(valueOf(parseExposition(ok.body.toString()), 'udp_listener_up', { network_local_port: '514' }) !== undefined, true);
    for (const auth of [[USER, 'wrong'], ['nobody', PASSWORD], [USER, ''], undefined] as const) {
      const denied = await get(`${service.baseUrl}/metrics`, auth === undefined ? {} : { auth });
      assert.equal(denied.status, 401, JSON.stringify(auth));
      assert.equal(denied.headers['www-authenticate'], 'Basic realm="udp-listener-exporter", charset="UTF-8"');
      assert.equal(denied.body.toString(), 'Unauthorized\n');
    }
  });

  it('protects every path and method, and sets the configured headers on every answer', async () => {
    assert.equal((await get(`${service.baseUrl}/`)).status, 401);
    assert.equal((await get(`${service.baseUrl}/nope`)).status, 401);
    assert.equal((await get(`${service.baseUrl}/metrics`, { method: 'POST' })).status, 401);
    assert.equal((await get(`${service.baseUrl}/metrics`, { method: 'POST', auth: [USER, PASSWORD] })).status, 405);
    assert.equal((await get(`${service.baseUrl}/`)).headers['x-content-type-options'], 'nosniff');
    assert.equal((await get(`${service.baseUrl}/`, { auth: [USER, PASSWORD] })).headers['x-content-type-options'], 'nosniff');
  });

  it('never writes a password or a hash to the log', async () => {
    await get(`${service.baseUrl}/metrics`, { auth: [USER, 'a-wrong-password'] });
    const log = service.stderr();
    for (const secret of [PASSWORD, 'a-wrong-password', HASH.slice(7)]) assert.ok(!log.includes(secret), log);
    assert.match(log, /basic_auth=on/);
  });
});

describe('TLS with basic auth', () => {
  let service: ServiceProcess | undefined;
  before(async () => {
    if (pki === undefined) return;
    const file = webConfig(
      'tls.yml',
      `tls_server_config:\n  cert_file: ${pki.server.certFile}\n  key_file: ${pki.server.keyFile}\nbasic_auth_users:\n  ${USER}: ${HASH}\n`,
    );
    service = await startService({ UDP_LISTENER_PORTS: '514', UDP_LISTENER_WEB_CONFIG_FILE: file });
  });
  after(async () => {
    await service?.stop();
  });

  it('serves HTTPS: the right password gets metrics, a wrong one or none gets 401', async (t) => {
    const p = needPki(t);
    if (p === undefined) return;
    assert.match(service!.baseUrl, /^https:\/\/127\.0\.0\.1:/);
    const ok = await get(`${service!.baseUrl}/metrics`, { ca: p.ca.cert, auth: [USER, PASSWORD] });
    assert.equal(ok.status, 200);
    assert.match(ok.body.toString(), /^udp_listener_up\{network_local_port="514"\} [01]$/m);
    assert.equal((await get(`${service!.baseUrl}/metrics`, { ca: p.ca.cert, auth: [USER, 'wrong'] })).status, 401);
    const none = await get(`${service!.baseUrl}/metrics`, { ca: p.ca.cert });
    assert.equal(none.status, 401);
    assert.match(String(none.headers['www-authenticate']), /^Basic realm=/);
  });

  it('serves the status page to a browser only over TLS with the password, like /metrics', async (t) => {
    const p = needPki(t);
    if (p === undefined) return;
    const browser = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
    const denied = await get(`${service!.baseUrl}/`, { ca: p.ca.cert, headers: browser });
    assert.equal(denied.status, 401);
    assert.doesNotMatch(denied.body.toString(), /listeners/);
    const page = await get(`${service!.baseUrl}/`, { ca: p.ca.cert, headers: browser, auth: [USER, PASSWORD] });
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-security-policy']), /^default-src 'none'/);
    assert.match(page.body.toString(), /<tr class="(up|down)" data-port="514" data-up="[01]">/);
  });

  it('gives a plain-HTTP request to the TLS port no metrics', async (t) => {
    if (needPki(t) === undefined) return;
    const plain = service!.baseUrl.replace(/^https:/, 'http:');
    const outcome = await get(`${plain}/metrics`, { auth: [USER, PASSWORD], timeoutMs: 5000 }).then(
      (response) => `status ${response.status}: ${response.body.toString().slice(0, 50)}`,
      (error: Error) => `error: ${error.message}`,
    );
    assert.doesNotMatch(outcome, /udp_listener/);
    assert.doesNotMatch(outcome, /^status 200/);
  });

  it('refuses a client that does not trust the certificate', async (t) => {
    if (needPki(t) === undefined) return;
    await assert.rejects(get(`${service!.baseUrl}/metrics`, { auth: [USER, PASSWORD] }), /self-signed|unable to verify|UNABLE_TO_GET_ISSUER/i);
  });
});

describe('TLS client certificates', () => {
  const started: ServiceProcess[] = [];
  after(async () => {
    await Promise.all(started.map((s) => s.stop()));
  });
  const start = async (p: TestPki, extra: string): Promise<ServiceProcess> => {
    const file = webConfig(
      `client-${started.length}.yml`,
      `tls_server_config:\n  cert_file: ${p.server.certFile}\n  key_file: ${p.server.keyFile}\n${extra}`,
    );
    const service = await startService({ UDP_LISTENER_PORTS: '514', UDP_LISTENER_WEB_CONFIG_FILE: file });
    started.push(service);
    return service;
  };
  const outcome = (url: string, options: Parameters<typeof get>[1]) =>
    get(url, options).then(
      (response) => response.status,
      () => 'refused',
    );

  it('RequireAndVerifyClientCert: only a certificate the CA signed gets in', async (t) => {
    const p = needPki(t);
    if (p === undefined) return;
    const service = await start(p, `  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${p.ca.certFile}\n`);
    const url = `${service.baseUrl}/metrics`;
    assert.equal(await outcome(url, { ca: p.ca.cert, cert: p.client.cert, key: p.client.key }), 200);
    assert.equal(await outcome(url, { ca: p.ca.cert }), 'refused');
    assert.equal(await outcome(url, { ca: p.ca.cert, cert: p.rogueClient.cert, key: p.rogueClient.key }), 'refused');
  });

  it('VerifyClientCertIfGiven: no certificate is fine, an unverifiable one is not', async (t) => {
    const p = needPki(t);
    if (p === undefined) return;
    const service = await start(p, `  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ${p.ca.certFile}\n`);
    const url = `${service.baseUrl}/metrics`;
    assert.equal(await outcome(url, { ca: p.ca.cert }), 200);
    assert.equal(await outcome(url, { ca: p.ca.cert, cert: p.client.cert, key: p.client.key }), 200);
    assert.equal(await outcome(url, { ca: p.ca.cert, cert: p.rogueClient.cert, key: p.rogueClient.key }), 'refused');
  });

  it('RequireAnyClientCert: any certificate, none refused; client_allowed_sans: only a listed SAN', async (t) => {
    const p = needPki(t);
    if (p === undefined) return;
    const any = await start(p, '  client_auth_type: RequireAnyClientCert\n');
    assert.equal(await outcome(`${any.baseUrl}/metrics`, { ca: p.ca.cert }), 'refused');
    assert.equal(await outcome(`${any.baseUrl}/metrics`, { ca: p.ca.cert, cert: p.rogueClient.cert, key: p.rogueClient.key }), 200);
    const sans = await start(p, `  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${p.ca.certFile}\n  client_allowed_sans: [other.example]\n`);
    assert.equal(await outcome(`${sans.baseUrl}/metrics`, { ca: p.ca.cert, cert: p.client.cert, key: p.client.key }), 'refused');
  });
});

describe('a real Prometheus scraping over TLS with basic auth', () => {
  it('marks the target up with the example job, and down with a wrong password', async (t) => {
    const p = needPki(t);
    if (p === undefined) return;
    const prometheus = requireTool(t, 'prometheus', 'prometheus');
    if (prometheus === undefined) return;
    const file = webConfig('prometheus-target.yml', `tls_server_config:\n  cert_file: ${p.server.certFile}\n  key_file: ${p.server.keyFile}\nbasic_auth_users:\n  ${USER}: ${HASH}\n`);
    const service = await startService({ UDP_LISTENER_PORTS: '514', UDP_LISTENER_WEB_CONFIG_FILE: file });
    const work = mkdtempSync(path.join(directory, 'prometheus-'));
    try {
      writeFileSync(path.join(work, 'password'), PASSWORD);
      writeFileSync(path.join(work, 'wrong-password'), 'not-it');
      const example = parseYaml(readFileSync(path.join(REPO_ROOT, 'otel/prometheus/scrape-tls-basic-auth.yml'), 'utf8')) as {
        scrape_configs: Record<string, unknown>[];
      };
      const job = example.scrape_configs[0]!;
      const target = new URL(service.baseUrl).host;
      const good: Record<string, unknown> = {
        ...job,
        tls_config: { ...(job.tls_config as object), ca_file: p.ca.certFile },
        basic_auth: { ...(job.basic_auth as object), password_file: path.join(work, 'password') },
        static_configs: [{ targets: [target] }],
      };
      const bad = { ...good, job_name: 'wrong-password', basic_auth: { username: USER, password_file: path.join(work, 'wrong-password') } };
      const server = await startPrometheus(prometheus, stringifyYaml({ global: { scrape_interval: '1s', scrape_timeout: '1s' }, scrape_configs: [good, bad] }));
      try {
        // Every target scraped at least once, whatever the outcome.
        let health: Record<string, TargetHealth> = {};
        await until(
          'both targets to have been scraped',
          async () => {
            const { activeTargets } = await server.api<{ activeTargets: { labels: { job: string }; health: string; lastError: string }[] }>('targets');
            health = Object.fromEntries(activeTargets.map((target) => [target.labels.job, { health: target.health, lastError: target.lastError }]));
            const targets = Object.values(health);
            return targets.length >= 2 && targets.every((target) => target.health !== 'unknown') ? true : undefined;
          },
          () => `${JSON.stringify(health)}\n${server.log()}`,
          30_000,
          250,
        );
        assert.equal(health[String(good.job_name)]?.health, 'up', `${JSON.stringify(health)}\n${server.log()}`);
        assert.equal(health['wrong-password']?.health, 'down');
        assert.match(health['wrong-password']!.lastError, /401/);
      } finally {
        await server.stop();
      }
    } finally {
      await service.stop();
    }
  });
});

interface TargetHealth {
  health: string;
  lastError: string;
}

describe('start-up with a bad web configuration file', () => {
  const cases: [string, () => string, string][] = [
    ['an unknown key', () => webConfig('unknown.yml', 'tls_server_configs: {}\n'), 'tls_server_configs'],
    ['bad YAML', () => webConfig('bad-yaml.yml', 'basic_auth_users: [\n'), 'not valid YAML'],
    ['a bad hash', () => webConfig('bad-hash.yml', 'basic_auth_users:\n  alice: plaintext\n'), 'basic_auth_users.alice'],
    ['an unreadable certificate', () => webConfig('bad-cert.yml', 'tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n'), 'tls_server_config.cert_file'],
    ['a missing file', () => path.join(directory, 'absent.yml'), 'cannot be read'],
  ];
  for (const [name, make, key] of cases) {
    it(`${name}: exit code 2 and one line naming the file and ${key}`, async () => {
      const file = make();
      const { code, stderr } = await runToExit({ UDP_LISTENER_WEB_CONFIG_FILE: file });
      assert.equal(code, 2, stderr);
      const lines = stderr.trim().split('\n');
      assert.equal(lines.length, 1, stderr);
      assert.ok(lines[0]!.includes(`UDP_LISTENER_WEB_CONFIG_FILE: ${JSON.stringify(file)}: `) && lines[0]!.includes(key), stderr);
      assert.ok(!stderr.includes('plaintext'), stderr);
    });
  }
});
