/**
 * Preloaded with `node --import` by test/cli.test.ts: in that process, opening a port (a TCP,
 * HTTP or TLS server's listen(), a UDP socket's bind()) throws instead, so a command line that
 * must open none fails loudly if it tries.
 */
import { Socket } from 'node:dgram';
import { Server } from 'node:net';

for (const [prototype, method] of [[Server.prototype, 'listen'], [Socket.prototype, 'bind']] as const) {
  Object.defineProperty(prototype, method, {
    value() {
      throw new Error(`opened a port: ${method}() called`);
    },
  });
}
