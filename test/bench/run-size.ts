/**
 * One size of the benchmark: N real sockets, the raw floor, the service's scrapes over HTTP,
 * concurrent scrapes, idle CPU and memory, the in-process breakdown and the parser
 * micro-benchmark, all against the same sockets in the same run.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseIpLocalPortRange } from '../../src/procfs/ip-local-port-range.js';
import { UDP_STATE_UNCONNECTED } from '../../src/procfs/net-udp.js';
import { startService, type ServiceProcess } from '../support/service.js';
import { readFileSequential, serviceReader, type TableFiles } from './floor.js';
import { startNodeExporter, type NodeExporter } from './node-exporter.js';
import { benchParsers, type ParserFigures } from './parser-bench.js';
import { InProcessPipeline } from './pipeline.js';
import { Population, type PopulationShape } from './population.js';
import { cpuTicks, machineTicks, memoryOf, type Memory } from '../support/process-stats.js';
import type { Listener, NoFileLimit } from '../support/sockets.js';
import { collectionsTotal, Scraper } from './scraper.js';
import { Samples, summarize, type Summary } from './stats.js';

/** The settings of one size, as the command line gives them (test/bench/bench.ts adds the sizes and the output file). */
export interface SizeOptions {
  /** Timed rounds; 'auto': as many as suit the size (autoReps). */
  readonly reps: number | 'auto';
  readonly warmupRounds: number;
  readonly configuredPorts: number;
  readonly concurrency: number;
  readonly bursts: number;
  readonly idleMs: number;
  readonly idleIntervalMs: number;
  /** Quiet time before the idle window, so that start-up and warm-up work (and the GCs that follow it) are over. */
  readonly idleSettleMs: number;
  readonly rssScrapes: number;
  /** Parser micro-benchmark rounds; null: as many as the timed rounds. */
  readonly parserReps: number | null;
  /** node_exporter binary, or null to leave it out. */
  readonly nodeExporter: string | null;
  /** Flags on node's command line for the service processes. */
  readonly serviceNodeArgs: readonly string[];
}

/** What a size takes from the run around it rather than from the command line. */
export interface SizeContext {
  readonly clockTicksPerSecond: number;
  readonly log: (line: string) => void;
}

export interface ScrapeFigure {
  readonly wallMs: Summary;
  readonly ratioToFloor: number;
  readonly ratioToServiceRead: number;
  /** CPU time of the serving process per scrape, from /proc/<pid>/stat over the timed rounds. */
  readonly cpuMsPerScrape: number;
  readonly cpuRatioToFloor: number;
  readonly pageBytes: number;
  /** The page as sent: gzipped when the server compresses (Prometheus asks it to). */
  readonly wireBytes: number;
}

export interface BreakdownFigure {
  readonly readMs: number;
  readonly parseAndAggregateMs: number;
  readonly sdkCollectMs: number;
  readonly serializeMs: number;
  readonly renderMs: number;
  /** GET / of the same service process: HTTP and the process boundary, without a collection. */
  readonly httpRoundTripMs: number;
  /** The measured scrape minus the sum of the parts above (noise makes it either sign). */
  readonly unaccountedMs: number;
}

export interface BurstFigure {
  /** procfs reads each burst caused (delta of udp_listener_exporter_collections_total). */
  readonly procfsReads: number[];
  readonly maxProcfsReads: number;
  /** From sending the first request to the last byte of the last answer. */
  readonly wallMs: Summary;
  readonly ratioToFloor: number;
}

export interface IdleFigure {
  readonly cpuTicks: number;
  readonly percentOfCore: number;
}

export interface MemoryFigure extends Memory {
  readonly scrapes: number;
  /** VmRSS once started, before the first scrape. */
  readonly atStartMiB: number;
}

export interface SizeResult {
  readonly sockets: number;
  readonly population: PopulationShape;
  readonly holders: readonly { pid: number; sockets: number; nofile: NoFileLimit }[];
  readonly tables: { readonly files: TableFiles; readonly lines: { udp: number; udp6: number }; readonly bytes: { udp: number; udp6: number } };
  readonly configuredPorts: { readonly count: number; readonly listening: number };
  readonly repetitions: number;
  readonly floor: {
    readonly readFileSequential: { readonly wallMs: Summary; readonly cpuMs: Summary };
    readonly serviceReadPath: { readonly wallMs: Summary; readonly cpuMs: Summary; readonly ratioToFloor: number };
  };
  readonly scrapes: { readonly configured: ScrapeFigure; readonly discovery: ScrapeFigure; readonly nodeExporter: ScrapeFigure | null };
  readonly breakdown: { readonly configured: BreakdownFigure; readonly discovery: BreakdownFigure };
  readonly concurrency: { readonly scrapes: number; readonly bursts: number; readonly configured: BurstFigure; readonly discovery: BurstFigure };
  readonly idle: {
    readonly windowS: number;
    readonly intervalS: number;
    readonly scrapesInWindow: number;
    readonly clockTicksPerSecond: number;
    readonly configured: IdleFigure;
    readonly discovery: IdleFigure;
    readonly nodeExporter: IdleFigure | null;
    /** CPU per read of the cheapest floor measured, at the same scrape rate. */
    readonly floorImpliedPercentOfCore: number;
    readonly floorCpuMsPerRead: number;
  };
  readonly memory: { readonly configured: MemoryFigure; readonly discovery: MemoryFigure; readonly nodeExporter: MemoryFigure | null };
  readonly parser: { readonly reps: number; readonly figures: ParserFigures };
  readonly nodeExporterVersion: string | null;
  readonly noise: {
    readonly loadAverageStart: number[];
    readonly loadAverageEnd: number[];
    readonly floorP90OverMedian: number;
    /** Sockets in the tables that the benchmark did not open (other users of the namespace). */
    readonly foreignSocketsAtStart: number;
    readonly foreignSocketsAtEnd: number;
    /** CPU used by processes other than the benchmark's own, in % of all CPUs, over this size. */
    readonly foreignCpuPercentOfMachine: number;
  };
  readonly durationS: number;
}

interface Target {
  readonly name: 'configured' | 'discovery' | 'nodeExporter';
  readonly pid: number;
  readonly scraper: Scraper;
}

/** Timed rounds per size when --reps is auto: a round at 10,000 sockets costs many times one at 1,000. */
function autoReps(sockets: number): number {
  return sockets < 5000 ? 200 : 50;
}

export async function runSize(sockets: number, options: SizeOptions, context: SizeContext): Promise<SizeResult> {
  const started = performance.now();
  const loadAverageStart = loadavg();
  const machineAtStart = machineTicks();
  const benchCpuAtStart = process.cpuUsage();
  const { clockTicksPerSecond, log } = context;
  const reps = options.reps === 'auto' ? autoReps(sockets) : options.reps;
  const parserReps = options.parserReps ?? reps;
  log(`opening ${sockets.toLocaleString('en-US')} sockets`);
  const population = await Population.open(sockets);
  const stops: (() => Promise<unknown>)[] = [() => population.close()];
  try {
    const files = socketTables();
    const tables = { udp: readFileSync(files.udp), udp6: readFileSync(files.udp6) };
    const lines = { udp: countLines(tables.udp) - 1, udp6: countLines(tables.udp6) - 1 };
    if (lines.udp + lines.udp6 < sockets) {
      throw new Error(`${files.udp} and udp6 list ${lines.udp + lines.udp6} sockets, fewer than the ${sockets} opened: another network namespace?`);
    }
    const ports = configuredPorts(population.listeners, options.configuredPorts);

    log('starting the service (configured and discovery)' + (options.nodeExporter === null ? '' : ' and node_exporter'));
    const configured = await startService({ UDP_LISTENER_PORTS: ports.list }, { nodeArgs: options.serviceNodeArgs, sourceMaps: false });
    stops.push(() => configured.stop());
    const discovery = await startService({}, { nodeArgs: options.serviceNodeArgs, sourceMaps: false });
    stops.push(() => discovery.stop());
    let nodeExporter: NodeExporter | undefined;
    if (options.nodeExporter !== null) {
      nodeExporter = await startNodeExporter(options.nodeExporter);
      stops.push(() => nodeExporter!.stop());
    }
    const targets: Target[] = [target('configured', configured), target('discovery', discovery)];
    if (nodeExporter !== undefined) targets.push({ name: 'nodeExporter', pid: nodeExporter.pid, scraper: new Scraper(nodeExporter.metricsUrl) });
    stops.push(async () => targets.forEach((t) => t.scraper.close()));
    const rssAtStart = new Map(targets.map((t) => [t.name, memoryOf(t.pid).vmRssMiB]));
    const pipelines = { configured: await InProcessPipeline.create(ports.list), discovery: await InProcessPipeline.create('') };
    stops.push(() => Promise.all([pipelines.configured.shutdown(), pipelines.discovery.shutdown()]));

    // Timed rounds: every measurement once per round, in an order that rotates, so drifting
    // background load falls on all of them alike.
    const samples = new Samples();
    const pageBytes = new Map<string, { page: number; wire: number }>();
    const readService = serviceReader('/proc');
    const floorStep = (name: string, read: (files: TableFiles) => Promise<number>) => async (record: boolean) => {
      const cpu = process.cpuUsage();
      const begin = performance.now();
      await read(files);
      const wall = performance.now() - begin;
      const used = process.cpuUsage(cpu);
      if (record) {
        samples.add(`${name} wall`, wall);
        samples.add(`${name} cpu`, (used.user + used.system) / 1000);
      }
    };
    const steps: ((record: boolean) => Promise<void>)[] = [
      floorStep('floor', readFileSequential),
      floorStep('service read', readService),
      ...targets.map((t) => async (record: boolean) => {
        const { ms, body, wireBytes } = await t.scraper.scrape();
        if (record) samples.add(`http ${t.name}`, ms);
        pageBytes.set(t.name, { page: Buffer.byteLength(body), wire: wireBytes });
      }),
      ...(['configured', 'discovery'] as const).map((mode) => async (record: boolean) => {
        const phases = await pipelines[mode].render();
        if (!record) return;
        for (const [phase, value] of Object.entries(phases)) samples.add(`${mode} ${phase}`, value);
      }),
    ];
    log(`warm-up: ${options.warmupRounds} rounds`);
    for (let round = 0; round < options.warmupRounds; round++) for (const step of steps) await step(false);

    log(`idle: ${options.idleSettleMs / 1000} s to settle, then ${options.idleMs / 1000} s with a scrape every ${options.idleIntervalMs / 1000} s`);
    const idle = await idleCpu(targets, options, clockTicksPerSecond);

    log(`timing: ${reps} rounds of ${steps.length} measurements`);
    const ticksBefore = targets.map((t) => cpuTicks(t.pid));
    for (let round = 0; round < reps; round++) {
      const offset = round % steps.length;
      for (const step of [...steps.slice(offset), ...steps.slice(0, offset)]) await step(true);
    }
    const cpuMsPerScrape = new Map(targets.map((t, i) => [t.name, ((cpuTicks(t.pid) - ticksBefore[i]!) * 1000) / clockTicksPerSecond / reps]));

    const floorWall = samples.summary('floor wall');
    const floorCpu = samples.summary('floor cpu');
    const serviceRead = samples.summary('service read wall');
    const scrapeFigure = (name: Target['name']): ScrapeFigure => {
      const wallMs = samples.summary(`http ${name}`);
      const cpu = cpuMsPerScrape.get(name)!;
      return {
        wallMs,
        ratioToFloor: wallMs.median / floorWall.median,
        ratioToServiceRead: wallMs.median / serviceRead.median,
        cpuMsPerScrape: cpu,
        cpuRatioToFloor: cpu / floorCpu.median,
        pageBytes: pageBytes.get(name)!.page,
        wireBytes: pageBytes.get(name)!.wire,
      };
    };
    log('HTTP round trips: GET / of each service');
    for (const t of targets.slice(0, 2)) {
      const landing = new Scraper(t.scraper.url.href.replace(/metrics$/, ''));
      for (let i = 0; i < options.warmupRounds + reps; i++) {
        const { ms } = await landing.scrape();
        if (i >= options.warmupRounds) samples.add(`landing ${t.name}`, ms);
      }
      landing.close();
    }
    const breakdown = (mode: 'configured' | 'discovery'): BreakdownFigure => {
      const parts = {
        readMs: samples.summary(`${mode} readMs`).median,
        parseAndAggregateMs: samples.summary(`${mode} parseAndAggregateMs`).median,
        sdkCollectMs: samples.summary(`${mode} sdkCollectMs`).median,
        serializeMs: samples.summary(`${mode} serializeMs`).median,
        httpRoundTripMs: samples.summary(`landing ${mode}`).median,
      };
      const sum = parts.readMs + parts.parseAndAggregateMs + parts.sdkCollectMs + parts.serializeMs + parts.httpRoundTripMs;
      return { ...parts, renderMs: samples.summary(`${mode} renderMs`).median, unaccountedMs: samples.summary(`http ${mode}`).median - sum };
    };

    log(`concurrency: ${options.bursts} bursts of ${options.concurrency} simultaneous scrapes per mode`);
    const concurrency = {
      scrapes: options.concurrency,
      bursts: options.bursts,
      configured: await bursts(targets[0]!.scraper, options, floorWall.median),
      discovery: await bursts(targets[1]!.scraper, options, floorWall.median),
    };

    const floorCpuMsPerRead = Math.min(floorCpu.median, samples.summary('service read cpu').median);
    const floorImpliedPercentOfCore = ((floorCpuMsPerRead * idle.scrapesInWindow) / (idle.windowS * 1000)) * 100;

    log(`memory: scraping each service until it has served ${options.rssScrapes} scrapes`);
    await Promise.all(
      targets
        .filter((t) => t.name !== 'nodeExporter')
        .map(async (t) => {
          while (t.scraper.count < options.rssScrapes) await t.scraper.scrape();
        }),
    );
    const memory = (t: Target | undefined): MemoryFigure | null =>
      t === undefined ? null : { scrapes: t.scraper.count, ...memoryOf(t.pid), atStartMiB: rssAtStart.get(t.name)! };

    const foreignSocketsAtEnd = countLines(readFileSync(files.udp)) + countLines(readFileSync(files.udp6)) - 2 - sockets;
    const ownTicks =
      [...targets.map((t) => t.pid), ...population.holders.map((h) => h.pid)].reduce((sum, pid) => sum + cpuTicks(pid), 0) +
      ((benchCpuUsed(benchCpuAtStart) / 1000) * clockTicksPerSecond);
    const machine = machineTicks();
    const foreignCpuPercentOfMachine = Math.max(0, ((machine.busy - machineAtStart.busy - ownTicks) / (machine.total - machineAtStart.total)) * 100);

    log('parser micro-benchmark');
    const ephemeral = parseIpLocalPortRange(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1'), 'ip_local_port_range');
    const watched = new Uint8Array(65536);
    for (const port of ports.numbers) watched[port] = 1;
    const parser = {
      reps: parserReps,
      figures: benchParsers(
        { udp: readFileSync(files.udp), udp6: readFileSync(files.udp6) },
        {
          all: undefined,
          configured: (port, state) => state === UDP_STATE_UNCONNECTED && watched[port] === 1,
          discovery: (port, state) => state === UDP_STATE_UNCONNECTED && (port < ephemeral.low || port > ephemeral.high),
        },
        parserReps,
      ),
    };

    return {
      sockets,
      population: population.shape,
      holders: population.holders,
      tables: { files, lines, bytes: { udp: tables.udp.length, udp6: tables.udp6.length } },
      configuredPorts: { count: ports.numbers.length, listening: ports.listening },
      repetitions: reps,
      floor: {
        readFileSequential: { wallMs: floorWall, cpuMs: floorCpu },
        serviceReadPath: { wallMs: serviceRead, cpuMs: samples.summary('service read cpu'), ratioToFloor: serviceRead.median / floorWall.median },
      },
      scrapes: {
        configured: scrapeFigure('configured'),
        discovery: scrapeFigure('discovery'),
        nodeExporter: nodeExporter === undefined ? null : scrapeFigure('nodeExporter'),
      },
      breakdown: { configured: breakdown('configured'), discovery: breakdown('discovery') },
      concurrency,
      idle: { ...idle, floorImpliedPercentOfCore, floorCpuMsPerRead },
      memory: {
        configured: memory(targets[0])!,
        discovery: memory(targets[1])!,
        nodeExporter: memory(targets.find((t) => t.name === 'nodeExporter')),
      },
      parser,
      nodeExporterVersion: nodeExporter?.version ?? null,
      noise: {
        loadAverageStart,
        loadAverageEnd: loadavg(),
        floorP90OverMedian: floorWall.p90 / floorWall.median,
        foreignSocketsAtStart: lines.udp + lines.udp6 - sockets,
        foreignSocketsAtEnd,
        foreignCpuPercentOfMachine,
      },
      durationS: (performance.now() - started) / 1000,
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => log(`cleanup failed: ${String(error)}`));
  }
}

function target(name: 'configured' | 'discovery', service: ServiceProcess): Target {
  return { name, pid: service.child.pid!, scraper: new Scraper(`${service.baseUrl}/metrics`) };
}

/** The tables the service reads: those of PID 1's network namespace, else its own (as src/service.ts decides). */
export function socketTables(): TableFiles {
  for (const directory of ['/proc/1/net', '/proc/self/net']) {
    try {
      accessSync(`${directory}/udp`, constants.R_OK);
      return { udp: `${directory}/udp`, udp6: `${directory}/udp6` };
    } catch {
      // hidden by hidepid: the service falls back the same way
    }
  }
  throw new Error('cannot read /proc/1/net/udp or /proc/self/net/udp');
}

/** Milliseconds of CPU this process has used since `since`. */
function benchCpuUsed(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

export function countLines(bytes: Buffer): number {
  let lines = 0;
  for (let at = bytes.indexOf(0x0a); at >= 0; at = bytes.indexOf(0x0a, at + 1)) lines++;
  return lines;
}

/**
 * UDP_LISTENER_PORTS for the configured service: up to half of `count` are ports the
 * population listens on, the rest ports nobody listens on (they read 0).
 */
export function configuredPorts(listeners: readonly Listener[], count: number): { list: string; numbers: number[]; listening: number } {
  const listening = [...new Set(listeners.map((l) => l.port))].slice(0, Math.floor(count / 2));
  const taken = new Set(listeners.map((l) => l.port));
  const idle: number[] = [];
  for (let port = 9000; idle.length < count - listening.length; port++) if (!taken.has(port)) idle.push(port);
  const numbers = [...listening, ...idle].sort((a, b) => a - b);
  return { list: numbers.map((port, i) => (i % 2 === 0 ? `p${port}=${port}` : `${port}`)).join(','), numbers, listening: listening.length };
}

async function bursts(scraper: Scraper, options: SizeOptions, floorMs: number): Promise<BurstFigure> {
  const burst = async (): Promise<{ reads: number; wallMs: number }> => {
    const before = collectionsTotal((await scraper.scrape()).body);
    const begin = performance.now();
    const pages = await Promise.all(Array.from({ length: options.concurrency }, () => scraper.scrape()));
    const wallMs = performance.now() - begin;
    return { reads: Math.max(...pages.map((page) => collectionsTotal(page.body))) - before, wallMs };
  };
  await burst(); // opens the connections, as a Prometheus server's are already open
  const results = [];
  for (let i = 0; i < options.bursts; i++) results.push(await burst());
  const wallMs = summarize(results.map((r) => r.wallMs));
  const procfsReads = results.map((r) => r.reads);
  return { procfsReads, maxProcfsReads: Math.max(...procfsReads), wallMs, ratioToFloor: wallMs.median / floorMs };
}

async function idleCpu(
  targets: readonly Target[],
  options: SizeOptions,
  clockTicksPerSecond: number,
): Promise<{ windowS: number; intervalS: number; scrapesInWindow: number; clockTicksPerSecond: number; configured: IdleFigure; discovery: IdleFigure; nodeExporter: IdleFigure | null }> {
  await sleep(options.idleSettleMs);
  const begin = performance.now();
  const ticksBefore = targets.map((t) => cpuTicks(t.pid));
  let scrapes = 0;
  for (let at = 0; at < options.idleMs; at += options.idleIntervalMs) {
    await sleep(Math.max(0, begin + at - performance.now()));
    await Promise.all(targets.map((t) => t.scraper.scrape()));
    scrapes++;
  }
  await sleep(Math.max(0, begin + options.idleMs - performance.now()));
  const windowS = (performance.now() - begin) / 1000;
  const figure = (i: number): IdleFigure => {
    const ticks = cpuTicks(targets[i]!.pid) - ticksBefore[i]!;
    return { cpuTicks: ticks, percentOfCore: (ticks / clockTicksPerSecond / windowS) * 100 };
  };
  const nodeExporterIndex = targets.findIndex((t) => t.name === 'nodeExporter');
  return {
    windowS,
    intervalS: options.idleIntervalMs / 1000,
    scrapesInWindow: scrapes,
    clockTicksPerSecond,
    configured: figure(0),
    discovery: figure(1),
    nodeExporter: nodeExporterIndex < 0 ? null : figure(nodeExporterIndex),
  };
}
