/**
 * Builds the running service from a validated Config: procfs root, snapshot source, one
 * MeterProvider with its readers and instruments, and the HTTP server. main() owns the process
 * (signals, exit codes); tests can start and stop a service the same way main() does.
 */
import { access, constants } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { SnapshotSource } from './collection/snapshot.js';
import type { Config } from './config/config.js';
import { renderLandingPage } from './http/landing-page.js';
import { createHttpServer } from './http/server.js';
import type { Logger } from './log.js';
import { ProcFs } from './procfs/procfs.js';
import { ExporterInstruments } from './telemetry/instruments.js';
import { METER_NAME } from './telemetry/names.js';
import { PrometheusEndpoint } from './telemetry/prometheus.js';
import { packageVersion } from './version.js';

export interface RunningService {
  /** Where /metrics is served, e.g. http://127.0.0.1:9464/metrics. */
  readonly metricsUrl: string;
  /** What it watches, for the start-up log line. */
  readonly summary: Readonly<Record<string, string | number>>;
  stop(): Promise<void>;
  /** procfs files whose read is still blocked in the kernel (see main's exit). */
  stuckReads(): readonly string[];
}

/** In-flight scrapes get this long to finish when the service stops. */
const SHUTDOWN_GRACE_MS = 2000;

export async function startService(config: Config, logger: Logger): Promise<RunningService> {
  const version = packageVersion();
  const procfs = new ProcFs(config.procRoot);
  const netDirectory = await hostNetDirectory(procfs, logger);
  const source = new SnapshotSource({ procfs, config, netDirectory, logger });

  const prometheus = new PrometheusEndpoint(logger);
  const meterProvider = new MeterProvider({
    resource: defaultResource().merge(resourceFromAttributes({ 'service.name': METER_NAME, 'service.version': version })),
    readers: [prometheus.reader],
    views: [
      {
        meterName: METER_NAME,
        aggregationCardinalityLimit: ExporterInstruments.cardinalityLimit(config.ports, config.discoveryLimit),
      },
    ],
  });
  new ExporterInstruments({
    meter: meterProvider.getMeter(METER_NAME, version),
    source,
    ports: config.ports,
    discoveryLimit: config.discoveryLimit,
  });

  const server = createHttpServer({
    renderMetrics: prometheus.render,
    landingPage: renderLandingPage({ version, ports: config.ports, discoveryLimit: config.discoveryLimit, procRoot: config.procRoot }),
    logger,
    web: config.web,
  });
  server.listen({ host: config.prometheus.host, port: config.prometheus.port });
  try {
    await once(server, 'listening');
  } catch (error) {
    await meterProvider.shutdown();
    const where = `${config.prometheus.host ?? '*'}:${config.prometheus.port}`;
    throw new Error(`cannot listen on ${where} (OTEL_EXPORTER_PROMETHEUS_HOST/OTEL_EXPORTER_PROMETHEUS_PORT): ${(error as Error).message}`);
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const scheme = config.web?.tls === undefined ? 'http' : 'https';
  const metricsUrl = `${scheme}://${host}:${address.port}/metrics`;
  return {
    metricsUrl,
    summary: {
      mode: config.ports.length > 0 ? 'configured' : 'discovery',
      ports: config.ports.length,
      sockets_from: netDirectory,
      tls: config.web?.tls === undefined ? 'off' : 'on',
      basic_auth: config.web === undefined || config.web.basicAuthUsers.size === 0 ? 'off' : 'on',
      version,
    },
    stuckReads: () => procfs.stuckFiles(),
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(grace);
      await meterProvider.shutdown();
    },
  };
}

/**
 * The socket tables of the host's network namespace are those of its PID 1: <root>/net follows
 * the reading process, which in a container with the host's /proc mounted is the container's
 * own namespace. Where PID 1 is hidden (hidepid), fall back to our own namespace and say so.
 */
async function hostNetDirectory(procfs: ProcFs, logger: Logger): Promise<string> {
  const host = procfs.path('1', 'net');
  if (await readable(`${host}/udp`)) return host;
  const own = procfs.path('self', 'net');
  if (await readable(`${own}/udp`)) {
    logger.warn("cannot read PID 1's socket tables (is procfs mounted with hidepid?); watching this process's network namespace", {
      tried: `${host}/udp`,
      using: `${own}/udp`,
    });
    return own;
  }
  return host;
}

async function readable(file: string): Promise<boolean> {
  try {
    await access(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}
