/**
 * The sockets the benchmark measures against: N real UDP sockets held by helper processes
 * (test/support/socket-holder.py), shaped like a busy host rather than like N listeners.
 *
 * Families: half IPv4, a quarter IPv6-only, a quarter dual-stack (IPv6 without IPV6_V6ONLY).
 * Within each family, of every ten sockets: one listens on a fixed port below the ephemeral
 * range (what the exporter is for), three are connected clients (state 01), six are
 * unconnected sockets on ephemeral ports (state 07, a resolver's or a sendto() client's:
 * discovery mode must skip them). Every fifth listener has datagrams waiting in its receive
 * queue, and every 25th has a tiny receive buffer and has dropped some.
 */
import { SocketHolder, type Listener, type NoFileLimit, type PopulationSocket } from '../support/sockets.js';

/**
 * Sockets per helper process. Each is a descriptor; 4,000 stays under the common hard
 * RLIMIT_NOFILE of 4096, and the helper raises its own soft limit to what it needs.
 */
const SOCKETS_PER_HOLDER = 4000;
/** Listeners' ports: below the ephemeral range, and clear of the tests' 20000-32000. */
export const LISTENER_PORTS: readonly [number, number] = [10000, 19999];

type Family = 'ipv4' | 'ipv6';

export interface SocketSpec extends PopulationSocket {
  /** 0: any (ephemeral) port; [low, high]: a free port in that range, i.e. a listener. */
  readonly port: 0 | readonly [number, number];
}

export interface PopulationShape {
  readonly total: number;
  readonly ipv4: number;
  readonly ipv6Only: number;
  readonly dualStack: number;
  readonly listeners: number;
  readonly connected: number;
  readonly unconnectedEphemeral: number;
  readonly withQueuedData: number;
  readonly dropping: number;
}

/** Connected sockets talk to the discard port; UDP connect() needs nobody there. */
const DISCARD = 9;

export function planPopulation(total: number): { specs: SocketSpec[]; shape: PopulationShape } {
  const ipv4 = Math.floor(total / 2);
  const ipv6Only = Math.floor(total / 4);
  // IPv6 sockets always say v6only: the holder leaves it to the kernel's default otherwise.
  const groups: { family: Family; v6only?: boolean; count: number; addresses: readonly string[]; peer: string }[] = [
    { family: 'ipv4', count: ipv4, addresses: ['0.0.0.0', '127.0.0.1'], peer: '127.0.0.1' },
    { family: 'ipv6', v6only: true, count: ipv6Only, addresses: ['::', '::1'], peer: '::1' },
    { family: 'ipv6', v6only: false, count: total - ipv4 - ipv6Only, addresses: ['::'], peer: '::ffff:127.0.0.1' },
  ];
  const specs: SocketSpec[] = [];
  let listeners = 0;
  let connected = 0;
  let withQueuedData = 0;
  let dropping = 0;
  for (const group of groups) {
    const base = { family: group.family, ...(group.v6only === undefined ? {} : { v6only: group.v6only }) };
    for (let i = 0; i < group.count; i++) {
      const address = group.addresses[i % group.addresses.length]!;
      const role = i % 10;
      if (role === 0) {
        const drops = listeners % 25 === 0;
        const queued = listeners % 5 === 0;
        listeners++;
        if (queued) withQueuedData++;
        if (drops) dropping++;
        specs.push({ ...base, address, port: LISTENER_PORTS, rcvbuf: drops ? 1024 : 0, queue: drops ? 64 : queued ? 4 : 0 });
      } else if (role <= 3) {
        connected++;
        specs.push({ ...base, address, port: 0, connect: [group.peer, DISCARD], queue: 0 });
      } else {
        specs.push({ ...base, address, port: 0, queue: 0 });
      }
    }
  }
  return {
    specs,
    shape: {
      total,
      ipv4,
      ipv6Only,
      dualStack: total - ipv4 - ipv6Only,
      listeners,
      connected,
      unconnectedEphemeral: total - listeners - connected,
      withQueuedData,
      dropping,
    },
  };
}

export class Population {
  readonly shape: PopulationShape;
  readonly listeners: readonly Listener[];
  readonly holders: readonly { pid: number; sockets: number; nofile: NoFileLimit }[];
  private readonly processes: readonly SocketHolder[];

  private constructor(
    shape: PopulationShape,
    listeners: Listener[],
    holders: { pid: number; sockets: number; nofile: NoFileLimit }[],
    processes: SocketHolder[],
  ) {
    this.shape = shape;
    this.listeners = listeners;
    this.holders = holders;
    this.processes = processes;
  }

  /**
   * Opens the whole population; rejects (after closing what was opened) if any socket fails.
   * Listeners take ports in `listenerPorts`, which must have room for a tenth of `total`.
   */
  static open(total: number, listenerPorts: readonly [number, number] = LISTENER_PORTS): Promise<Population> {
    return Population.openPlan(planPopulation(total), listenerPorts);
  }

  /** Opens a population planned otherwise (memory.ts spreads one over many addresses). */
  static async openPlan(
    { specs, shape }: { readonly specs: readonly SocketSpec[]; readonly shape: PopulationShape },
    listenerPorts: readonly [number, number] = LISTENER_PORTS,
  ): Promise<Population> {
    const shards: SocketSpec[][] = [];
    for (let i = 0; i < specs.length; i += SOCKETS_PER_HOLDER) shards.push(specs.slice(i, i + SOCKETS_PER_HOLDER));
    const [low, high] = listenerPorts;
    const span = Math.floor((high - low + 1) / Math.max(1, shards.length));
    const processes: SocketHolder[] = [];
    try {
      const replies = await Promise.all(
        shards.map((shard, index) => {
          // Disjoint port ranges, so two holders never pick the same listener port.
          const range: [number, number] = [low + index * span, low + (index + 1) * span - 1];
          const own = shard.map((spec) => (spec.port === 0 ? spec : { ...spec, port: range }));
          const holder = new SocketHolder();
          processes.push(holder);
          return holder.populate(own);
        }),
      );
      const listeners = replies.flatMap((reply) => reply.listeners);
      const holders = replies.map((reply, index) => ({ pid: processes[index]!.pid, sockets: reply.opened, nofile: reply.nofile }));
      return new Population(shape, listeners, holders, processes);
    } catch (error) {
      await Promise.all(processes.map((holder) => holder.dispose()));
      throw error;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.processes.map((holder) => holder.dispose()));
  }
}
