/** Real UDP sockets of any shape, held by a helper process (socket-holder.py) for a test or the benchmark. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { SOCKET_HOLDER } from './paths.js';

export interface OpenSocket {
  readonly family: 'ipv4' | 'ipv6';
  readonly address: string;
  /** A number, 0 for any port, or [low, high] for a random free port in that range. */
  readonly port?: number | readonly [number, number];
  readonly v6only?: boolean;
  readonly reuseport?: boolean;
  readonly rcvbuf?: number;
  readonly connect?: readonly [string, number];
}

export interface HeldSocket {
  readonly id: string;
  readonly address: string;
  readonly port: number;
}

/** A socket of a population opened at once: `queue` datagrams are sent to it and never read. */
export interface PopulationSocket extends OpenSocket {
  readonly queue: number;
}

/** A socket of a population that was given a [low, high] port, with the port it got. */
export interface Listener {
  readonly family: 'ipv4' | 'ipv6';
  readonly address: string;
  readonly port: number;
}

export interface NoFileLimit {
  readonly soft_before: number;
  readonly soft: number;
  readonly hard: number;
}

export interface PopulateReply {
  readonly opened: number;
  readonly listeners: Listener[];
  /** The holder's RLIMIT_NOFILE, raised to what the population needs. */
  readonly nofile: NoFileLimit;
}

/** Ports below the kernel's ephemeral range (32768-60999 by default), so discovery reports them. */
export const NON_EPHEMERAL: readonly [number, number] = [20000, 32000];

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export interface HolderOptions {
  /** Bytes the holder process names itself (/proc/<pid>/comm), at most 15. */
  readonly comm?: Uint8Array;
  /** Runs the holder through this command, e.g. ['ip', 'netns', 'exec', 'test-ns']. */
  readonly prefix?: readonly string[];
}

export class SocketHolder {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly replies: AsyncIterator<string>;
  private nextId = 0;

  constructor(options: HolderOptions = {}) {
    const args = [SOCKET_HOLDER, ...(options.comm === undefined ? [] : ['--comm-hex', Buffer.from(options.comm).toString('hex')])];
    const [command, ...rest] = [...(options.prefix ?? []), PYTHON, ...args];
    this.child = spawn(command!, rest, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (chunk: Buffer) => process.stderr.write(`socket-holder: ${chunk.toString()}`));
    this.replies = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  /** The pid of the process holding the sockets (with a prefix: of the prefix command, which execs). */
  get pid(): number {
    return this.child.pid!;
  }

  async open(spec: OpenSocket): Promise<HeldSocket> {
    const id = `s${this.nextId++}`;
    return (await this.command({ op: 'open', id, ...spec })) as unknown as HeldSocket;
  }

  async close(socket: HeldSocket): Promise<void> {
    await this.command({ op: 'close', id: socket.id });
  }

  /** Opens every socket, then fills their queues; if one fails, none is kept. */
  async populate(sockets: readonly PopulationSocket[]): Promise<PopulateReply> {
    return (await this.command({ op: 'populate', sockets })) as unknown as PopulateReply;
  }

  /** Sends datagrams from a fresh unbound socket. */
  async send(family: 'ipv4' | 'ipv6', to: readonly [string, number], count: number, size = 512): Promise<void> {
    await this.command({ op: 'send', family, to, count, size });
  }

  async dispose(): Promise<void> {
    this.child.stdin.end();
    if (this.child.exitCode === null && this.child.signalCode === null) await new Promise((resolve) => this.child.once('exit', resolve));
  }

  private async command(command: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
    const { value, done } = await this.replies.next();
    if (done === true) throw new Error('socket holder exited');
    const reply = JSON.parse(value as string) as Record<string, unknown>;
    if (typeof reply.error === 'string') throw new Error(`socket holder: ${reply.error}`);
    return reply;
  }
}
