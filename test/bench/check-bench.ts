/**
 * What `udp-listener-exporter check` costs: 100 ports among 10,000 real sockets (by default),
 * next to `cat /proc/net/udp /proc/net/udp6` and to one Zabbix-style full read of both tables
 * per port (net.udp.listen[port] answers one port per item). The check reads the tables once
 * for every port.
 *
 *   npm run bench:check -- [--sockets 10000] [--ports 100] [--rounds 20] [--out FILE]
 *
 * Two kinds of figures, each a median (and p90) over rounds taken in rotating order, so that a
 * change in background load falls on every measurement alike:
 * - whole commands, as cron, NRPE or a probe starts them: `cat` of both tables, `check` (owner
 *   lookup on, the default, and off; and with UDP_LISTENER_SOURCE=netlink where its binding
 *   loads), and `node -e 0` for Node's own start-up;
 * - in one process, without start-up: the check's whole work (runCheck: configuration, the
 *   collection, the verdict) in the same variants, one read of both tables, and one read of both
 *   per port.
 *
 * Every port listens throughout; any reported down is counted, as a listener missed.
 *
 * Self-contained: it needs only the socket population (population.ts, on test/support's holder),
 * stats.ts and the built service.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runCheck } from '../../src/check/run.js';
import type { CheckReport } from '../../src/check/evaluate.js';
import type { CheckOptions } from '../../src/cli.js';
import { wholeNumber } from './options.js';
import { Population } from './population.js';
import { Samples, type Summary } from './stats.js';

const MAIN_JS = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const TABLES = ['/proc/net/udp', '/proc/net/udp6'] as const;

const USAGE = `Usage: npm run bench:check -- [options]

  --sockets N   sockets on the host (default 10000)
  --ports N     ports the check asks about, all of them listening (default 100)
  --rounds N    timed rounds (default 20), after 2 untimed
  --out FILE    also write every figure as JSON`;

interface Options {
  readonly sockets: number;
  readonly ports: number;
  readonly rounds: number;
  readonly out: string | undefined;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      sockets: { type: 'string', default: '10000' },
      ports: { type: 'string', default: '100' },
      rounds: { type: 'string', default: '20' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return undefined;
  return {
    sockets: wholeNumber('--sockets', values.sockets, 1),
    ports: wholeNumber('--ports', values.ports, 1),
    rounds: wholeNumber('--rounds', values.rounds, 1),
    out: values.out,
  };
}

/**
 * Runs a command to its end; resolves with its wall time, exit code and output. `cat`'s output
 * goes to /dev/null, as `cat ... >/dev/null` would send it.
 */
async function timeCommand(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env, output: 'keep' | 'discard' = 'keep'): Promise<{ ms: number; code: number | null; stdout: string; stderr: string }> {
  const started = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', output === 'keep' ? 'pipe' : 'ignore', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { ms: performance.now() - started, code, stdout, stderr };
}

/** Ports a check's JSON answer says have no listener. */
function portsDown(json: string): number {
  return (JSON.parse(json) as CheckReport).ports.filter((port) => port.up === false).length;
}

/**
 * What a Zabbix agent does for net.udp.listen[port]: read both tables whole, then look for an
 * unconnected socket (state 07) on the port. Resolves whether it found one.
 */
function zabbixStyleListening(port: number): boolean {
  const texts = TABLES.map((table) => readFileSync(table, 'latin1'));
  const line = new RegExp(`^ *\\d+: [0-9A-F]+:${port.toString(16).toUpperCase().padStart(4, '0')} [0-9A-F]+:[0-9A-F]{4} 07 `, 'm');
  return texts.some((text) => line.test(text));
}

async function main(): Promise<void> {
  let options: Options | undefined;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`check-bench: ${(error as Error).message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (options === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const log = (line: string): void => void process.stderr.write(`check-bench: ${line}\n`);
  log(`opening ${options.sockets} sockets`);
  const population = await Population.open(options.sockets);
  try {
    const ports = [...new Set(population.listeners.map((listener) => listener.port))].sort((a, b) => a - b).slice(0, options.ports);
    if (ports.length < options.ports) throw new Error(`only ${ports.length} listening ports among ${options.sockets} sockets; ask for fewer --ports`);
    const portArgs = ports.map(String);
    const countSockets = (): number[] => TABLES.map((table) => readFileSync(table, 'latin1').split('\n').length - 2);
    const tableLines = countSockets();
    log(`tables: ${tableLines.join(' + ')} sockets; checking ${ports.length} ports`);

    const checkOptions = (): CheckOptions => ({
      ports: ports.map((port) => ({ port })),
      windowMs: undefined,
      waitMs: undefined,
      queueWarningBytes: undefined,
      queueCriticalBytes: undefined,
      json: true,
    });
    /** How the check is configured: owner lookup, and where the socket tables come from. */
    interface Variant {
      readonly owners: boolean;
      readonly source: 'procfs' | 'netlink';
    }
    const env = ({ owners, source }: Variant): NodeJS.ProcessEnv => {
      const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('UDP_LISTENER_') && !name.startsWith('OTEL_') && name !== 'HOST_PROC'));
      return { ...clean, UDP_LISTENER_OWNERS: String(owners), UDP_LISTENER_SOURCE: source, UDP_LISTENER_COLLECTION_TIMEOUT: '1m' };
    };
    const variants: Variant[] = [
      { owners: true, source: 'procfs' },
      { owners: false, source: 'procfs' },
    ];
    // The netlink source needs its binding (koffi); where it cannot load, its rows are left out.
    const probe = await runCheck(checkOptions(), env({ owners: false, source: 'netlink' }));
    if (probe.exitCode === 3) log(`netlink source left out: ${probe.output.split('\n').find((line) => line.includes('UDP_LISTENER_SOURCE')) ?? probe.output}`);
    else variants.push({ owners: false, source: 'netlink' });
    const describe = ({ owners, source }: Variant): string => `owners ${owners ? 'on' : 'off'}${source === 'netlink' ? ', netlink source' : ''}`;

    /**
     * Every port listens throughout, so a port reported down is a listener missed: a read of a
     * table that shifts under it (other processes' sockets come and go) can skip one. Counted
     * over all rounds, not fatal: how often a way of looking is wrong belongs with its cost.
     */
    const missed = new Map<string, number>();
    const miss = (name: string, count: number): void => void missed.set(name, (missed.get(name) ?? 0) + count);

    const zabbixStyle = `in process: Zabbix-style, both tables read per port (${ports.length} reads of each)`;
    const measurements: readonly [string, () => Promise<number>][] = [
      ['command: cat /proc/net/udp /proc/net/udp6', async () => (await timeCommand('cat', TABLES, process.env, 'discard')).ms],
      ['command: node -e 0 (Node start-up alone)', async () => (await timeCommand(process.execPath, ['-e', '0'], process.env, 'discard')).ms],
      ...variants.map((variant): [string, () => Promise<number>] => {
        const name = `command: check, ${ports.length} ports, ${describe(variant)}`;
        return [
          name,
          async () => {
            const { ms, code, stdout, stderr } = await timeCommand(process.execPath, [MAIN_JS, 'check', '--json', ...portArgs], env(variant));
            if (code === 3) throw new Error(`check answered UNKNOWN: ${stdout}${stderr}`);
            miss(name, portsDown(stdout));
            return ms;
          },
        ];
      }),
      ['in process: one read of both tables', async () => {
        const started = performance.now();
        for (const table of TABLES) readFileSync(table);
        return performance.now() - started;
      }],
      ...variants.map((variant): [string, () => Promise<number>] => {
        const name = `in process: check's work (runCheck), ${describe(variant)}`;
        return [
          name,
          async () => {
            const started = performance.now();
            const outcome = await runCheck(checkOptions(), env(variant));
            const ms = performance.now() - started;
            if (outcome.exitCode === 3) throw new Error(`runCheck answered UNKNOWN: ${outcome.output}`);
            miss(name, portsDown(outcome.output));
            return ms;
          },
        ];
      }),
      [zabbixStyle, async () => {
        const started = performance.now();
        const listening = ports.filter(zabbixStyleListening).length;
        const ms = performance.now() - started;
        miss(zabbixStyle, ports.length - listening);
        return ms;
      }],
    ];

    const samples = new Samples();
    for (let round = -2; round < options.rounds; round++) {
      for (let i = 0; i < measurements.length; i++) {
        const [name, measure] = measurements[(i + Math.max(0, round)) % measurements.length]!;
        const ms = await measure();
        if (round >= 0) samples.add(name, ms);
      }
      if (round >= 0 && (round + 1) % 5 === 0) log(`round ${round + 1}/${options.rounds}`);
    }

    // Sockets other processes opened or closed meanwhile change what every figure measured.
    const tableLinesAtEnd = countSockets();
    const figures = Object.fromEntries(measurements.map(([name]) => [name, samples.summary(name)])) as Record<string, Summary>;
    const catMs = figures[measurements[0]![0]]!.median;
    const oneReadMs = figures['in process: one read of both tables']!.median;
    const lines = [
      `udp-listener-exporter check: ${ports.length} ports among ${tableLines[0]! + tableLines[1]!} sockets (udp ${tableLines[0]}, udp6 ${tableLines[1]}; ${tableLinesAtEnd[0]! + tableLinesAtEnd[1]!} at the end), ${options.rounds} rounds`,
      `${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Linux ${release()}, Node ${process.version}, load average at the end ${loadavg().map((n) => n.toFixed(2)).join(' ')}`,
      '',
      '| | median | p90 | x cat | x one read | listening ports reported down |',
      '|---|---:|---:|---:|---:|---:|',
      ...measurements.map(([name]) => {
        const { median, p90 } = figures[name]!;
        const wrong = missed.has(name) ? String(missed.get(name)) : '';
        return `| ${name} | ${median.toFixed(1)} ms | ${p90.toFixed(1)} ms | ${(median / catMs).toFixed(2)} | ${(median / oneReadMs).toFixed(2)} | ${wrong} |`;
      }),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (options.out !== undefined) {
      writeFileSync(
        options.out,
        `${JSON.stringify({ startedAt: new Date().toISOString(), machine: { cpus: cpus().length, kernel: release(), node: process.version, loadAverage: loadavg() }, options, ports, tableLines, tableLinesAtEnd, figures, missed: Object.fromEntries(missed) }, null, 2)}\n`,
      );
      log(`wrote ${options.out}`);
    }
  } finally {
    await population.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`check-bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
