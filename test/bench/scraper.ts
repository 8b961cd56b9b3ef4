/**
 * Scrapes a /metrics endpoint over HTTP as Prometheus does: keep-alive connections, gzip
 * accepted, the whole body read. Timed from sending the request to the last byte of the body;
 * unzipping it is the scraper's work and is left out.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';

export interface ScrapeResult {
  readonly ms: number;
  readonly body: string;
  /** Bytes on the wire: compressed when the server gzipped the page. */
  readonly wireBytes: number;
}

export class Scraper {
  readonly url: URL;
  /** Scrapes made through this scraper, every kind counted. */
  count = 0;
  private readonly agent: Agent;

  constructor(metricsUrl: string, maxSockets = 32) {
    this.url = new URL(metricsUrl);
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  scrape(): Promise<ScrapeResult> {
    this.count++;
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = request(this.url, { agent: this.agent, headers: { accept: 'text/plain', 'accept-encoding': 'gzip' } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const ms = performance.now() - started;
          if (response.statusCode !== 200) {
            reject(new Error(`GET ${this.url.href} answered ${response.statusCode}`));
            return;
          }
          const bytes = Buffer.concat(chunks);
          const body = response.headers['content-encoding'] === 'gzip' ? gunzipSync(bytes) : bytes;
          resolve({ ms, body: body.toString('utf8'), wireBytes: bytes.length });
        });
        response.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The value of udp_listener_exporter_collections_total on a page: procfs reads so far. */
export function collectionsTotal(body: string): number {
  const match = /^udp_listener_exporter_collections_total(?:\{[^}]*\})? (\S+)$/m.exec(body);
  if (match === null) throw new Error('the page has no udp_listener_exporter_collections_total');
  return Number(match[1]);
}
