/**
 * A real Prometheus server (the Debian package's binary) for a test: started on 127.0.0.1 with a
 * free port, a temporary TSDB and the given configuration, and asked questions through its HTTP API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** One element of an instant vector, as /api/v1/query returns it. */
export interface VectorSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: readonly [number, string];
}

export interface PrometheusServer {
  readonly baseUrl: string;
  /** The `data` of a successful GET /api/v1/<endpoint>; throws on any other answer. */
  api<T>(endpoint: string, params?: Readonly<Record<string, string>>): Promise<T>;
  /** An instant query that must return a vector. */
  query(expr: string): Promise<VectorSample[]>;
  /** Everything Prometheus logged so far, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** A TCP port on 127.0.0.1 that was free a moment ago, for a server the test starts. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}

/**
 * Polls `probe` every `intervalMs` until it returns something other than undefined; an error it
 * throws ends the wait at once. On timeout the error names what was awaited and what the test
 * last saw (`lastSeen`).
 */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, lastSeen: () => string = () => '', timeoutMs = 20_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await probe();
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${lastSeen()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export async function startPrometheus(binary: string, configText: string): Promise<PrometheusServer> {
  const directory = mkdtempSync(path.join(tmpdir(), 'udp-listener-prometheus-'));
  const configFile = path.join(directory, 'prometheus.yml');
  writeFileSync(configFile, configText);
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(directory, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(directory, { recursive: true, force: true });
  };

  const api = async <T>(endpoint: string, params: Readonly<Record<string, string>> = {}): Promise<T> => {
    const response = await fetch(`${baseUrl}/api/v1/${endpoint}?${new URLSearchParams(params)}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (response.status !== 200 || body.status !== 'success') throw new Error(`GET /api/v1/${endpoint}: ${response.status} ${body.error ?? ''}`);
    return body.data;
  };

  try {
    await until(
      'Prometheus to be ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${log}`);
        const status = await fetch(`${baseUrl}/-/ready`).then(
          (response) => response.status,
          () => 0, // not listening yet
        );
        return status === 200 ? true : undefined;
      },
      () => log,
    );
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    baseUrl,
    api,
    async query(expr) {
      const data = await api<{ resultType: string; result: VectorSample[] }>('query', { query: expr });
      if (data.resultType !== 'vector') throw new Error(`${expr}: a ${data.resultType}, not a vector`);
      return data.result;
    },
    log: () => log,
    stop,
  };
}
