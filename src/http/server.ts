/**
 * The HTTP server: `/` the live status page for browsers and a static landing page for
 * everyone else, `/metrics` the Prometheus exposition, everything else 404. Only GET and HEAD
 * are served, and error responses say nothing about internals. With a web configuration file
 * it serves HTTPS, asks for basic auth and adds the configured headers, as exporter-toolkit's
 * servers do.
 */
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { constants, gzipSync } from 'node:zlib';
import type { Logger } from '../log.js';
import { EXPOSITION_CONTENT_TYPE } from '../telemetry/prometheus.js';
import { createTlsServer } from './tls.js';
import type { ActiveWebConfig } from './web-config-reloader.js';

export interface HttpServerOptions {
  readonly renderMetrics: () => Promise<string>;
  readonly landingPage: string;
  /** The live status page, for requests whose Accept names HTML (see prefersHtml). */
  readonly statusPage?: LivePage | undefined;
  readonly logger: Logger;
  /**
   * TLS, basic auth and extra headers, read at every connection and request (a reload may
   * replace them); undefined: plain HTTP for everyone.
   */
  readonly web?: { readonly current: ActiveWebConfig } | undefined;
}

/**
 * A client that has not sent its whole request header within HEADERS_TIMEOUT_MS, or its whole
 * request within REQUEST_TIMEOUT_MS, is cut off. Node checks these every
 * CONNECTIONS_CHECKING_INTERVAL_MS (30 s by default, which would let a half-sent header hold
 * its connection for 40 s).
 */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const CONNECTIONS_CHECKING_INTERVAL_MS = 1000;

export const AUTH_REALM = 'udp-listener-exporter';

export interface LivePage {
  /** One collection per call, shared with scrapes at the same moment. */
  render(): Promise<string>;
  readonly contentSecurityPolicy: string;
}

/**
 * Measured at 10,000 watched ports (a 2.15 MB page): level 1 gives 109 KB in 2 ms, level 6
 * 108 KB in 5 ms. Synchronous on purpose: libuv's four file I/O threads, which async zlib would
 * share, are exactly what a hung procfs read occupies.
 */
const GZIP_LEVEL = constants.Z_BEST_SPEED;

export function createHttpServer(options: HttpServerOptions): Server {
  const httpOptions: ServerOptions = {
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
  };
  const { web } = options;
  const headers = (): Readonly<Record<string, string>> => web?.current.config.headers ?? {};
  const gzipCache = new GzipCache();
  const listener = (request: IncomingMessage, response: ServerResponse): void => {
    for (const [name, value] of Object.entries(headers())) response.setHeader(name, value);
    const auth = web?.current.auth;
    if (auth === undefined) {
      handle(options, gzipCache, request, response);
      return;
    }
    auth.check(request.headers.authorization).then((result) => {
      if (result === 'allowed') handle(options, gzipCache, request, response);
      else if (result === 'busy') respond(request, response, 429, 'text/plain; charset=utf-8', 'Too Many Requests\n', { 'retry-after': '1' });
      else {
        respond(request, response, 401, 'text/plain; charset=utf-8', 'Unauthorized\n', {
          'www-authenticate': `Basic realm="${AUTH_REALM}", charset="UTF-8"`,
        });
      }
    }, () => respond(request, response, 500, 'text/plain; charset=utf-8', 'Internal Server Error\n'));
  };
  const server =
    web?.current.config.tls === undefined ? createServer(httpOptions, listener) : createTlsServer(() => web.current.config.tls!, httpOptions, listener);
  // Node hands CONNECT to 'connect' listeners only, and closes the connection without a word
  // when there is none.
  server.on('connect', (_request: IncomingMessage, socket: Duplex) => refuseTunnel(socket, headers()));
  return server;
}

const METHOD_NOT_ALLOWED = 'Method Not Allowed\n';
/** A connection left with a CONNECT's answer is dropped after this, whether or not it was read. */
const TUNNEL_REFUSAL_TIMEOUT_MS = 10_000;

/**
 * Answers CONNECT like any other method but GET and HEAD, on the raw connection Node hands
 * over: without the server's error handler and timeouts (an error here is the client's and only
 * ends the connection), and always a net.Socket or a TLSSocket, whatever the typings say.
 * Whatever the client still sends is read and dropped, so that closing does not reset the
 * connection before the answer is read.
 */
function refuseTunnel(duplex: Duplex, headers: Readonly<Record<string, string>>): void {
  const socket = duplex as Socket;
  socket.on('error', () => socket.destroy());
  socket.setTimeout(TUNNEL_REFUSAL_TIMEOUT_MS, () => socket.destroy());
  socket.resume();
  const head = [
    'HTTP/1.1 405 Method Not Allowed',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    'Allow: GET, HEAD',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(METHOD_NOT_ALLOWED)}`,
    'Connection: close',
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${METHOD_NOT_ALLOWED}`);
}

function handle(options: HttpServerOptions, gzipCache: GzipCache, request: IncomingMessage, response: ServerResponse): void {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    respond(request, response, 405, 'text/plain; charset=utf-8', METHOD_NOT_ALLOWED, { allow: 'GET, HEAD' });
    return;
  }
  const path = (request.url ?? '/').split('?', 1)[0];
  if (path === '/metrics') {
    options.renderMetrics().then(
      (body) => {
        if (!acceptsGzip(request.headers['accept-encoding'])) {
          respond(request, response, 200, EXPOSITION_CONTENT_TYPE, body, { vary: 'Accept-Encoding' });
          return;
        }
        respond(request, response, 200, EXPOSITION_CONTENT_TYPE, gzipCache.compress(body), { vary: 'Accept-Encoding', 'content-encoding': 'gzip' });
      },
      (error: unknown) => {
        options.logger.error('rendering /metrics failed', { error: error instanceof Error ? error.message : String(error) });
        respond(request, response, 500, 'text/plain; charset=utf-8', 'Internal Server Error\n');
      },
    );
  } else if (path === '/') {
    if (options.statusPage !== undefined && prefersHtml(request.headers.accept)) serveLivePage(options.statusPage, options.logger, request, response);
    else respond(request, response, 200, 'text/html; charset=utf-8', options.landingPage, { vary: 'Accept' });
  } else {
    respond(request, response, 404, 'text/plain; charset=utf-8', 'Not Found\n');
  }
}

function serveLivePage(page: LivePage, logger: Logger, request: IncomingMessage, response: ServerResponse): void {
  page.render().then(
    (body) =>
      respond(request, response, 200, 'text/html; charset=utf-8', body, {
        vary: 'Accept',
        'cache-control': 'no-store',
        'content-security-policy': page.contentSecurityPolicy,
      }),
    (error: unknown) => {
      logger.error('rendering the status page failed', { error: error instanceof Error ? error.message : String(error) });
      respond(request, response, 500, 'text/plain; charset=utf-8', 'Internal Server Error\n');
    },
  );
}

function respond(
  request: IncomingMessage,
  response: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  if (response.destroyed) return;
  response.writeHead(status, { ...headers, 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  response.end(request.method === 'HEAD' ? undefined : body);
}

/**
 * Whether the client asks for HTML by name: browsers send `text/html,...`; curl, wget, load
 * balancers' health checks and Prometheus send a wildcard or nothing, and keep getting the
 * static landing page, which costs no read of procfs.
 */
export function prefersHtml(header: string | undefined): boolean {
  return listsWithNonzeroQuality(header, ['text/html', 'application/xhtml+xml']);
}

/** Whether the client takes gzip: `gzip` or `*` listed without q=0 (RFC 9110, 12.5.3). */
export function acceptsGzip(header: string | undefined): boolean {
  return listsWithNonzeroQuality(header, ['gzip', 'x-gzip', '*']);
}

/** Whether an Accept-style list (`value;q=0.5, ...`) names one of `values` without q=0 (RFC 9110, 12.4.2). */
function listsWithNonzeroQuality(header: string | undefined, values: readonly string[]): boolean {
  if (header === undefined) return false;
  return header.split(',').some((part) => {
    const [value, ...parameters] = part.split(';').map((p) => p.trim().toLowerCase());
    if (!values.includes(value!)) return false;
    const q = parameters.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/**
 * The compressed copy of the last page: concurrent scrapes share one rendered page (see
 * PrometheusEndpoint.render), so they share one compression too.
 */
class GzipCache {
  private page: string | undefined;
  private compressed: Buffer | undefined;

  compress(page: string): Buffer {
    if (this.page !== page || this.compressed === undefined) {
      this.compressed = gzipSync(page, { level: GZIP_LEVEL });
      this.page = page;
    }
    return this.compressed;
  }
}
