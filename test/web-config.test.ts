/**
 * UDP_LISTENER_WEB_CONFIG_FILE, exporter-toolkit's web configuration file: what it accepts, and
 * that each class of mistake stops start-up naming the file and the key (never a secret).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import bcrypt from 'bcryptjs';
import { ConfigError } from '../src/config/errors.js';
import { loadWebConfig } from '../src/config/web-config.js';
import { parseBasic, BasicAuth } from '../src/http/basic-auth.js';
import { subjectAltNames } from '../src/http/tls.js';
import { makeTestPki, type TestPki } from './support/certificates.js';
import { REPO_ROOT } from './support/paths.js';
import { findTool, requireTool } from './support/tools.js';

const VARIABLE = 'UDP_LISTENER_WEB_CONFIG_FILE';
/** exporter-toolkit's own example: the bcrypt hash (cost 10, htpasswd's $2y$) of "fakepassword". */
const TOOLKIT_HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';

describe('web configuration file', () => {
  let directory: string;
  let pki: TestPki | undefined;
  before(() => {
    directory = mkdtempSync(path.join(tmpdir(), 'udp-listener-web-'));
    const openssl = findTool('openssl');
    if (openssl !== undefined) pki = makeTestPki(openssl);
  });
  after(() => {
    rmSync(directory, { recursive: true, force: true });
    pki?.remove();
  });

  const write = (name: string, text: string): string => {
    const file = path.join(directory, name);
    writeFileSync(file, text);
    return file;
  };
  /** The PKI, or undefined after skipping the test (never in CI, where openssl must be installed). */
  const needPki = (t: TestContext): TestPki | undefined => {
    if (requireTool(t, 'openssl', 'openssl') === undefined) return undefined;
    assert.ok(pki !== undefined, 'openssl is installed but the test PKI was not made');
    return pki;
  };
  const tlsBlock = (): string => `tls_server_config:\n  cert_file: ${pki!.server.certFile}\n  key_file: ${pki!.server.keyFile}\n`;

  it('reads basic auth users and headers; no tls_server_config means plain HTTP', () => {
    const file = write('auth.yml', `basic_auth_users:\n  alice: ${TOOLKIT_HASH}\n  1234: ${TOOLKIT_HASH}\n  __proto__: ${TOOLKIT_HASH}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n    Content-Security-Policy: ""\n`);
    const config = loadWebConfig(VARIABLE, file);
    assert.equal(config.tls, undefined);
    assert.deepEqual([...config.basicAuthUsers.keys()], ['alice', '1234', '__proto__']);
    assert.deepEqual(config.headers, { 'X-Frame-Options': 'deny' });
  });

  it('an empty file is valid and changes nothing', () => {
    const config = loadWebConfig(VARIABLE, write('empty.yml', ''));
    assert.equal(config.tls, undefined);
    assert.equal(config.basicAuthUsers.size, 0);
  });

  it('reads TLS settings with paths relative to the file, in the toolkit\'s names', (t) => {
    const pki = needPki(t);
    if (pki === undefined) return;
    writeFileSync(path.join(directory, 'server.crt'), pki.server.cert);
    writeFileSync(path.join(directory, 'server.key'), pki.server.key);
    writeFileSync(path.join(directory, 'ca.crt'), pki.ca.cert);
    const file = write(
      'tls.yml',
      [
        'tls_server_config:',
        '  cert_file: server.crt',
        '  key_file: server.key',
        '  client_auth_type: RequireAndVerifyClientCert',
        '  client_ca_file: ca.crt',
        '  min_version: TLS13',
        '  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]',
        '  curve_preferences: [X25519, CurveP256]',
        '  prefer_server_cipher_suites: false',
        '  client_allowed_sans: [scraper.example]',
        'http_server_config:',
        '  http2: false',
        '',
      ].join('\n'),
    );
    const tls = loadWebConfig(VARIABLE, file).tls!;
    assert.equal(tls.clientAuth, 'RequireAndVerifyClientCert');
    assert.deepEqual(tls.cert, pki.server.cert);
    assert.equal(tls.minVersion, 'TLSv1.3');
    assert.equal(tls.maxVersion, 'TLSv1.3');
    assert.match(tls.ciphers!, /^ECDHE-ECDSA-AES128-GCM-SHA256:TLS_AES/);
    assert.equal(tls.ecdhCurve, 'X25519:P-256');
    assert.equal(tls.honorCipherOrder, false);
    assert.deepEqual(tls.clientAllowedSans, ['scraper.example']);
  });

  it('accepts the toolkit\'s older name RequireClientCert', (t) => {
    const pki = needPki(t);
    if (pki === undefined) return;
    const file = write('old.yml', `${tlsBlock()}  client_auth_type: RequireClientCert\n`);
    assert.equal(loadWebConfig(VARIABLE, file).tls!.clientAuth, 'RequireAnyClientCert');
  });

  // [name, file text (TLS cases get the server pair prepended), key the message must name]
  const mistakes: readonly [string, (p: TestPki) => string, string][] = [
    ['bad YAML', () => 'basic_auth_users:\n  alice: [unclosed\n', 'not valid YAML at line'],
    ['duplicate key', () => `basic_auth_users:\n  alice: ${TOOLKIT_HASH}\n  alice: ${TOOLKIT_HASH}\n`, 'line 3'],
    ['unknown top-level key', () => 'basic_auth_user:\n  alice: x\n', 'basic_auth_user'],
    ['unknown TLS key', (p) => `${tlsBlockOf(p)}  cert_fil: x\n`, 'tls_server_config.cert_fil'],
    ['unknown http_server_config key', () => 'http_server_config:\n  header: {}\n', 'http_server_config.header'],
    ['a header that cannot be set', () => 'http_server_config:\n  headers:\n    Server: nginx\n', 'http_server_config.headers.Server'],
    ['a header value the toolkit refuses', () => 'http_server_config:\n  headers:\n    X-Frame-Options: allow\n', 'http_server_config.headers.X-Frame-Options'],
    ['not a bcrypt hash', () => 'basic_auth_users:\n  alice: secret-in-clear\n', 'basic_auth_users.alice'],
    ['a truncated bcrypt hash', () => `basic_auth_users:\n  bob: ${TOOLKIT_HASH.slice(0, -1)}\n`, 'basic_auth_users.bob'],
    ['a list instead of users', () => 'basic_auth_users: [alice]\n', 'basic_auth_users'],
    ['rate_limit, which is not supported', () => 'rate_limit:\n  interval: 1s\n  burst: 5\n', 'rate_limit'],
    ['an unreadable cert_file', (p) => `tls_server_config:\n  cert_file: /nonexistent/server.crt\n  key_file: ${p.server.keyFile}\n`, 'tls_server_config.cert_file'],
    ['an unreadable key_file', (p) => `tls_server_config:\n  cert_file: ${p.server.certFile}\n  key_file: /nonexistent/server.key\n`, 'tls_server_config.key_file'],
    ['a cert_file that is not a certificate', (p) => `tls_server_config:\n  cert_file: ${p.server.keyFile}\n  key_file: ${p.server.keyFile}\n`, 'tls_server_config.cert_file'],
    ['a key that does not match the certificate', (p) => `tls_server_config:\n  cert_file: ${p.server.certFile}\n  key_file: ${p.client.keyFile}\n`, 'tls_server_config.key_file'],
    ['key_file missing', (p) => `tls_server_config:\n  cert_file: ${p.server.certFile}\n`, 'tls_server_config.key_file'],
    ['an unknown client_auth_type', (p) => `${tlsBlockOf(p)}  client_auth_type: Always\n`, 'tls_server_config.client_auth_type'],
    ['a client CA without a client auth policy', (p) => `${tlsBlockOf(p)}  client_ca_file: ${p.ca.certFile}\n`, 'tls_server_config.client_auth_type'],
    ['an unreadable client_ca_file', (p) => `${tlsBlockOf(p)}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: /nonexistent/ca.crt\n`, 'tls_server_config.client_ca_file'],
    ['an unknown TLS version', (p) => `${tlsBlockOf(p)}  min_version: TLS14\n`, 'tls_server_config.min_version'],
    ['min_version above max_version', (p) => `${tlsBlockOf(p)}  min_version: TLS13\n  max_version: TLS12\n`, 'tls_server_config.min_version'],
    ['an unknown cipher suite', (p) => `${tlsBlockOf(p)}  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n`, 'tls_server_config.cipher_suites'],
    ['an unknown curve', (p) => `${tlsBlockOf(p)}  curve_preferences: [CurveP999]\n`, 'tls_server_config.curve_preferences'],
    ['a boolean that is not one', (p) => `${tlsBlockOf(p)}  prefer_server_cipher_suites: maybe\n`, 'tls_server_config.prefer_server_cipher_suites'],
    ['TLS settings without a certificate', () => 'tls_server_config:\n  min_version: TLS13\n', 'tls_server_config.min_version'],
  ];
  for (const [name, text, key] of mistakes) {
    it(`refuses ${name}, naming the file and ${key}`, (t) => {
      // Only the TLS cases take the PKI (their text function has a parameter).
      const tls = text.length > 0 ? needPki(t) : undefined;
      if (text.length > 0 && tls === undefined) return;
      const file = write('bad.yml', text(tls!));
      assert.throws(
        () => loadWebConfig(VARIABLE, file),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError, String(error));
          assert.equal(error.variable, VARIABLE);
          assert.equal(error.token, file);
          assert.ok(error.message.startsWith(`${VARIABLE}: ${JSON.stringify(file)}: `), error.message);
          assert.ok(error.message.includes(key), error.message);
          assert.ok(!error.message.includes('\n'), error.message);
          for (const secret of ['secret-in-clear', TOOLKIT_HASH.slice(7, 30), 'PRIVATE KEY']) assert.ok(!error.message.includes(secret), error.message);
          return true;
        },
      );
    });
  }

  it("otel/README.md's example is a valid file", (t) => {
    const pki = needPki(t);
    if (pki === undefined) return;
    const readme = readFileSync(`${REPO_ROOT}otel/README.md`, 'utf8');
    const example = /\n## Security\n[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)![1]!;
    writeFileSync(path.join(directory, 'tls.crt'), pki.server.cert);
    writeFileSync(path.join(directory, 'tls.key'), pki.server.key);
    const config = loadWebConfig(VARIABLE, write('readme.yml', example.replaceAll('/etc/udp-listener-exporter/', `${directory}/`)));
    assert.equal(config.tls?.clientAuth, 'NoClientCert');
    assert.deepEqual([...config.basicAuthUsers.keys()], ['prometheus']);
    assert.deepEqual(config.headers, { 'X-Content-Type-Options': 'nosniff' });
  });

  it('refuses a file that cannot be read', () => {
    assert.throws(() => loadWebConfig(VARIABLE, '/nonexistent/web.yml'), /UDP_LISTENER_WEB_CONFIG_FILE: "\/nonexistent\/web.yml": cannot be read: ENOENT/);
  });
});

function tlsBlockOf(pki: TestPki): string {
  return `tls_server_config:\n  cert_file: ${pki.server.certFile}\n  key_file: ${pki.server.keyFile}\n`;
}

describe('basic auth checks', () => {
  it('accepts htpasswd\'s $2y$ hashes, refuses a wrong password and an unknown user', async () => {
    const auth = new BasicAuth(new Map([['alice', TOOLKIT_HASH]]));
    const header = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    assert.equal(await auth.check(header('alice', 'fakepassword')), 'allowed');
    assert.equal(await auth.check(header('alice', 'fakepassword2')), 'denied');
    assert.equal(await auth.check(header('mallory', 'fakepassword')), 'denied');
    assert.equal(await auth.check(undefined), 'denied');
    assert.equal(await auth.check('Bearer abc'), 'denied');
  });

  it('caches a success for two minutes, then checks bcrypt again; failures are never cached', async () => {
    let now = 1_000_000;
    const hash = bcrypt.hashSync('pw', 4);
    const compares: string[] = [];
    const compare = (password: string, h: string) => {
      compares.push(password);
      return bcrypt.compare(password, h);
    };
    const auth = new BasicAuth(new Map([['u', hash]]), { now: () => now, compare });
    const header = `Basic ${Buffer.from('u:pw').toString('base64')}`;
    assert.equal(await auth.check(header), 'allowed');
    assert.equal(await auth.check(header), 'allowed');
    assert.equal(compares.length, 1, 'second check served from the cache');
    now += 2 * 60_000 + 1;
    assert.equal(await auth.check(header), 'allowed');
    assert.equal(compares.length, 2, 'expired entry checked again');
    await auth.check(`Basic ${Buffer.from('u:bad').toString('base64')}`);
    await auth.check(`Basic ${Buffer.from('u:bad').toString('base64')}`);
    assert.equal(compares.length, 4, 'failures are not cached');
  });

  it('an unknown user costs exactly one bcrypt comparison, at the users\' cost, as a known one does', async () => {
    // Cost 5 rather than bcrypt's minimum of 4: a decoy hash of a fixed cost would show.
    const users = new Map([
      ['alice', bcrypt.hashSync('a-pw', 5)],
      ['bob', bcrypt.hashSync('b-pw', 5)],
      ['carol', bcrypt.hashSync('c-pw', 5)],
    ]);
    const compares: { password: string; hash: string }[] = [];
    const compare = (password: string, hash: string) => {
      compares.push({ password, hash });
      return bcrypt.compare(password, hash);
    };
    const auth = new BasicAuth(users, { compare });
    const header = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

    assert.equal(await auth.check(header('mallory', 'a-pw')), 'denied');
    assert.equal(compares.length, 1, 'an unknown user must cost one bcrypt comparison, no more, no fewer');
    assert.equal(compares[0]!.password, 'a-pw');
    assert.equal(bcrypt.getRounds(compares[0]!.hash), 5, 'the decoy hash must cost what the users\' hashes cost');
    assert.ok(![...users.values()].includes(compares[0]!.hash), 'an unknown user was compared against a real user\'s hash');

    // Failures are not cached, for an unknown user either: every attempt costs the same.
    assert.equal(await auth.check(header('mallory', 'a-pw')), 'denied');
    assert.equal(compares.length, 2);
    // A known user with a wrong password: also exactly one comparison, against that user's hash.
    assert.equal(await auth.check(header('bob', 'a-pw')), 'denied');
    assert.equal(compares.length, 3);
    assert.equal(compares[2]!.hash, users.get('bob'));
  });

  it('runs bcrypt one check at a time, and turns away uncached checks beyond 16 waiting', async () => {
    let running = 0;
    let most = 0;
    const releases: (() => void)[] = [];
    const compare = async (): Promise<boolean> => {
      running++;
      most = Math.max(most, running);
      await new Promise<void>((resolve) => releases.push(resolve));
      running--;
      return false;
    };
    const auth = new BasicAuth(new Map([['u', bcrypt.hashSync('pw', 4)]]), { compare });
    const header = `Basic ${Buffer.from('u:guess').toString('base64')}`;
    const waiting = Array.from({ length: 16 }, () => auth.check(header));
    assert.equal(await auth.check(header), 'busy');
    while (releases.length > 0 || running > 0) {
      releases.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(new Set(await Promise.all(waiting)), new Set(['denied']));
    assert.equal(most, 1, 'bcrypt comparisons ran concurrently');
  });

  it('splits user and password at the first colon, as Go does', () => {
    assert.deepEqual(parseBasic(`Basic ${Buffer.from('a:b:c').toString('base64')}`), { user: 'a', password: 'b:c' });
    assert.equal(parseBasic(`Basic ${Buffer.from('nocolon').toString('base64')}`), undefined);
  });
});

describe('subjectAltNames', () => {
  it('reads DNS, IP (canonical), e-mail and URI values, quoted ones included', () => {
    assert.deepEqual(subjectAltNames('DNS:a.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, email:x@y, URI:spiffe://t/s, DNS:"b,c"'), [
      'a.example',
      '127.0.0.1',
      '::1',
      'x@y',
      'spiffe://t/s',
      'b,c',
    ]);
  });
});
