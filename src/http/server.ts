/**
 * The HTTP server: `/` a landing page, `/metrics` the Prometheus exposition, everything else
 * 404. Only GET and HEAD are served, and error responses say nothing about internals.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { EXPOSITION_CONTENT_TYPE } from '../telemetry/prometheus.js';

export interface HttpServerOptions {
  readonly renderMetrics: () => Promise<string>;
  readonly landingPage: string;
  readonly logger: Logger;
}

/** A client that has not sent its whole request header by then is cut off. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;

export function createHttpServer(options: HttpServerOptions): Server {
  return createServer(
    { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
    (request, response) => handle(options, request, response),
  );
}

function handle(options: HttpServerOptions, request: IncomingMessage, response: ServerResponse): void {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    respond(request, response, 405, 'text/plain; charset=utf-8', 'Method Not Allowed\n', { allow: 'GET, HEAD' });
    return;
  }
  const path = (request.url ?? '/').split('?', 1)[0];
  if (path === '/metrics') {
    options.renderMetrics().then(
      (body) => respond(request, response, 200, EXPOSITION_CONTENT_TYPE, body),
      (error: unknown) => {
        options.logger.error('rendering /metrics failed', { error: error instanceof Error ? error.message : String(error) });
        respond(request, response, 500, 'text/plain; charset=utf-8', 'Internal Server Error\n');
      },
    );
  } else if (path === '/') {
    respond(request, response, 200, 'text/html; charset=utf-8', options.landingPage);
  } else {
    respond(request, response, 404, 'text/plain; charset=utf-8', 'Not Found\n');
  }
}

function respond(
  request: IncomingMessage,
  response: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  if (response.destroyed) return;
  response.writeHead(status, { ...headers, 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  response.end(request.method === 'HEAD' ? undefined : body);
}
