/**
 * What an operator's log shows while the collector is away, at the default log level: one
 * warning when exports start failing, with the reason, and one line when they recover, with how
 * many failed; nothing at the pushes in between. Against a port nobody listens on and against a
 * collector that accepts connections and never answers, each for 10 s at a 1 s interval.
 *
 * The sockets are read from the captured fixture tree: on a shared machine the live tables can
 * hold tens of thousands of sockets and take seconds to read, which would add lines of their own.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { scrape, valueOf } from './support/exposition.js';
import { OtlpReceiver } from './support/otlp-receiver.js';
import { freePort, until } from './support/prometheus.js';
import { procTree } from './support/proc-tree.js';
import { startService } from './support/service.js';

const INTERVAL_MS = 1000;
const WINDOW_MS = 10_000;
const FAILURES = 'udp_listener_exporter_otlp_export_failures_total';

/** A collector that is not there yet, and what comes up on its port when it is. */
interface AbsentCollector {
  readonly endpoint: string;
  /** The reason the warning must give. */
  readonly reason: RegExp;
  comeBack(): Promise<OtlpReceiver>;
  /** Whatever it still holds open, when the test ended before comeBack. */
  close(): void;
}

async function refusedPort(): Promise<AbsentCollector> {
  const port = await freePort();
  return { endpoint: `http://127.0.0.1:${port}`, reason: /ECONNREFUSED/, comeBack: () => OtlpReceiver.start({ transport: 'http', port }), close: () => undefined };
}

/** Accepts every connection and never reads or answers. */
async function silentListener(): Promise<AbsentCollector> {
  const connections = new Set<Socket>();
  const server = createServer((socket) => {
    connections.add(socket);
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const close = (): void => {
    server.close();
    for (const socket of connections) socket.destroy();
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    reason: /timed out/i,
    async comeBack() {
      const closed = once(server, 'close');
      close();
      await closed;
      return OtlpReceiver.start({ transport: 'http', port });
    },
    close,
  };
}

function logLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line !== '');
}

describe('OTLP outage, as the log tells it', { concurrency: true }, () => {
  for (const [name, absent] of [
    ['a refused port', refusedPort],
    ['a silent TCP listener', silentListener],
  ] as const) {
    it(`${name}: one warning with the reason over ${WINDOW_MS / 1000} s of ${INTERVAL_MS / 1000} s pushes, then one recovery line with the failed count`, async (t) => {
      const collector = await absent();
      const tree = procTree();
      t.after(() => {
        collector.close();
        tree.remove();
      });
      const service = await startService({
        HOST_PROC: tree.root,
        OTEL_METRICS_EXPORTER: 'prometheus,otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
        OTEL_METRIC_EXPORT_INTERVAL: String(INTERVAL_MS),
        UDP_LISTENER_PORTS: '514',
      });
      let receiver: OtlpReceiver | undefined;
      try {
        const started = performance.now();
        const afterStart = logLines(service.stderr()).length;
        // The window, and enough failed pushes in it to show that each was kept quiet.
        const failed = await until(
          `${WINDOW_MS} ms and at least 5 failed exports`,
          async () => {
            const failures = valueOf(await scrape(service.baseUrl), FAILURES) ?? 0;
            return performance.now() - started >= WINDOW_MS && failures >= 5 ? failures : undefined;
          },
          () => service.stderr(),
          WINDOW_MS * 3,
          250,
        );
        const outage = logLines(service.stderr()).slice(afterStart);
        assert.equal(outage.length, 1, `${failed} failed exports logged as:\n${outage.join('\n')}`);
        assert.match(outage[0]!, /level=warn msg="OTLP export failed; the next interval tries again, and recovery is logged" endpoint=\S+ error=/);
        assert.match(outage[0]!, collector.reason);

        receiver = await collector.comeBack();
        const recovery = await until(
          'the recovery line',
          async () => logLines(service.stderr()).find((line) => line.includes('msg="OTLP export recovered"')),
          () => service.stderr(),
          15_000,
          100,
        );
        const failedExports = Number(/ failed_exports=(\d+)$/.exec(recovery)?.[1]);
        assert.match(recovery, /level=info /);
        assert.ok(failedExports >= failed, recovery);
        assert.equal(valueOf(await scrape(service.baseUrl), FAILURES), failedExports, 'the counter stays, and agrees with the line');
        assert.deepEqual(
          logLines(service.stderr()).slice(afterStart).map((line) => / level=(\w+) msg=("[^"]*"|\S+)/.exec(line)?.slice(1).join(' ')),
          ['warn "OTLP export failed; the next interval tries again, and recovery is logged"', 'info "OTLP export recovered"'],
        );
      } finally {
        assert.equal(await service.stop(), 0);
        await receiver?.close();
      }
    });
  }
});
