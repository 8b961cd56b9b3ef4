/**
 * The HTTPS server for a web configuration's tls_server_config: exporter-toolkit's settings
 * mapped onto Node's TLS options, and the client-certificate policies Node has no switch for
 * (a certificate required but not verified, verified only if given, an allowed-SAN list)
 * enforced right after the handshake, before a request is read.
 */
import { isIP } from 'node:net';
import { createServer, type Server, type ServerOptions } from 'node:https';
import type { RequestListener } from 'node:http';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import type { TlsServerConfig } from '../config/web-config.js';

/** A client that connects and never finishes the handshake is dropped after this. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * `currentTls` is read at every connection: a reload replaces the certificates (see
 * applyTlsReload) and the checks after the handshake follow. Whether a client certificate is
 * asked for is the server's own setting, fixed at start.
 */
export function createTlsServer(currentTls: () => TlsServerConfig, httpOptions: ServerOptions, listener: RequestListener): Server {
  const tls = currentTls();
  const server = createServer(
    {
      ...httpOptions,
      ...secureContextOptions(tls),
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      requestCert: tls.clientAuth !== 'NoClientCert',
      // Only this policy lets OpenSSL refuse during the handshake; the others are checked below.
      rejectUnauthorized: tls.clientAuth === 'RequireAndVerifyClientCert',
    },
    listener,
  );
  // Runs before the HTTP layer takes the socket, so a refused client never gets a request in.
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    if (!acceptable(currentTls(), socket)) socket.destroy();
  });
  return server;
}

/** New handshakes use `tls`'s certificates, key, CAs and protocol settings; the listener stays. */
export function applyTlsReload(server: Server, tls: TlsServerConfig): void {
  server.setSecureContext(secureContextOptions(tls));
}

function secureContextOptions(tls: TlsServerConfig): SecureContextOptions {
  return {
    cert: tls.cert,
    key: tls.key,
    ...(tls.clientCa === undefined ? {} : { ca: tls.clientCa }),
    minVersion: tls.minVersion,
    maxVersion: tls.maxVersion,
    ...(tls.ciphers === undefined ? {} : { ciphers: tls.ciphers }),
    ...(tls.ecdhCurve === undefined ? {} : { ecdhCurve: tls.ecdhCurve }),
    honorCipherOrder: tls.honorCipherOrder,
  };
}

function acceptable(tls: TlsServerConfig, socket: TLSSocket): boolean {
  const verify = tls.clientAuth === 'VerifyClientCertIfGiven' || tls.clientAuth === 'RequireAndVerifyClientCert';
  const certificate = socket.getPeerCertificate();
  const presented = certificate !== null && Object.keys(certificate).length > 0;
  if (!presented) {
    return (tls.clientAuth === 'NoClientCert' || tls.clientAuth === 'RequestClientCert' || tls.clientAuth === 'VerifyClientCertIfGiven') && tls.clientAllowedSans === undefined;
  }
  if (verify && !socket.authorized) return false;
  if (tls.clientAllowedSans !== undefined) return subjectAltNames(certificate.subjectaltname ?? '').some((san) => tls.clientAllowedSans!.includes(san));
  return true;
}

/**
 * The values of a certificate's SANs as Go prints them for the toolkit's exact comparison:
 * DNS names, e-mail addresses, IP addresses (canonical text) and URIs.
 */
export function subjectAltNames(text: string): string[] {
  const values: string[] = [];
  for (const match of text.matchAll(/(DNS|IP Address|email|URI):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g)) {
    let value = match[2]!;
    if (value.startsWith('"')) value = JSON.parse(value) as string;
    if (match[1] === 'IP Address') value = canonicalIp(value);
    values.push(value);
  }
  return values;
}

function canonicalIp(text: string): string {
  if (isIP(text) !== 6) return text;
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}
