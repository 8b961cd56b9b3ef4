/**
 * The command line. The environment is the one way to configure the service (see
 * config/variables.ts); the command line only says what to do: serve (the default), or print
 * the usage or the version. Parsing is pure: main.ts prints and exits.
 */
import { parseArgs } from 'node:util';
import { SDK_INFO } from '@opentelemetry/core';
import { VARIABLES } from './config/variables.js';
import { METRICS } from './telemetry/metrics.js';

export const PROGRAM = 'udp-listener-exporter';

export type Command = { readonly kind: 'serve' } | { readonly kind: 'help' } | { readonly kind: 'version' };

/** A command line that cannot be used; main prints the message and exits with 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

export function parseCommandLine(args: readonly string[]): Command {
  const { tokens } = parseArgs({ args: [...args], options: OPTIONS, allowPositionals: true, strict: false, tokens: true });
  let kind: Command['kind'] = 'serve';
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      if (token.value === 'serve' && token.index === 0) continue;
      throw new UsageError(`unexpected argument ${JSON.stringify(token.value)}; the service is configured by environment variables (see --help)`);
    }
    if (!Object.hasOwn(OPTIONS, token.name)) throw new UsageError(`unknown option ${token.rawName} (see --help)`);
    if (token.value !== undefined) throw new UsageError(`option ${token.rawName} takes no value`);
    // --help wins over --version, whatever the order.
    if (token.name === 'help' || kind === 'serve') kind = token.name as 'help' | 'version';
  }
  return { kind };
}

/** `--version`: this service's, and the runtime and SDK it runs on. */
export function versionText(version: string): string {
  return `${PROGRAM} ${version}\nnode ${process.versions.node}\nopentelemetry-js sdk ${SDK_INFO['telemetry.sdk.version']}\n`;
}

/** `--help`: usage, every variable with its default and one line, and every metric. */
export function usageText(): string {
  const lines = [
    `Usage: ${PROGRAM} [serve]      serve /metrics (and push OTLP when configured)`,
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

/** Markdown of the tables as terminal text: no backticks, links as their text. */
function plainText(markdown: string): string {
  return markdown.replace(/\[([^\]]+)\]\([^)]*\)/g, '$1').replace(/`/g, '');
}
