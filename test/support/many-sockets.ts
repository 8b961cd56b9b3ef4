/**
 * Thousands of real UDP listeners for load tests, bound by this process, three IPv4 sockets for
 * every IPv6 one; ports already taken are skipped. By default they sit in the kernel's default
 * ephemeral range, which discovery mode leaves out, so that a load test watching them in
 * configured mode does not push the listeners of discovery tests running beside it out of the
 * discovery limit.
 */
import { createSocket, type Socket } from 'node:dgram';

export interface SocketCrowd {
  readonly ports: readonly number[];
  close(): Promise<void>;
}

export async function openManySockets(count: number, firstPort = 40000, lastPort = 60999): Promise<SocketCrowd> {
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
