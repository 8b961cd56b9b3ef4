/**
 * `npm run bench:install`: what each way of installing the service costs on disk, and its cold
 * start, from spawning the process to the first 200 answer on /metrics: the checkout (as `npm
 * start` runs it), the npm package (installed from `npm pack` into a prefix, run as the systemd
 * unit's package line runs it) and the single executable (dist/sea/udp-listener-exporter, made
 * by `npm run sea`; left out with a note if it is not built).
 *
 *   npm run bench:install -- --rounds 20
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { installPackage } from '../support/package.js';
import { MAIN_JS, productionNodeFlags, REPO_ROOT } from '../support/paths.js';
import { freePort } from '../support/prometheus.js';
import { wholeNumber } from './options.js';
import { summarize } from './stats.js';

const SINGLE_EXECUTABLE = path.join(REPO_ROOT, 'dist', 'sea', 'udp-listener-exporter');
const POLL_INTERVAL_MS = 2;
const START_DEADLINE_MS = 30_000;

/** Bytes of every file under a directory (what `du --apparent-size` counts). */
function treeBytes(directory: string): number {
  let total = 0;
  for (const entry of readdirSync(directory, { recursive: true, withFileTypes: true, encoding: 'utf8' })) {
    if (entry.isFile()) total += statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return total;
}

async function metricsAnswers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url);
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** Milliseconds from spawn() to the first 200 on /metrics; the process is stopped after. */
async function coldStart(command: readonly string[], env: Record<string, string>): Promise<number> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/metrics`;
  const started = performance.now();
  const child = spawn(command[0]!, command.slice(1), {
    env: { ...env, OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: String(port), UDP_LISTENER_PORTS: '514' },
    stdio: 'ignore',
  });
  const exited = once(child, 'exit');
  try {
    while (!(await metricsAnswers(url))) {
      if (child.exitCode !== null) throw new Error(`${command.join(' ')} exited with ${child.exitCode} before answering`);
      if (performance.now() - started > START_DEADLINE_MS) throw new Error(`${command.join(' ')} did not answer within ${START_DEADLINE_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
    return performance.now() - started;
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

const megabytes = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/**
 * UDP sockets on the host now, as `ss -ua` counts them: the first scrape reads them all, so a
 * machine holding tens of thousands (another job's benchmark) measures that, not the start.
 */
function hostUdpSockets(): string {
  const ss = spawnSync('ss', ['-uaH'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return ss.status === 0 ? String(ss.stdout.split('\n').filter((line) => line !== '').length) : 'unknown (no ss)';
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' } } });
  const rounds = wholeNumber('--rounds', values.rounds, 1);
  const flags = productionNodeFlags();
  const installed = await installPackage();
  try {
    const ways: { name: string; command: string[]; env: Record<string, string>; size: string }[] = [
      { name: 'checkout (npm start)', command: [process.execPath, ...flags, MAIN_JS], env: { PATH: process.env.PATH ?? '' }, size: '-' },
      {
        name: 'npm package (node on the install)',
        command: [process.execPath, ...flags, installed.mainScript],
        env: { PATH: process.env.PATH ?? '' },
        size: `${megabytes(statSync(installed.tarball).size)} tarball, ${megabytes(treeBytes(installed.prefix))} installed`,
      },
    ];
    if (existsSync(SINGLE_EXECUTABLE)) {
      ways.push({ name: 'single executable (no node on PATH)', command: [SINGLE_EXECUTABLE], env: { PATH: '/nonexistent' }, size: megabytes(statSync(SINGLE_EXECUTABLE).size) });
    } else {
      console.log(`${SINGLE_EXECUTABLE} is not built (npm run sea): left out.`);
    }

    console.log(`Node ${process.versions.node}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${loadavg()[0]!.toFixed(2)}, ${hostUdpSockets()} UDP sockets on the host; ${rounds} rounds each, interleaved, after one untimed start each.`);
    for (const way of ways) await coldStart(way.command, way.env);
    const samples = ways.map((): number[] => []);
    for (let round = 0; round < rounds; round++) {
      for (const [index, way] of ways.entries()) samples[index]!.push(await coldStart(way.command, way.env));
    }
    console.log('\n| | size | cold start to first /metrics, median / p90 (min-max) |\n|---|---:|---:|');
    for (const [index, way] of ways.entries()) {
      const { median, p90, min, max } = summarize(samples[index]!);
      console.log(`| ${way.name} | ${way.size} | ${median.toFixed(0)} / ${p90.toFixed(0)} ms (${min.toFixed(0)}-${max.toFixed(0)}) |`);
    }
  } finally {
    installed.remove();
  }
}

await main();
