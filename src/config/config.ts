/**
 * The service's whole configuration, read from the environment once at start-up and validated
 * there: every later module receives this typed object and nothing else reads process.env.
 */
import { statSync } from 'node:fs';
import { ConfigError } from './errors.js';
import { readExportConfig, readResourceConfig, type ExportConfig, type ResourceConfig } from './otel.js';
import { parsePortList, type WatchedPort } from './ports.js';
import { errorCode, parseInteger } from './values.js';
import { checkVariableNames, type VariableWarning } from './variable-names.js';
import { DEFAULTS, VARIABLE_NAMES } from './variables.js';
import { loadWebConfig, WEB_CONFIG_VARIABLE, type WebConfig } from './web-config.js';

export { DEFAULTS } from './variables.js';

export type LogLevel = 'none' | 'error' | 'warn' | 'info' | 'debug';

/** `host`: the host's network namespace only. `all`: every network namespace on the host. */
export type NetnsMode = 'host' | 'all';

/** Where socket tables come from: procfs text files, or a netlink sock_diag dump. */
export type SocketSourceKind = 'procfs' | 'netlink';

export interface PrometheusEndpointConfig {
  /** Interface to listen on; undefined means every interface. */
  readonly host: string | undefined;
  /** 0 asks the kernel for a free port (tests use it); the chosen one is logged. */
  readonly port: number;
}

export interface Config {
  /** Where procfs is mounted (HOST_PROC): /proc, or e.g. /host/proc in a container. */
  readonly procRoot: string;
  /** Ports to watch, sorted; empty means discovery mode. */
  readonly ports: readonly WatchedPort[];
  /** In discovery mode, report at most this many ports (the lowest numbers). */
  readonly discoveryLimit: number;
  /** A collection answers with what it has after this long, whatever procfs does. */
  readonly collectionTimeoutMs: number;
  /** Find the processes holding each listener (walks /proc/<pid>/fd). */
  readonly owners: boolean;
  readonly netns: NetnsMode;
  readonly socketSource: SocketSourceKind;
  /** Where the Prometheus endpoint listens, when `prometheus` is among the exporters. */
  readonly prometheus: PrometheusEndpointConfig;
  readonly export: ExportConfig;
  readonly resource: ResourceConfig;
  /** TLS, basic auth and headers of the HTTP endpoint; undefined: plain HTTP, no authentication. */
  readonly web: WebConfig | undefined;
  readonly logLevel: LogLevel;
  /**
   * Names in the environment that resemble one of the service's (another case, a typo) and are
   * ignored: start-up logs one warning each. Loading stays free of side effects.
   */
  readonly warnings: readonly VariableWarning[];
}

/** Every variable the service reads (the table of variables.ts). */
export const CONFIG_VARIABLES: readonly string[] = VARIABLE_NAMES;

/** What a command line gave instead of a variable: `check syslog=514` names its ports itself. */
export interface GivenSettings {
  /** Replace UDP_LISTENER_PORTS, which then is not even parsed. */
  readonly ports?: readonly WatchedPort[] | undefined;
}

/**
 * The part of the configuration that reading the sockets needs, all that `check` reads: it serves
 * nothing and exports nothing, so a web configuration file it may not read, or a bad
 * OTEL_EXPORTER_* value meant for the service, does not make it UNKNOWN.
 */
export type CollectionConfig = Pick<Config, 'procRoot' | 'ports' | 'discoveryLimit' | 'collectionTimeoutMs' | 'owners' | 'netns' | 'socketSource' | 'logLevel'>;

/**
 * Reads `env`, which is the process's environment unless a caller passes its own (tests, the
 * benchmark); this is the one place that reads process.env.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, given: GivenSettings = {}): Config {
  const read = variableReader(env);
  const warnings = checkVariableNames(env);
  return {
    ...readCollectionConfig(read, given),
    prometheus: {
      host: read('OTEL_EXPORTER_PROMETHEUS_HOST'),
      port: parseInteger('OTEL_EXPORTER_PROMETHEUS_PORT', read('OTEL_EXPORTER_PROMETHEUS_PORT'), DEFAULTS.prometheusPort, 0, 65535),
    },
    export: readExportConfig(read),
    resource: readResourceConfig(read),
    web: webConfig(read(WEB_CONFIG_VARIABLE)),
    warnings,
  };
}

/** The collection's part alone (see CollectionConfig); an unknown UDP_LISTENER_* name is refused as by loadConfig. */
export function loadCollectionConfig(env: NodeJS.ProcessEnv = process.env, given: GivenSettings = {}): CollectionConfig {
  checkVariableNames(env);
  return readCollectionConfig(variableReader(env), given);
}

type VariableReader = (name: string) => string | undefined;

function variableReader(env: NodeJS.ProcessEnv): VariableReader {
  return (name) => {
    if (!CONFIG_VARIABLES.includes(name)) throw new Error(`${name} is read but missing from the table of variables.ts`);
    // The OpenTelemetry convention, applied to every variable: empty means unset.
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
}

function readCollectionConfig(read: VariableReader, given: GivenSettings): CollectionConfig {
  const procRoot = read('HOST_PROC') ?? DEFAULTS.procRoot;
  requireDirectory('HOST_PROC', procRoot);
  return {
    procRoot,
    ports: given.ports ?? parsePortList(read('UDP_LISTENER_PORTS') ?? '', 'UDP_LISTENER_PORTS'),
    discoveryLimit: parseInteger('UDP_LISTENER_DISCOVERY_LIMIT', read('UDP_LISTENER_DISCOVERY_LIMIT'), DEFAULTS.discoveryLimit, 1, 65535),
    collectionTimeoutMs: parseDuration('UDP_LISTENER_COLLECTION_TIMEOUT', read('UDP_LISTENER_COLLECTION_TIMEOUT'), DEFAULTS.collectionTimeoutMs, 10, 60_000),
    owners: parseBoolean('UDP_LISTENER_OWNERS', read('UDP_LISTENER_OWNERS'), DEFAULTS.owners),
    netns: parseChoice('UDP_LISTENER_NETNS', read('UDP_LISTENER_NETNS'), ['host', 'all'] as const, DEFAULTS.netns),
    socketSource: parseChoice('UDP_LISTENER_SOURCE', read('UDP_LISTENER_SOURCE'), ['procfs', 'netlink'] as const, DEFAULTS.socketSource),
    logLevel: parseLogLevel(read('OTEL_LOG_LEVEL')),
  };
}

function webConfig(file: string | undefined): WebConfig | undefined {
  return file === undefined ? undefined : loadWebConfig(WEB_CONFIG_VARIABLE, file);
}

function requireDirectory(variable: string, path: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (error) {
    throw new ConfigError(variable, path, `cannot be read: ${errorCode(error)}`);
  }
  if (!isDirectory) throw new ConfigError(variable, path, 'is not a directory');
}

function parseBoolean(variable: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  const lower = value.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  throw new ConfigError(variable, value, 'expected true or false');
}

function parseChoice<T extends string>(variable: string, value: string | undefined, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  const lower = value.toLowerCase();
  const choice = choices.find((c) => c === lower);
  if (choice === undefined) throw new ConfigError(variable, value, `expected one of ${choices.join(', ')}`);
  return choice;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000 };

/** Durations as Prometheus writes them: `250ms`, `5s`, `1m`. */
export function parseDuration(variable: string, value: string | undefined, fallbackMs: number, minMs: number, maxMs: number): number {
  if (value === undefined) return fallbackMs;
  const match = /^(\d+)(ms|s|m)$/.exec(value);
  const ms = match === null ? Number.NaN : Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
  if (!(ms >= minMs && ms <= maxMs)) {
    throw new ConfigError(variable, value, `expected a duration such as 500ms, 5s or 1m, from ${minMs} ms to ${maxMs} ms`);
  }
  return ms;
}

const LOG_LEVELS: Readonly<Record<string, LogLevel>> = {
  none: 'none',
  error: 'error',
  warn: 'warn',
  info: 'info',
  debug: 'debug',
  // The OpenTelemetry names beyond debug: both mean everything.
  verbose: 'debug',
  all: 'debug',
};

function parseLogLevel(value: string | undefined): LogLevel {
  if (value === undefined) return DEFAULTS.logLevel;
  const level = LOG_LEVELS[value.toLowerCase()];
  if (level === undefined) {
    throw new ConfigError('OTEL_LOG_LEVEL', value, `expected one of ${Object.keys(LOG_LEVELS).join(', ')}`);
  }
  return level;
}
