/**
 * A socket table far larger than a test can open sockets for, written from the lines of the
 * captured udp6 file: a million and more connected client sockets (state 01, skipped by every
 * filter) with listeners on one port spread through it, first line and last line included, so
 * that they fall on every kind of chunk boundary a reader may cut.
 */
import { once } from 'node:events';
import { createWriteStream, readFileSync } from 'node:fs';
import { FIXTURES } from './paths.js';

export interface HugeTable {
  readonly lines: number;
  readonly bytes: number;
  /** What the listeners on `port` add up to. */
  readonly listeners: { readonly port: number; readonly sockets: number; readonly drops: number; readonly queueBytes: number };
}

const real = readFileSync(`${FIXTURES}procfs/real/1/net/udp6`, 'latin1').split('\n');
const HEADER = real[0]!;
/** The captured connected client (state 01) and the ipv6-only wildcard listener on 5140. */
const CLIENT = real.find((line) => / 01 0{8}:0{8} /.test(line))!;
const LISTENER = real.find((line) => /:1414 0{32}:0000 07 /.test(line))!;
const LISTENER_PORT = 0x1414;
const BATCH_LINES = 10_000;

/** The captured line with its slot, local port, queues, inode and drops replaced, widths kept. */
function variant(line: string, slot: number, localPort: number | undefined, rxQueue: number, inode: number, drops: number): string {
  const fields = line.trim().split(/\s+/);
  fields[0] = `${slot}:`;
  if (localPort !== undefined) fields[1] = `${fields[1]!.slice(0, 33)}${localPort.toString(16).toUpperCase().padStart(4, '0')}`;
  fields[4] = `00000000:${rxQueue.toString(16).toUpperCase().padStart(8, '0')}`;
  fields[9] = String(inode);
  fields[12] = String(drops);
  const [sl, ...rest] = fields;
  return `${sl!.padStart(6)} ${rest.join(' ')}`;
}

/** Writes `lines` socket lines (and the header) to `file`; a listener every `listenerEvery` lines. */
export async function writeHugeUdp6Table(file: string, lines: number, listenerEvery: number): Promise<HugeTable> {
  const out = createWriteStream(file);
  let bytes = 0;
  let batch = `${HEADER}\n`;
  let sockets = 0;
  let drops = 0;
  let queueBytes = 0;
  for (let i = 0; i < lines; i++) {
    const isListener = i % listenerEvery === 0 || i === lines - 1;
    if (isListener) {
      sockets++;
      drops += sockets;
      queueBytes += 256 * sockets;
      batch += `${variant(LISTENER, i, undefined, 256 * sockets, 1_000_000 + i, sockets)}\n`;
    } else {
      batch += `${variant(CLIENT, i, 32768 + (i % 28232), 0, 1_000_000 + i, i % 5)}\n`;
    }
    if (i % BATCH_LINES === BATCH_LINES - 1 || i === lines - 1) {
      bytes += Buffer.byteLength(batch, 'latin1');
      if (!out.write(batch, 'latin1')) await once(out, 'drain');
      batch = '';
    }
  }
  out.end();
  await once(out, 'finish');
  return { lines, bytes, listeners: { port: LISTENER_PORT, sockets, drops, queueBytes } };
}
