/**
 * Socket churn for the load test, as a busy host has it (DNS lookups, say): opens short-lived
 * UDP sockets on 127.0.0.1 at RATE per second, each living for the next 50 opens, and never
 * sends anything. Run as a child process: node churn.js RATE SECONDS.
 */
import { createSocket, type Socket } from 'node:dgram';

const rate = Number(process.argv[2]);
const seconds = Number(process.argv[3]);
const LIVE = 50;

const live: Socket[] = [];
const started = performance.now();
let opened = 0;
const timer = setInterval(() => {
  const elapsed = (performance.now() - started) / 1000;
  if (elapsed > seconds) {
    clearInterval(timer);
    for (const socket of live) socket.close();
    return;
  }
  while (opened < elapsed * rate) {
    const socket = createSocket('udp4');
    socket.on('error', () => undefined);
    socket.bind(0, '127.0.0.1');
    live.push(socket);
    opened++;
    if (live.length > LIVE) live.shift()!.close();
  }
}, 5);
