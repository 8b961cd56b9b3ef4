/**
 * `npm run bench:memory`: the service's peak memory (VmHWM of its process) where the socket
 * tables are large, since it parses them as it reads them instead of holding them whole.
 *
 * - A synthetic table: a udp6 file of --table-lines lines (default 1.5 million, about 225 MB)
 *   made from the captured file's lines (test/support/huge-table.ts), read through HOST_PROC as
 *   a regular file, in configured mode.
 * - Real sockets: --sockets of them (default 100,000) held by helper processes, read from this
 *   host's /proc in configured and in discovery mode, owners on, as a user runs it. Four in
 *   five are IPv4, spread over many 127.x addresses (the kernel's 28,232 ephemeral ports would
 *   not hold 100,000 sockets on one address), one in five IPv6 on ::1; of every twenty, one
 *   listens on a port of 10000-19999, six are connected clients, the rest unconnected clients.
 *
 * Each service is scraped a few times, then its VmHWM is read. Prints a table and writes every
 * figure as JSON (.bench/memory.json by default).
 *
 *   npm run bench:memory -- --sockets 100000 --table-lines 1500000
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { parseExposition, valueOf, type Exposition } from '../support/exposition.js';
import { writeHugeUdp6Table } from '../support/huge-table.js';
import { procTree } from '../support/proc-tree.js';
import { productionNodeFlags, REPO_ROOT } from '../support/paths.js';
import { memoryOf } from '../support/process-stats.js';
import { startService, type ServiceProcess } from '../support/service.js';
import { wholeNumber } from './options.js';
import { LISTENER_PORTS, Population, type PopulationShape, type SocketSpec } from './population.js';
import { Scraper } from './scraper.js';


/** A read of 100,000 sockets' tables takes seconds of kernel time (it grows with the square). */
const COLLECTION_TIMEOUT = '1m';
const SCRAPES = 3;
/** The service run as `npm start` runs it. */
const AS_NPM_START = { nodeArgs: productionNodeFlags(), sourceMaps: false };
const CONFIGURED_PORTS = 100;

interface ServiceMemory {
  readonly mode: string;
  readonly peakRssMiB: number;
  readonly rssMiB: number;
  readonly scrapes: number;
  /** Of the last scrape, as the page says. */
  readonly collectionSeconds: number;
  readonly readSuccess: boolean;
}

interface MemoryReport {
  readonly table: { readonly lines: number; readonly bytes: number; readonly listenersFound: boolean; readonly service: ServiceMemory } | null;
  readonly sockets: { readonly total: number; readonly shape: PopulationShape; readonly services: readonly ServiceMemory[] } | null;
}

/** The plan described above: many IPv4 addresses, so that ephemeral ports do not run out. */
function planSpreadPopulation(total: number): { specs: SocketSpec[]; shape: PopulationShape } {
  const specs: SocketSpec[] = [];
  let listeners = 0;
  let connected = 0;
  let withQueuedData = 0;
  let ipv4 = 0;
  for (let i = 0; i < total; i++) {
    const v6 = i % 5 === 4;
    const address = v6 ? '::1' : `127.1.${Math.floor(ipv4 / 250) % 256}.${(ipv4 % 250) + 1}`;
    if (!v6) ipv4++;
    const base = v6 ? { family: 'ipv6' as const, v6only: true, address } : { family: 'ipv4' as const, address };
    const role = i % 20;
    if (role === 0) {
      const queued = listeners % 5 === 0;
      listeners++;
      if (queued) withQueuedData++;
      specs.push({ ...base, port: LISTENER_PORTS, queue: queued ? 4 : 0 });
    } else if (role <= 6) {
      connected++;
      specs.push({ ...base, port: 0, connect: [v6 ? '::1' : '127.0.0.1', 9], queue: 0 });
    } else {
      specs.push({ ...base, port: 0, queue: 0 });
    }
  }
  const shape = { total, ipv4, ipv6Only: total - ipv4, dualStack: 0, listeners, connected, unconnectedEphemeral: total - listeners - connected, withQueuedData, dropping: 0 };
  return { specs, shape };
}

async function measure(mode: string, service: ServiceProcess, file: string | undefined): Promise<ServiceMemory> {
  const scraper = new Scraper(`${service.baseUrl}/metrics`);
  let page: Exposition | undefined;
  try {
    for (let i = 0; i < SCRAPES; i++) page = parseExposition((await scraper.scrape()).body);
  } finally {
    scraper.close();
  }
  const { vmHwmMiB, vmRssMiB } = memoryOf(service.child.pid!);
  const successes = (page?.samples ?? []).filter((s) => s.name === 'udp_listener_exporter_read_success' && (file === undefined || s.labels.file_path === file));
  return {
    mode,
    peakRssMiB: vmHwmMiB,
    rssMiB: vmRssMiB,
    scrapes: SCRAPES,
    collectionSeconds: valueOf(page!, 'udp_listener_exporter_collection_duration_seconds') ?? Number.NaN,
    readSuccess: successes.length > 0 && successes.every((s) => s.value === 1),
  };
}

async function runTable(lines: number, log: (line: string) => void): Promise<NonNullable<MemoryReport['table']>> {
  const tree = procTree();
  try {
    log(`writing a udp6 table of ${lines.toLocaleString('en-US')} lines`);
    const file = `${tree.root}/1/net/udp6`;
    const table = await writeHugeUdp6Table(file, lines, Math.max(1, Math.floor(lines / 15)));
    const { port, sockets } = table.listeners;
    const service = await startService(
      { HOST_PROC: tree.root, UDP_LISTENER_PORTS: String(port), UDP_LISTENER_OWNERS: 'false', UDP_LISTENER_COLLECTION_TIMEOUT: COLLECTION_TIMEOUT },
      AS_NPM_START,
    );
    try {
      log('scraping the service that reads it');
      const memory = await measure('configured', service, file);
      const page = parseExposition(await (await fetch(`${service.baseUrl}/metrics`)).text());
      return { lines, bytes: table.bytes, listenersFound: valueOf(page, 'udp_listener_sockets', { network_local_port: String(port) }) === sockets, service: memory };
    } finally {
      await service.stop();
    }
  } finally {
    tree.remove();
  }
}

async function runSockets(total: number, log: (line: string) => void): Promise<NonNullable<MemoryReport['sockets']>> {
  log(`opening ${total.toLocaleString('en-US')} sockets`);
  const population = await Population.openPlan(planSpreadPopulation(total));
  try {
    const ports = [...new Set(population.listeners.map((l) => l.port))].slice(0, CONFIGURED_PORTS);
    const services: ServiceMemory[] = [];
    for (const [mode, env] of [
      ['configured', { UDP_LISTENER_PORTS: ports.join(',') }],
      ['discovery', {}],
    ] as const) {
      log(`starting the service in ${mode} mode and scraping it ${SCRAPES} times`);
      const service = await startService({ ...env, UDP_LISTENER_COLLECTION_TIMEOUT: COLLECTION_TIMEOUT }, AS_NPM_START);
      try {
        services.push(await measure(mode, service, undefined));
      } finally {
        await service.stop();
      }
    }
    return { total, shape: population.shape, services };
  } finally {
    await population.close();
  }
}

function summary(report: MemoryReport): string {
  const rows: string[] = ['| what | peak RSS (VmHWM) | RSS after | last collection | read |', '|---|---|---|---|---|'];
  const row = (what: string, m: ServiceMemory): string =>
    `| ${what} | ${m.peakRssMiB.toFixed(1)} MiB | ${m.rssMiB.toFixed(1)} MiB | ${m.collectionSeconds.toFixed(2)} s | ${m.readSuccess ? 'ok' : 'FAILED'} |`;
  if (report.table !== null) {
    const { lines, bytes, listenersFound, service } = report.table;
    rows.push(row(`udp6 of ${lines.toLocaleString('en-US')} lines (${(bytes / 1e6).toFixed(0)} MB), configured${listenersFound ? '' : ', listeners WRONG'}`, service));
  }
  for (const service of report.sockets?.services ?? []) rows.push(row(`${report.sockets!.total.toLocaleString('en-US')} real sockets, ${service.mode}`, service));
  return rows.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sockets: { type: 'string', default: '100000' },
      'table-lines': { type: 'string', default: '1500000' },
      out: { type: 'string', default: path.join(REPO_ROOT, '.bench', 'memory.json') },
    },
  });
  // 0 leaves that part out.
  const sockets = wholeNumber('--sockets', values.sockets, 0);
  const tableLines = wholeNumber('--table-lines', values['table-lines'], 0);
  const started = performance.now();
  const log = (line: string): void => void process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0)} s] ${line}\n`);
  const report: MemoryReport = {
    table: tableLines > 0 ? await runTable(tableLines, log) : null,
    sockets: sockets > 0 ? await runSockets(sockets, log) : null,
  };
  mkdirSync(path.dirname(values.out), { recursive: true });
  writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${summary(report)}\n\nJSON: ${values.out}\n`);
  const failed = [report.table?.service, ...(report.sockets?.services ?? [])].some((m) => m !== undefined && !m.readSuccess) || report.table?.listenersFound === false;
  if (failed) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:memory: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
