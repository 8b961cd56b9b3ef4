/**
 * Runs the real service as a child process, the way a user starts it: dist/src/main.js by
 * default, or an installed copy, or a program of its own (the single executable).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { MAIN_JS } from './paths.js';

export interface ServiceProcess {
  readonly child: ChildProcess;
  /** e.g. http://127.0.0.1:41234; empty when the service serves no HTTP (OTLP only). */
  readonly baseUrl: string;
  /** Everything the service wrote to stderr so far. */
  stderr(): string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Variables the tests never want to inherit from whoever runs them. */
function baseEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('UDP_LISTENER_') && !name.startsWith('OTEL_') && name !== 'HOST_PROC') env[name] = value;
  }
  return env;
}

export interface StartOptions {
  /** Run through this command, e.g. setpriv to drop privileges. */
  readonly prefix?: readonly string[];
  /** Another copy of dist/src/main.js, e.g. laid out as an install or an image would. */
  readonly mainScript?: string;
  /** A program run as it is instead of node with a script: the single executable, or an installed command. */
  readonly executable?: string;
  /** The working directory (by default this process's). */
  readonly cwd?: string;
  readonly startupTimeoutMs?: number;
  /** Flags on node's command line before the script, e.g. V8 flags the benchmark compares. */
  readonly nodeArgs?: readonly string[];
  /**
   * --enable-source-maps, on by default so a test failure's stack points into src/. The benchmark
   * turns it off to run the service exactly as `npm start` does.
   */
  readonly sourceMaps?: boolean;
}

export async function startService(env: Record<string, string>, options: StartOptions = {}): Promise<ServiceProcess> {
  const startupTimeoutMs = options.startupTimeoutMs ?? 15_000;
  const program = options.executable !== undefined ? [options.executable] : [process.execPath, ...(options.sourceMaps === false ? [] : ['--enable-source-maps']), ...(options.nodeArgs ?? []), options.mainScript ?? MAIN_JS];
  const [command, ...args] = [...(options.prefix ?? []), ...program];
  const child = spawn(command!, args, {
    env: { ...baseEnvironment(), OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout!.resume();
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Do not leave a process behind that nobody will stop.
      child.kill('SIGKILL');
      reject(new Error(`service did not start within ${startupTimeoutMs} ms:\n${stderr}`));
    }, startupTimeoutMs);
    const check = (): void => {
      const match = /msg="?(serving metrics|started)"? (?:url=(\S+)\/metrics)?/.exec(stderr);
      if (match !== null) {
        clearTimeout(timer);
        resolve((match[2] ?? '').replace(/^"/, ''));
      }
    };
    child.stderr!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code} before serving:\n${stderr}`));
    });
  });
  return {
    child,
    baseUrl,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

export interface MainOutcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunningMain {
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Settles when the process has ended and its output is read. */
  readonly done: Promise<MainOutcome>;
}

export interface MainOptions {
  /** Killed after this long (default 30 s). */
  readonly timeoutMs?: number;
  /** Another copy of dist/src/main.js, e.g. laid out as an install would. */
  readonly mainScript?: string;
}

/**
 * Starts dist/src/main.js with these arguments, in the environment a user would have: the tests'
 * own UDP_LISTENER_*, OTEL_* and HOST_PROC removed, `env` added.
 */
export function startMain(args: readonly string[], env: Record<string, string> = {}, options: MainOptions = {}): RunningMain {
  const child = spawn(process.execPath, [options.mainScript ?? MAIN_JS, ...args], {
    env: { ...baseEnvironment(), OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  const done = once(child, 'close').then(([code, signal]) => {
    clearTimeout(timer);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null, stdout, stderr };
  });
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

/** Runs dist/src/main.js with these arguments to its end (see startMain). */
export function runMain(args: readonly string[], env: Record<string, string> = {}, options: MainOptions = {}): Promise<MainOutcome> {
  return startMain(args, env, options).done;
}

/** Runs the service expecting it to refuse to start; resolves with its exit code and stderr. */
export async function runToExit(env: Record<string, string>, options: MainOptions = {}): Promise<{ code: number | null; stderr: string }> {
  const { code, stderr } = await runMain([], env, { timeoutMs: 15_000, ...options });
  return { code, stderr };
}
