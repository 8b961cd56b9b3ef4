/**
 * Bounded load test of /metrics (`npm run load`): the real service, thousands of real UDP
 * listeners, 50 concurrent keep-alive clients on loopback asking for gzip as Prometheus does,
 * while another process opens and closes short-lived UDP sockets (churn, which shifts the
 * kernel's socket table under the reader), for at most a minute. It fails unless every request
 * succeeded with a complete page that parses and shows every watched port up, concurrent
 * scrapes shared procfs reads (fewer collections than requests), and the service's memory
 * stayed flat: no higher after the second half of the run than after the first.
 *
 *   npm run load -- --sockets 5000 --clients 50 --seconds 30 --churn 500 [--json]
 *
 * test/load-smoke.test.ts runs a small version of it in `npm test`.
 */
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { parseExposition, valueOf } from '../support/exposition.js';
import { openManySockets } from '../support/many-sockets.js';
import { productionNodeFlags } from '../support/paths.js';
import { memoryOf } from '../support/process-stats.js';
import { startService } from '../support/service.js';

export interface LoadOptions {
  readonly sockets: number;
  readonly clients: number;
  readonly seconds: number;
  /** Stop after this many requests even if time remains. */
  readonly maxRequests: number;
  /** Short-lived sockets opened per second by another process during the run; 0 for none. */
  readonly churnPerSecond: number;
}

export interface LoadReport {
  readonly sockets: number;
  readonly clients: number;
  readonly seconds: number;
  readonly requests: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly requestsPerSecond: number;
  readonly latencyMs: { readonly p50: number; readonly p95: number; readonly p99: number; readonly max: number };
  /** Bytes on the wire (gzip) and after decompression, per page. */
  readonly pageBytes: { readonly gzip: number; readonly plain: number };
  /** Reads of procfs during the load, from udp_listener_exporter_collections_total. */
  readonly collections: number;
  readonly churnPerSecond: number;
  /** The service's resident memory: after warm-up, after each half of the run (settled), peak. */
  readonly rssMiB: { readonly before: number; readonly firstHalf: number; readonly secondHalf: number; readonly peak: number };
  readonly problems: readonly string[];
}

const MAX_SECONDS = 60;
const CHURN_JS = fileURLToPath(new URL('churn.js', import.meta.url));

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const seconds = Math.min(options.seconds, MAX_SECONDS);
  const crowd = await openManySockets(options.sockets);
  const service = await startService(
    { UDP_LISTENER_PORTS: asRanges(crowd.ports) },
    { startupTimeoutMs: 30_000, nodeArgs: productionNodeFlags(), sourceMaps: false },
  ).catch(async (error: unknown) => {
    await crowd.close();
    throw error;
  });
  const url = new URL(`${service.baseUrl}/metrics`);
  const agent = new Agent({ keepAlive: true, maxSockets: options.clients });
  const expectedPorts = new Set(crowd.ports.map(String));
  const rss = (): number => memoryOf(service.child.pid!).vmRssMiB;

  try {
    const scrape = (): Promise<{ gzip: number; text: string }> =>
      new Promise((resolve, reject) => {
        const req = request(url, { agent, headers: { 'accept-encoding': 'gzip' }, timeout: 30_000 }, (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const body = Buffer.concat(chunks);
            if (response.statusCode !== 200) return reject(new Error(`status ${response.statusCode}`));
            if (Number(response.headers['content-length']) !== body.length) return reject(new Error(`body of ${body.length} bytes, content-length ${response.headers['content-length']}`));
            try {
              const plain = response.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
              resolve({ gzip: body.length, text: plain.toString('utf8') });
            } catch (error) {
              reject(error as Error);
            }
          });
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end();
      });
    const checkPage = (text: string): void => {
      const page = parseExposition(text);
      const up = page.samples.filter((s) => s.name === 'udp_listener_up');
      const wrong = up.find((s) => !expectedPorts.has(s.labels.network_local_port!) || s.value !== 1);
      if (up.length !== expectedPorts.size || wrong !== undefined) {
        throw new Error(`page lists ${up.length} ports, expected ${expectedPorts.size} all up; first wrong: ${JSON.stringify(wrong)}`);
      }
    };

    const latencies: number[] = [];
    let errors = 0;
    let firstError: string | undefined;
    let requests = 0;
    const failed = (error: unknown): void => {
      errors++;
      firstError ??= error instanceof Error ? error.message : String(error);
    };
    const churn = options.churnPerSecond > 0 ? spawn(process.execPath, [CHURN_JS, String(options.churnPerSecond), String(seconds + 5)], { stdio: 'ignore' }) : undefined;
    let rssTimer: NodeJS.Timeout | undefined;

    try {
      // Warm up (first collection, JIT), then take the baselines.
      let warm = await scrape();
      try {
        checkPage(warm.text);
      } catch (error) {
        failed(error);
      }
      const collectionsBefore = valueOf(parseExposition(warm.text), 'udp_listener_exporter_collections_total')!;
      let pageBytes = { gzip: warm.gzip, plain: Buffer.byteLength(warm.text) };
      const rssBefore = rss();
      let rssPeak = rssBefore;
      rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, rss())), 250);

      const started = performance.now();
      const runHalf = async (until: number): Promise<void> => {
        const client = async (): Promise<void> => {
          while (performance.now() < until && requests < options.maxRequests) {
            requests++;
            const t0 = performance.now();
            try {
              const { gzip, text } = await scrape();
              latencies.push(performance.now() - t0);
              checkPage(text);
              pageBytes = { gzip, plain: Buffer.byteLength(text) };
            } catch (error) {
              failed(error);
            }
          }
        };
        await Promise.all(Array.from({ length: options.clients }, client));
        // Let the service settle (and collect garbage) before its memory is read.
        await new Promise((resolve) => setTimeout(resolve, 1000));
      };
      await runHalf(started + (seconds * 1000) / 2);
      const rssFirstHalf = rss();
      await runHalf(started + seconds * 1000);
      const rssSecondHalf = rss();
      const elapsed = (performance.now() - started) / 1000 - 2;
      clearInterval(rssTimer);

      warm = await scrape();
      const collections = valueOf(parseExposition(warm.text), 'udp_listener_exporter_collections_total')! - collectionsBefore - 1;

      latencies.sort((a, b) => a - b);
      const at = (q: number): number => round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
      const problems: string[] = [];
      if (errors > 0) problems.push(`${errors} of ${requests} requests failed, first: ${firstError}`);
      if (!(collections < requests)) problems.push(`${collections} collections for ${requests} requests: concurrent scrapes did not share reads`);
      // Flat: a leak grows with the requests served, so the second half would end higher.
      if (rssSecondHalf > rssFirstHalf * 1.1 + 8) problems.push(`RSS grew from ${round(rssFirstHalf)} MiB after the first half to ${round(rssSecondHalf)} MiB after the second`);
      return {
        sockets: crowd.ports.length,
        clients: options.clients,
        seconds: round(elapsed),
        requests,
        errors,
        firstError,
        requestsPerSecond: round(requests / elapsed),
        latencyMs: { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: round(latencies.at(-1) ?? 0) },
        pageBytes,
        collections,
        churnPerSecond: options.churnPerSecond,
        rssMiB: { before: round(rssBefore), firstHalf: round(rssFirstHalf), secondHalf: round(rssSecondHalf), peak: round(rssPeak) },
        problems,
      };
    } finally {
      clearInterval(rssTimer);
      churn?.kill();
    }
  } finally {
    agent.destroy();
    await service.stop();
    await crowd.close();
  }
}

/** The ports as UDP_LISTENER_PORTS ranges. */
function asRanges(ports: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ports.length; ) {
    let j = i;
    while (j + 1 < ports.length && ports[j + 1] === ports[j]! + 1) j++;
    parts.push(i === j ? `${ports[i]}` : `${ports[i]}-${ports[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sockets: { type: 'string', default: '5000' },
      clients: { type: 'string', default: '50' },
      seconds: { type: 'string', default: '30' },
      'max-requests': { type: 'string', default: '100000' },
      churn: { type: 'string', default: '500' },
      json: { type: 'boolean', default: false },
    },
  });
  const report = await runLoad({
    sockets: Number(values.sockets),
    clients: Number(values.clients),
    seconds: Number(values.seconds),
    maxRequests: Number(values['max-requests']),
    churnPerSecond: Number(values.churn),
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const lines = [
      `load: ${report.clients} clients for ${report.seconds} s against ${report.sockets} watched listeners (loopback, gzip), ${report.churnPerSecond} sockets/s of churn`,
      `requests ${report.requests} (${report.requestsPerSecond}/s), errors ${report.errors}`,
      `latency ms p50 ${report.latencyMs.p50}, p95 ${report.latencyMs.p95}, p99 ${report.latencyMs.p99}, max ${report.latencyMs.max}`,
      `page ${report.pageBytes.plain} bytes, ${report.pageBytes.gzip} on the wire`,
      `procfs collections ${report.collections} for ${report.requests} requests`,
      `service RSS MiB: after warm-up ${report.rssMiB.before}, after first half ${report.rssMiB.firstHalf}, after second half ${report.rssMiB.secondHalf}, peak ${report.rssMiB.peak}`,
      report.problems.length === 0 ? 'result: ok' : `result: FAILED\n  ${report.problems.join('\n  ')}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  process.exitCode = report.problems.length === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
