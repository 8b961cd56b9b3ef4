/**
 * A throw-away PKI made with the openssl CLI for TLS tests: a CA, a server certificate for
 * 127.0.0.1 and localhost, a client certificate the CA signed, and a self-signed one it did not.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface KeyPair {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface TestPki {
  readonly directory: string;
  readonly ca: KeyPair;
  readonly server: KeyPair;
  /** Signed by ca, SAN DNS:scraper.example. */
  readonly client: KeyPair;
  /** Self-signed, SAN DNS:scraper.example: right name, wrong issuer. */
  readonly rogueClient: KeyPair;
  remove(): void;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export function makeTestPki(openssl: string): TestPki {
  const directory = mkdtempSync(path.join(tmpdir(), 'udp-listener-pki-'));
  const file = (name: string): string => path.join(directory, name);
  const run = (args: string[]): void => {
    execFileSync(openssl, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const pair = (name: string): KeyPair => ({
    certFile: file(`${name}.crt`),
    keyFile: file(`${name}.key`),
    cert: readFileSync(file(`${name}.crt`)),
    key: readFileSync(file(`${name}.key`)),
  });
  const selfSigned = (name: string, subject: string, extensions: string[]): void => {
    run(['req', '-x509', ...EC_KEY, '-keyout', file(`${name}.key`), '-out', file(`${name}.crt`), '-days', '2', '-subj', subject, ...extensions.flatMap((e) => ['-addext', e])]);
  };
  const signed = (name: string, subject: string, extensions: string[]): void => {
    run(['req', '-new', ...EC_KEY, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', subject]);
    writeFileSync(file(`${name}.ext`), `${extensions.join('\n')}\n`);
    run(['x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file(`${name}.crt`), '-days', '2', '-extfile', file(`${name}.ext`)]);
  };

  selfSigned('ca', '/CN=udp-listener-exporter test CA', ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign']);
  signed('server', '/CN=localhost', ['subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1', 'extendedKeyUsage=serverAuth', 'keyUsage=critical,digitalSignature']);
  signed('client', '/CN=scraper', ['subjectAltName=DNS:scraper.example', 'extendedKeyUsage=clientAuth', 'keyUsage=critical,digitalSignature']);
  selfSigned('rogue', '/CN=scraper', ['subjectAltName=DNS:scraper.example', 'extendedKeyUsage=clientAuth']);
  return {
    directory,
    ca: pair('ca'),
    server: pair('server'),
    client: pair('client'),
    rogueClient: pair('rogue'),
    remove: () => rmSync(directory, { recursive: true, force: true }),
  };
}
