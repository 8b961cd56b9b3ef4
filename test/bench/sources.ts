/**
 * `npm run bench -- --sources`: the two socket sources (UDP_LISTENER_SOURCE=procfs, netlink)
 * side by side with node_exporter and with `cat /proc/net/udp /proc/net/udp6`, on the same
 * real sockets in the same run, at each size. For each it reports the wall time of a scrape
 * (median and p90 of the timed rounds) and the CPU time the serving process spent per scrape;
 * for cat, the wall time of the whole command and the CPU time of the cat process.
 *
 * A second table times the kernel's part alone, in this process: reading both procfs tables
 * whole, against a netlink dump of both families with the filter of 100 ports, of 1,000 ports
 * and of discovery. It shows what grows with what: the dumps with the sockets, barely with
 * the ports (the filter is a binary search run by the kernel), procfs more than linearly.
 *
 * Self-contained: bench.ts calls runSourcesBench() when --sources is given, nothing else.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { performance } from 'node:perf_hooks';
import { UDP_STATE_UNCONNECTED } from '../../src/procfs/net-udp.js';
import { loadLibc } from '../../src/sockdiag/libc.js';
import { portFilterBytecode, type PortRange } from '../../src/sockdiag/messages.js';
import { SockDiagSocket } from '../../src/sockdiag/sock-diag-socket.js';
import { startService } from '../support/service.js';
import { cpuTicks } from '../support/process-stats.js';
import { NODE_EXPORTER_ARGS, startNodeExporter } from './node-exporter.js';
import { Population } from './population.js';
import { configuredPorts, countLines, socketTables, type SizeContext, type SizeOptions } from './run-size.js';
import type { TableFiles } from './floor.js';
import { Scraper } from './scraper.js';
import { Samples, type Summary } from './stats.js';

/** Listener ports for the sources benchmark: 10,000 listeners at 100,000 sockets need more room than population.ts's default. */
const LISTENER_PORTS: readonly [number, number] = [1024, 31999];
/** procfs at 100,000 sockets takes seconds a read: the services get time to finish one. */
const COLLECTION_TIMEOUT = '60s';
/** The goals of issue 16, at 10,000 sockets and 100 configured ports. */
const GOALS_AT_SOCKETS = 10_000;
const NETLINK_WALL_MAX_OF_CAT = 0.5;
const NETLINK_CPU_MAX_OF_NODE_EXPORTER = 0.25;
const DISCOVERY_WALL_MAX_OF_CAT = 0.75;

export interface SourcesOptions extends Pick<SizeOptions, 'warmupRounds' | 'configuredPorts' | 'nodeExporter' | 'serviceNodeArgs'>, SizeContext {
  readonly sizes: readonly number[];
  /** Timed rounds per size; 'auto' lowers it as procfs gets slow. */
  readonly reps: number | 'auto';
}

export interface TargetFigure {
  readonly wallMs: Summary;
  readonly cpuMsPerScrape: number;
  readonly wallRatioToCat: number;
}

export interface SourcesSizeResult {
  readonly sockets: number;
  readonly tableLines: number;
  readonly configuredPorts: number;
  readonly repetitions: number;
  readonly cat: { readonly wallMs: Summary; readonly cpuMs: number };
  readonly scrapes: Readonly<Record<string, TargetFigure>>;
  /** The kernel's part alone, in the benchmark's process: wall and CPU per read or dump of both families. */
  readonly kernel: Readonly<Record<string, { readonly wallMs: Summary; readonly cpuMs: Summary; readonly sockets: number }>>;
  readonly goals: readonly { readonly goal: string; readonly measured: string; readonly pass: boolean }[];
}

function autoReps(sockets: number): number {
  return sockets <= 1000 ? 200 : sockets <= 10_000 ? 50 : 8;
}

export async function runSourcesBench(options: SourcesOptions): Promise<SourcesSizeResult[]> {
  const results: SourcesSizeResult[] = [];
  for (const sockets of options.sizes) {
    const result = await measureSize(sockets, options);
    results.push(result);
    process.stdout.write(`\n${sourcesBlock(result)}\n`);
  }
  process.stdout.write(`\n${growthTable(results)}\n`);
  return results;
}

async function measureSize(sockets: number, options: SourcesOptions): Promise<SourcesSizeResult> {
  const { log } = options;
  const reps = options.reps === 'auto' ? autoReps(sockets) : options.reps;
  log(`sources: opening ${sockets.toLocaleString('en-US')} sockets`);
  const population = await Population.open(sockets, LISTENER_PORTS);
  const stops: (() => Promise<unknown>)[] = [() => population.close()];
  try {
    const files = socketTables();
    const tableLines = countLines(readFileSync(files.udp)) + countLines(readFileSync(files.udp6)) - 2;
    const ports = configuredPorts(population.listeners, options.configuredPorts);
    const common = { UDP_LISTENER_COLLECTION_TIMEOUT: COLLECTION_TIMEOUT };
    const targets: { name: string; pid: number; scraper: Scraper }[] = [];
    for (const [name, env] of [
      ['procfs configured', { UDP_LISTENER_PORTS: ports.list }],
      ['netlink configured', { UDP_LISTENER_PORTS: ports.list, UDP_LISTENER_SOURCE: 'netlink' }],
      ['procfs discovery', {}],
      ['netlink discovery', { UDP_LISTENER_SOURCE: 'netlink' }],
    ] as const) {
      const service = await startService({ ...common, ...env }, { nodeArgs: options.serviceNodeArgs, sourceMaps: false, startupTimeoutMs: 60_000 });
      stops.push(() => service.stop());
      targets.push({ name, pid: service.child.pid!, scraper: new Scraper(`${service.baseUrl}/metrics`) });
    }
    if (options.nodeExporter !== null) {
      const nodeExporter = await startNodeExporter(options.nodeExporter);
      stops.push(() => nodeExporter.stop());
      targets.push({ name: `node_exporter (${NODE_EXPORTER_ARGS.join(' ')})`, pid: nodeExporter.pid, scraper: new Scraper(nodeExporter.metricsUrl) });
    }
    stops.push(async () => targets.forEach((t) => t.scraper.close()));
    const dumps = await kernelReaders(files, ports.numbers);
    stops.push(async () => dumps.close());

    const samples = new Samples();
    const cpuMs = new Map<string, number>();
    const addCpu = (name: string, ms: number): void => void cpuMs.set(name, (cpuMs.get(name) ?? 0) + ms);
    const steps: ((record: boolean) => Promise<void>)[] = [
      async (record) => {
        const before = childrenCpuMs(options.clockTicksPerSecond);
        const begin = performance.now();
        const cat = spawnSync('cat', [files.udp, files.udp6], { stdio: 'ignore' });
        const wall = performance.now() - begin;
        if (cat.status !== 0) throw new Error(`cat exited with ${cat.status}`);
        if (!record) return;
        samples.add('cat', wall);
        addCpu('cat', childrenCpuMs(options.clockTicksPerSecond) - before);
      },
      ...targets.map((t) => async (record: boolean) => {
        const before = cpuTicks(t.pid);
        const { ms } = await t.scraper.scrape();
        if (!record) return;
        samples.add(t.name, ms);
        addCpu(t.name, ((cpuTicks(t.pid) - before) * 1000) / options.clockTicksPerSecond);
      }),
      ...dumps.readers.map(({ name, read }) => async (record: boolean) => {
        const cpu = process.cpuUsage();
        const begin = performance.now();
        const found = await read();
        const wall = performance.now() - begin;
        const used = process.cpuUsage(cpu);
        if (!record) return;
        samples.add(`kernel ${name} wall`, wall);
        samples.add(`kernel ${name} cpu`, (used.user + used.system) / 1000);
        samples.add(`kernel ${name} sockets`, found);
      }),
    ];
    log(`sources: warm-up, ${options.warmupRounds} rounds`);
    for (let round = 0; round < options.warmupRounds; round++) for (const step of steps) await step(false);
    log(`sources: ${reps} rounds of ${steps.length} measurements`);
    for (let round = 0; round < reps; round++) {
      const offset = round % steps.length;
      for (const step of [...steps.slice(offset), ...steps.slice(0, offset)]) await step(true);
    }

    const cat = { wallMs: samples.summary('cat'), cpuMs: cpuMs.get('cat')! / reps };
    const scrapes: Record<string, TargetFigure> = {};
    for (const t of targets) {
      const wallMs = samples.summary(t.name);
      scrapes[t.name] = { wallMs, cpuMsPerScrape: cpuMs.get(t.name)! / reps, wallRatioToCat: wallMs.median / cat.wallMs.median };
    }
    const kernel: Record<string, { wallMs: Summary; cpuMs: Summary; sockets: number }> = {};
    for (const { name } of dumps.readers) {
      kernel[name] = { wallMs: samples.summary(`kernel ${name} wall`), cpuMs: samples.summary(`kernel ${name} cpu`), sockets: samples.summary(`kernel ${name} sockets`).median };
    }
    const result = { sockets, tableLines, configuredPorts: ports.numbers.length, repetitions: reps, cat, scrapes, kernel };
    return { ...result, goals: evaluate(result, targets.find((t) => t.name.startsWith('node_exporter'))?.name) };
  } finally {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => log(`cleanup failed: ${String(error)}`));
  }
}

/**
 * The kernel's part of each source, in this process: both procfs tables read whole, and
 * netlink dumps of both families with the filters the services use (100 configured ports),
 * with ten times the ports, and for discovery. Each resolves with the sockets it found.
 */
async function kernelReaders(files: TableFiles, ports: readonly number[]): Promise<{ readers: { name: string; read: () => Promise<number> }[]; close: () => void }> {
  const libc = await loadLibc();
  const socket = SockDiagSocket.open(libc, 'bench');
  const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1').trim().split(/\s+/).map(Number) as [number, number];
  const tenfold = Array.from({ length: ports.length * 10 }, (_, i) => 1024 + i * 3).filter((p) => p < low);
  const dump = (ranges: readonly PortRange[], include: (port: number, state: number) => boolean) => {
    const bytecode = portFilterBytecode(ranges, endianness());
    return async (): Promise<number> => {
      const deadline = performance.now() + 60_000;
      const v4 = await socket.dump({ family: 'ipv4', bytecode, include, file: 'bench', deadline });
      const v6 = await socket.dump({ family: 'ipv6', bytecode, include, file: 'bench', deadline });
      return v4.length + v6.length;
    };
  };
  const watched = (list: readonly number[]) => {
    const set = new Set(list);
    return dump(
      list.map((p): PortRange => [p, p]),
      (port, state) => state === UDP_STATE_UNCONNECTED && set.has(port),
    );
  };
  return {
    readers: [
      { name: 'procfs readFile udp+udp6', read: async () => (await readFile(files.udp)).length + (await readFile(files.udp6)).length },
      { name: `netlink dump, ${ports.length} ports`, read: watched(ports) },
      { name: `netlink dump, ${tenfold.length} ports`, read: watched(tenfold) },
      {
        name: 'netlink dump, discovery',
        read: dump(
          [
            [0, low - 1],
            [high + 1, 65535],
          ],
          (port, state) => state === UDP_STATE_UNCONNECTED && (port < low || port > high),
        ),
      },
    ],
    close: () => socket.close(),
  };
}

/** CPU time of this process's waited-for children (cutime + cstime of /proc/self/stat), in ms. */
function childrenCpuMs(ticksPerSecond: number): number {
  const stat = readFileSync('/proc/self/stat', 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3; cutime and cstime are fields 16 and 17.
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / ticksPerSecond;
}

function evaluate(r: Omit<SourcesSizeResult, 'goals'>, nodeExporter: string | undefined): SourcesSizeResult['goals'] {
  if (r.sockets !== GOALS_AT_SOCKETS) return [];
  const configured = r.scrapes['netlink configured']!;
  const discovery = r.scrapes['netlink discovery']!;
  const goals = [
    { goal: `netlink scrape wall <= ${NETLINK_WALL_MAX_OF_CAT}x cat`, measured: `${configured.wallRatioToCat.toFixed(2)}x`, pass: configured.wallRatioToCat <= NETLINK_WALL_MAX_OF_CAT },
    { goal: `netlink discovery wall <= ${DISCOVERY_WALL_MAX_OF_CAT}x cat`, measured: `${discovery.wallRatioToCat.toFixed(2)}x`, pass: discovery.wallRatioToCat <= DISCOVERY_WALL_MAX_OF_CAT },
  ];
  if (nodeExporter !== undefined) {
    const ratio = configured.cpuMsPerScrape / r.scrapes[nodeExporter]!.cpuMsPerScrape;
    goals.push({ goal: `netlink scrape CPU <= ${NETLINK_CPU_MAX_OF_NODE_EXPORTER}x node_exporter's`, measured: `${ratio.toFixed(2)}x`, pass: ratio <= NETLINK_CPU_MAX_OF_NODE_EXPORTER });
  }
  return goals;
}

const ms = (value: number): string => value.toFixed(value < 10 ? 2 : 1);

export function sourcesBlock(r: SourcesSizeResult): string {
  const lines = [
    `${r.sockets.toLocaleString('en-US')} sockets (${r.tableLines.toLocaleString('en-US')} table lines), ${r.configuredPorts} configured ports, ${r.repetitions} rounds`,
    '| what | wall median ms | wall p90 ms | CPU ms per scrape | wall / cat |',
    '|---|---|---|---|---|',
    `| cat udp udp6 | ${ms(r.cat.wallMs.median)} | ${ms(r.cat.wallMs.p90)} | ${ms(r.cat.cpuMs)} | 1.00 |`,
    ...Object.entries(r.scrapes).map(([name, f]) => `| ${name} | ${ms(f.wallMs.median)} | ${ms(f.wallMs.p90)} | ${ms(f.cpuMsPerScrape)} | ${f.wallRatioToCat.toFixed(2)} |`),
    '',
    '| kernel part, in-process | wall median ms | CPU median ms | sockets found |',
    '|---|---|---|---|',
    ...Object.entries(r.kernel).map(([name, k]) => `| ${name} | ${ms(k.wallMs.median)} | ${ms(k.cpuMs.median)} | ${name.startsWith('procfs') ? '(bytes)' : k.sockets} |`),
    ...r.goals.map((g) => `${g.pass ? 'PASS' : 'MISS'} ${g.goal}: ${g.measured}`),
  ];
  return lines.join('\n');
}

/** Wall medians per size, and how much each grew from one size to the next. */
function growthTable(results: readonly SourcesSizeResult[]): string {
  const names = ['cat udp udp6', ...Object.keys(results[0]?.scrapes ?? {}), ...Object.keys(results[0]?.kernel ?? {})];
  const value = (r: SourcesSizeResult, name: string): number | undefined =>
    name === 'cat udp udp6' ? r.cat.wallMs.median : (r.scrapes[name]?.wallMs.median ?? r.kernel[name]?.wallMs.median);
  const header = `| wall median ms | ${results.map((r) => r.sockets.toLocaleString('en-US')).join(' | ')} |`;
  const rows = names.map((name) => {
    const cells = results.map((r, i) => {
      const now = value(r, name);
      const before = i > 0 ? value(results[i - 1]!, name) : undefined;
      if (now === undefined) return '-';
      return before === undefined ? ms(now) : `${ms(now)} (x${(now / before).toFixed(1)})`;
    });
    return `| ${name} | ${cells.join(' | ')} |`;
  });
  return [header, `|---|${results.map(() => '---').join('|')}|`, ...rows].join('\n');
}
