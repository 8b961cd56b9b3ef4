/**
 * node_exporter as a reference line: the peer most hosts already run. Of its collectors only
 * `udp_queues` reads /proc/net/udp and udp6 (procfs NetUDPSummary, then NetUDP6Summary);
 * `netstat` reads /proc/net/netstat, snmp and snmp6 and `sockstat` reads /proc/net/sockstat,
 * neither a socket table. So it runs with udp_queues alone and without its own go_* and
 * process_* metrics, which makes its scrape the same work as ours: both tables, every scrape.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { freePort, until } from '../support/prometheus.js';
import { findTool } from '../support/tools.js';

export const NODE_EXPORTER_ARGS = ['--collector.disable-defaults', '--collector.udp_queues', '--web.disable-exporter-metrics'] as const;

export interface NodeExporter {
  readonly pid: number;
  readonly metricsUrl: string;
  readonly version: string;
  stop(): Promise<void>;
}

/** 'auto': the Debian binary or node_exporter on PATH, else none; 'none'; or a path. */
export function findNodeExporter(option: string): string | undefined {
  if (option === 'none') return undefined;
  if (option !== 'auto') return option;
  return findTool('prometheus-node-exporter') ?? findTool('node_exporter');
}

export async function startNodeExporter(binary: string): Promise<NodeExporter> {
  const port = await freePort();
  const child: ChildProcess = spawn(binary, [`--web.listen-address=127.0.0.1:${port}`, ...NODE_EXPORTER_ARGS], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const ready = async (): Promise<true | undefined> => {
    if (child.exitCode !== null) throw new Error(`node_exporter exited with ${child.exitCode}: ${stderr}`);
    try {
      const response = await fetch(metricsUrl);
      await response.text();
      return response.ok ? true : undefined;
    } catch {
      return undefined; // not listening yet
    }
  };
  try {
    await until(`node_exporter to serve ${metricsUrl}`, ready, () => stderr, 10_000, 50);
  } catch (error) {
    // Nobody holds a stop() for it yet.
    child.kill('SIGKILL');
    throw error;
  }
  const version = /\(version=([^,]+),/.exec(stderr)?.[1] ?? 'unknown';
  return {
    pid: child.pid!,
    metricsUrl,
    version,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
