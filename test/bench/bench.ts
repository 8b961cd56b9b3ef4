/**
 * `npm run bench`: how much a scrape costs next to simply reading /proc/net/udp and udp6,
 * at 100, 1,000 and 10,000 real sockets, with every figure a median of many rounds, its p90,
 * and a ratio to the raw floor measured in the same run. Prints a table with PASS/MISS per
 * goal of issue 7 and writes every figure as JSON (.bench/results.json by default).
 *
 *   npm run bench -- --sizes 100,1000 --idle 10s     a quick run
 *   npm run bench -- --help
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { productionNodeFlags, REPO_ROOT } from '../support/paths.js';
import { findNodeExporter } from './node-exporter.js';
import { clockTicksPerSecond } from '../support/process-stats.js';
import { evaluateGoals, GOALS_FROM_SOCKETS, sizeBlock, summaryTable, type Goal } from './report.js';
import { runSize, type SizeOptions, type SizeResult } from './run-size.js';
import { duration, wholeNumber } from './options.js';
import { runSourcesBench } from './sources.js';

const USAGE = `Usage: npm run bench -- [options]

  --sizes LIST            socket counts to measure (default 100,1000,10000)
  --reps N|auto           timed rounds per size (default auto: 200 below 5,000 sockets, 50 from there)
  --warmup N              untimed rounds first (default 5)
  --ports N               configured ports of the configured-mode service (default 100)
  --concurrency N         simultaneous scrapes per burst (default 20)
  --bursts N              bursts per mode (default 5)
  --idle DURATION         idle CPU window (default 60s)
  --idle-interval DURATION  scrape interval inside it (default 15s)
  --idle-settle DURATION  quiet time before the idle window (default 10s)
  --rss-scrapes N         scrapes served before RSS is read (default 1000)
  --parser-reps N         parser micro-benchmark rounds (default: as --reps)
  --node-exporter auto|none|PATH  reference line from node_exporter (default auto: if installed)
  --service-node-args=ARGS node flags for the service processes (default: those of npm start)
  --out FILE              JSON results (default .bench/results.json)
  --sources               instead: procfs and netlink sources, node_exporter and cat side by side
                          (bench/sources.ts), e.g. --sources --sizes 100,1000,10000,100000

Durations: 500ms, 10s, 1m.`;

interface Options extends SizeOptions {
  readonly sizes: number[];
  readonly out: string;
  readonly sources: boolean;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string', default: '100,1000,10000' },
      reps: { type: 'string', default: 'auto' },
      warmup: { type: 'string', default: '5' },
      ports: { type: 'string', default: '100' },
      concurrency: { type: 'string', default: '20' },
      bursts: { type: 'string', default: '5' },
      idle: { type: 'string', default: '60s' },
      'idle-interval': { type: 'string', default: '15s' },
      'idle-settle': { type: 'string', default: '10s' },
      'rss-scrapes': { type: 'string', default: '1000' },
      'parser-reps': { type: 'string' },
      'node-exporter': { type: 'string', default: 'auto' },
      'service-node-args': { type: 'string', default: productionNodeFlags().join(' ') },
      out: { type: 'string', default: path.join(REPO_ROOT, '.bench', 'results.json') },
      help: { type: 'boolean', default: false },
      sources: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return undefined;
  return {
    sizes: values.sizes.split(',').map((size) => wholeNumber('--sizes', size, 1)),
    reps: values.reps === 'auto' ? 'auto' : wholeNumber('--reps', values.reps, 1),
    warmupRounds: wholeNumber('--warmup', values.warmup, 0),
    configuredPorts: wholeNumber('--ports', values.ports, 1),
    concurrency: wholeNumber('--concurrency', values.concurrency, 1),
    bursts: wholeNumber('--bursts', values.bursts, 1),
    idleMs: duration('--idle', values.idle),
    idleIntervalMs: duration('--idle-interval', values['idle-interval']),
    idleSettleMs: duration('--idle-settle', values['idle-settle'], 0),
    rssScrapes: wholeNumber('--rss-scrapes', values['rss-scrapes'], 1),
    parserReps: values['parser-reps'] === undefined ? null : wholeNumber('--parser-reps', values['parser-reps'], 1),
    nodeExporter: findNodeExporter(values['node-exporter']) ?? null,
    serviceNodeArgs: values['service-node-args'].split(' ').filter((arg) => arg !== ''),
    out: path.resolve(values.out),
    sources: values.sources,
  };
}

async function main(): Promise<void> {
  let options: Options | undefined;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (options === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    kernel: release(),
    node: process.version,
    loadAverageAtStart: loadavg(),
  };
  const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);
  log(`${machine.cpus} CPUs (${machine.cpuModel}), Linux ${machine.kernel}, Node ${machine.node}; node_exporter: ${options.nodeExporter ?? 'not used'}`);
  const startedAt = new Date().toISOString();
  const results: (SizeResult & { goals: Goal[] })[] = [];
  const ticks = clockTicksPerSecond();
  if (options.sources) {
    const sources = await runSourcesBench({ ...options, clockTicksPerSecond: ticks, log });
    const report = { schema: 1, kind: 'sources', startedAt, finishedAt: new Date().toISOString(), machine: { ...machine, loadAverageAtEnd: loadavg() }, options, sizes: sources };
    mkdirSync(path.dirname(options.out), { recursive: true });
    writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`\nwrote ${options.out}\n`);
    return;
  }
  for (const sockets of options.sizes) {
    const result = await runSize(sockets, options, { clockTicksPerSecond: ticks, log });
    const goals = evaluateGoals(result);
    results.push({ ...result, goals });
    process.stdout.write(`\n${sizeBlock(result, goals)}\n`);
  }
  const report = {
    schema: 1,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: { ...machine, loadAverageAtEnd: loadavg(), clockTicksPerSecond: ticks },
    options,
    floorDefinition: 'fs.promises.readFile of udp, then of udp6, in the benchmark process, no parsing; every ratio is to its median',
    goalsApplyFromSockets: GOALS_FROM_SOCKETS,
    sizes: results,
  };
  mkdirSync(path.dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\n${summaryTable(results)}\n\nwrote ${options.out}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
