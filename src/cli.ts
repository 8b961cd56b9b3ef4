/**
 * The command line. The environment is the one way to configure the service (see
 * config/variables.ts); the command line only says what to do: serve (the default), check the
 * listeners once (`check`, whose PORTSPEC arguments may stand in for UDP_LISTENER_PORTS), or
 * print the usage or the version. Parsing is pure: main.ts prints and exits.
 */
import { parseArgs } from 'node:util';
import { parseDuration } from './config/config.js';
import { ConfigError } from './config/errors.js';
import { parsePortList, type WatchedPort } from './config/ports.js';
import { parseInteger } from './config/values.js';
import { VARIABLES } from './config/variables.js';
import { METRICS } from './telemetry/metrics.js';

export const PROGRAM = 'udp-listener-exporter';

export type Command =
  | { readonly kind: 'serve' }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'check'; readonly options: CheckOptions }
  | { readonly kind: 'check-help' };

/** `check`: what to check and how; the rest of its configuration comes from the environment. */
export interface CheckOptions {
  /** From the PORTSPEC arguments; undefined: the ports of UDP_LISTENER_PORTS. */
  readonly ports: readonly WatchedPort[] | undefined;
  /** --window: read twice this far apart and warn about drops in between. */
  readonly windowMs: number | undefined;
  /** --wait: read again until every port has a listener, for at most this long. */
  readonly waitMs: number | undefined;
  /** --queue-warning / --queue-critical: a port's receive queue above this many bytes. */
  readonly queueWarningBytes: number | undefined;
  readonly queueCriticalBytes: number | undefined;
  readonly json: boolean;
}

/**
 * A command line that cannot be used. main prints the message and exits with 2 for the
 * service, or answers UNKNOWN (3) for `check`, as a monitoring plugin must.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly command: 'serve' | 'check';

  constructor(command: 'serve' | 'check', message: string) {
    super(message);
    this.command = command;
  }
}

type OptionTable = Readonly<Record<string, { readonly type: 'boolean' | 'string'; readonly short?: string }>>;

const SERVE_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const satisfies OptionTable;

const CHECK_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  window: { type: 'string' },
  wait: { type: 'string' },
  'queue-warning': { type: 'string' },
  'queue-critical': { type: 'string' },
} as const satisfies OptionTable;

/** --window and --wait: long enough to mean something, short enough for a check. */
const CHECK_DURATION_MS = { min: 100, max: 10 * 60_000 } as const;
/** --wait reads the tables again this often while a port has no listener. */
export const CHECK_WAIT_POLL_MS = 500;

export function parseCommandLine(args: readonly string[]): Command {
  if (args[0] === 'check') return parseCheck(args.slice(1));
  const { options, positionals } = readTokens('serve', args[0] === 'serve' ? args.slice(1) : args, SERVE_OPTIONS);
  if (positionals.length > 0) {
    throw new UsageError('serve', `unexpected argument ${JSON.stringify(positionals[0])}; the service is configured by environment variables (see --help)`);
  }
  // --help wins over --version, whatever the order.
  if (options.has('help')) return { kind: 'help' };
  return { kind: options.has('version') ? 'version' : 'serve' };
}

function parseCheck(args: readonly string[]): Command {
  const { options, positionals } = readTokens('check', args, CHECK_OPTIONS);
  if (options.has('help')) return { kind: 'check-help' };
  const usage = <T>(parse: () => T): T => {
    try {
      return parse();
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError('check', error.message);
      throw error;
    }
  };
  const duration = (name: string): number | undefined => {
    const value = options.get(name);
    return value === undefined ? undefined : usage(() => parseDuration(`--${name}`, value, 0, CHECK_DURATION_MS.min, CHECK_DURATION_MS.max));
  };
  const bytes = (name: string): number | undefined => {
    const value = options.get(name);
    return value === undefined ? undefined : usage(() => parseInteger(`--${name}`, value, 0, 0, Number.MAX_SAFE_INTEGER, 'a number of bytes'));
  };
  const queueWarningBytes = bytes('queue-warning');
  const queueCriticalBytes = bytes('queue-critical');
  if (queueWarningBytes !== undefined && queueCriticalBytes !== undefined && queueWarningBytes > queueCriticalBytes) {
    throw new UsageError('check', `--queue-warning ${queueWarningBytes} is above --queue-critical ${queueCriticalBytes}`);
  }
  // Each argument may itself be a comma list, as in UDP_LISTENER_PORTS; one parse of them all
  // finds a port or a name given twice across arguments too.
  const ports = positionals.length === 0 ? undefined : usage(() => parsePortList(positionals.join(','), 'PORTSPEC'));
  return {
    kind: 'check',
    options: { ports, windowMs: duration('window'), waitMs: duration('wait'), queueWarningBytes, queueCriticalBytes, json: options.has('json') },
  };
}

/**
 * The options (by name: the value, or '' for a flag) and positionals of a command line,
 * refusing unknown options, a value given to a flag, an option without its value, and an
 * option given twice.
 */
function readTokens(command: 'serve' | 'check', args: readonly string[], table: OptionTable): { options: Map<string, string>; positionals: string[] } {
  const help = command === 'check' ? `${PROGRAM} check --help` : '--help';
  const { tokens } = parseArgs({ args: [...args], options: table, allowPositionals: true, strict: false, tokens: true });
  const options = new Map<string, string>();
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    const spec = Object.hasOwn(table, token.name) ? table[token.name] : undefined;
    if (spec === undefined) throw new UsageError(command, `unknown option ${token.rawName} (see ${help})`);
    if (spec.type === 'boolean' && token.value !== undefined) throw new UsageError(command, `option ${token.rawName} takes no value`);
    if (spec.type === 'string' && token.value === undefined) throw new UsageError(command, `option ${token.rawName} needs a value (see ${help})`);
    if (spec.type === 'string' && options.has(token.name)) throw new UsageError(command, `option ${token.rawName} is given twice`);
    options.set(token.name, token.value ?? '');
  }
  return { options, positionals };
}

/** `--version`: this service's, and the runtime and SDK it runs on. */
export function versionText(version: string, sdkVersion: string): string {
  return `${PROGRAM} ${version}\nnode ${process.versions.node}\nopentelemetry-js sdk ${sdkVersion}\n`;
}

/** `--help`: usage, every variable with its default and one line, and every metric. */
export function usageText(): string {
  const lines = [
    `Usage: ${PROGRAM} [serve]      serve /metrics (and push OTLP when configured)`,
    `       ${PROGRAM} check [options] [PORTSPEC...]`,
    '                                   check the listeners once, answer as a monitoring plugin',
    `                                   (see ${PROGRAM} check --help)`,
    `       ${PROGRAM} --help | -h  print this text`,
    `       ${PROGRAM} --version    print the version`,
    '',
    'Tells, at every scrape, whether each UDP port has a live listener, how full its receive',
    'queue is, how many datagrams it drops and which process owns it, read from procfs.',
    '',
    'Configuration comes from the environment only; an empty variable counts as unset.',
  ];
  for (const [group, title] of [
    ['exporter', 'The exporter'],
    ['otel', 'Where metrics go (standard OpenTelemetry variables)'],
    ['otlp', 'The OTLP push (standard OpenTelemetry variables)'],
  ] as const) {
    lines.push('', `${title}:`);
    for (const variable of VARIABLES.filter((v) => v.group === group)) {
      lines.push(`  ${variable.name}  (default: ${plainText(variable.default)})`, `      ${plainText(variable.summary)}`);
    }
  }
  lines.push('', 'Metrics served:');
  const width = Math.max(...METRICS.map((metric) => metric.prometheusName.length));
  for (const metric of METRICS) lines.push(`  ${metric.prometheusName.padEnd(width)}  ${metric.kind}`);
  lines.push('', 'Exit codes: 0 stopped cleanly, 1 could not start, 2 bad configuration or command line.', '');
  return lines.join('\n');
}

/** `check --help`. */
export function checkUsageText(): string {
  return `Usage: ${PROGRAM} check [options] [PORTSPEC...]

Reads the socket tables once, as one scrape would, and answers as a monitoring plugin
(Nagios, Icinga, Zabbix, Kubernetes exec probes, systemd ExecStartPost=).

PORTSPEC: [name=]port or [name=]low-high, as in UDP_LISTENER_PORTS; several arguments or a
comma list, e.g.  filebeat=6984 syslog=514 9000-9010
Without PORTSPEC the ports of UDP_LISTENER_PORTS are checked. Everything else comes from the
environment as for the service: HOST_PROC, UDP_LISTENER_NETNS, UDP_LISTENER_OWNERS,
UDP_LISTENER_COLLECTION_TIMEOUT.

Options:
  --window DURATION        read twice this far apart; WARNING if a listener dropped datagrams
                           in between (compared socket by socket)
  --queue-warning BYTES    WARNING if a port's receive queue holds more than BYTES
  --queue-critical BYTES   CRITICAL if it holds more than BYTES
  --wait DURATION          read again (every ${CHECK_WAIT_POLL_MS} ms) until every port has a listener,
                           for at most DURATION: for ExecStartPost= right after a start
  --json                   print one JSON object instead of plugin output
  --help, -h               print this text
Durations: 500ms, 10s, 1m (${CHECK_DURATION_MS.min} ms to ${CHECK_DURATION_MS.max / 60_000} minutes).

Output: a status line "STATUS - summary | perfdata" naming each failing port, then one line
per port (sockets, receive queue, drops, owners), then any read errors.

Exit codes: 0 OK: every port has a listener, within the thresholds
            1 WARNING: drops within --window, or a queue above --queue-warning
            2 CRITICAL: a port has no listener, or a queue above --queue-critical
            3 UNKNOWN: bad arguments or environment, or the socket tables could not be read
`;
}

/** Markdown of the tables as terminal text: no backticks, links as their text. */
function plainText(markdown: string): string {
  return markdown.replace(/\[([^\]]+)\]\([^)]*\)/g, '$1').replace(/`/g, '');
}
