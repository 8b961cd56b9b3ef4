/**
 * Closing the HTTP server without dropping a scrape: it stops accepting connections, the
 * requests in flight are answered, and each connection is closed as soon as its answer is out.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { settledBy } from '../async.js';

/**
 * Prepares `server` (call right after creating it, before it serves) and returns the function
 * that closes it: it resolves true once every connection is closed, or false when requests were
 * still running at `deadline`, whose connections are then cut.
 */
export function gracefulCloser(server: Server): (deadline: number) => Promise<boolean> {
  let closing = false;
  // Runs before the request's own handler, which may answer at once.
  server.prependListener('request', (_request: IncomingMessage, response: ServerResponse) => {
    // A request that arrives on a kept-alive connection after closing began is answered, and
    // its connection closed with the answer.
    if (closing) response.setHeader('connection', 'close');
    // Node leaves a kept-alive connection open after its answer until keepAliveTimeout (plus a
    // second), which would hold the server open that long after the last scrape.
    response.once('finish', () => {
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
  });
  return async (deadline) => {
    closing = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const finished = await settledBy(closed, deadline);
    if (!finished) server.closeAllConnections();
    return finished;
  };
}
