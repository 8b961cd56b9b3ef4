/**
 * What every way of installing the service must do, whatever it is (the package's command, the
 * single executable, the image's layout): answer on the command line, and serve a real listener.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { scrape, valueOf } from './exposition.js';
import { startService, type StartOptions } from './service.js';

const run = promisify(execFile);

export interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end with exactly this environment. */
export async function runCommand(command: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(command, [...args], { env, timeout: 15_000, ...(cwd === undefined ? {} : { cwd }) });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** `--version`'s text for this build running on this Node. */
export function expectedVersionText(packageVersion: string, nodeVersion: string): string {
  return `udp-listener-exporter ${packageVersion}\nnode ${nodeVersion}\nopentelemetry-js sdk 2.12.0\n`;
}

async function boundSocket(): Promise<Socket> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return socket;
}

/**
 * Starts the service as `options` say with a UDP listener the test holds and a port nobody
 * listens on, and checks the scrape tells them apart; then SIGTERM must end it with 0.
 */
export async function assertServesRealListener(options: StartOptions, env: Record<string, string> = {}): Promise<void> {
  const listener = await boundSocket();
  const released = await boundSocket();
  const closedPort = released.address().port;
  released.close();
  try {
    const openPort = listener.address().port;
    const service = await startService({ UDP_LISTENER_PORTS: `${openPort},${closedPort}`, ...env }, options);
    let exitCode: number | null;
    try {
      const page = await scrape(service.baseUrl);
      assert.equal(valueOf(page, 'udp_listener_up', { network_local_port: String(openPort) }), 1, service.stderr());
      assert.equal(valueOf(page, 'udp_listener_up', { network_local_port: String(closedPort) }), 0);
      // procfs would say the same: the netlink source must be what answered.
      if (env.UDP_LISTENER_SOURCE === 'netlink') assert.equal(valueOf(page, 'udp_listener_exporter_read_success', { file_path: 'netlink:sock_diag/udp' }), 1, service.stderr());
    } finally {
      exitCode = await service.stop();
    }
    assert.equal(exitCode, 0, `exit code after SIGTERM; stderr:\n${service.stderr()}`);
  } finally {
    listener.close();
  }
}
