/**
 * Thousands of real UDP listeners for load tests, bound by this process on ports below the
 * kernel's ephemeral range (so discovery mode reports them), three IPv4 sockets for every IPv6
 * one. Ports already taken are skipped.
 */
import { createSocket, type Socket } from 'node:dgram';

export interface SocketCrowd {
  readonly ports: readonly number[];
  close(): Promise<void>;
}

export async function openManySockets(count: number, firstPort = 20000, lastPort = 32000): Promise<SocketCrowd> {
  const sockets: Socket[] = [];
  const ports: number[] = [];
  for (let port = firstPort; port <= lastPort && ports.length < count; port++) {
    const family = ports.length % 4 === 3 ? 'udp6' : 'udp4';
    const socket = family === 'udp6' ? createSocket({ type: 'udp6', ipv6Only: true }) : createSocket('udp4');
    const bound = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(port, family === 'udp6' ? '::1' : '127.0.0.1', () => resolve(true));
    });
    if (!bound) {
      socket.close();
      continue;
    }
    socket.unref();
    sockets.push(socket);
    ports.push(port);
  }
  if (ports.length < count) {
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    throw new Error(`only ${ports.length} of ${count} ports free in ${firstPort}-${lastPort}`);
  }
  return {
    ports,
    close: () => Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => undefined),
  };
}
