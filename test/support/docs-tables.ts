/**
 * The README's generated tables, rendered from the tables in the code: the variables
 * (src/config/variables.ts) and the metrics (src/telemetry/metrics.ts). A table sits between
 * `<!-- generated: NAME -->` and `<!-- end generated -->` in a Markdown file; test/docs.test.ts
 * checks that it is exactly what these functions render, and rewrites it with UPDATE_GOLDEN=1.
 */
import { VARIABLES, type VariableSpec } from '../../src/config/variables.js';
import { METRICS } from '../../src/telemetry/metrics.js';

const code = (text: string): string => (text === '' ? '' : `\`${text}\``);
/** Descriptions are plain text (they are HELP lines too): a `<pid>` in one must not become an HTML tag. */
const markdownText = (text: string): string => text.replace(/</g, '&lt;').replace(/>/g, '&gt;');
const sentence = (...parts: (string | undefined)[]): string => parts.filter((part) => part !== undefined && part !== '').join(' ');

export function variablesTable(group: VariableSpec['group']): string {
  const rows = VARIABLES.filter((variable) => variable.group === group).map(
    (variable) => `| ${code(variable.name)} | ${variable.default} | ${variable.example} | ${sentence(variable.summary, variable.details)} |`,
  );
  return ['| Variable | Default | Example | Meaning |', '|---|---|---|---|', ...rows].join('\n');
}

export function metricsTable(): string {
  const rows = METRICS.map(
    (metric) =>
      `| ${code(metric.prometheusName)} | ${code(metric.name)} | ${metric.kind} | ${code(metric.unit)} | ${metric.labels} | ${sentence(markdownText(metric.description), metric.readmeNote)} |`,
  );
  const targetInfo = '| `target_info` | (resource) | gauge | | resource attributes | `service_name`, `service_version`, `host_name`, ..., `OTEL_RESOURCE_ATTRIBUTES`. |';
  return ['| Prometheus name | OpenTelemetry instrument | Type | Unit | Labels | Meaning |', '|---|---|---|---|---|---|', ...rows, targetInfo].join('\n');
}

/** Every generated table by its marker name. */
export const GENERATED_TABLES: Readonly<Record<string, () => string>> = {
  'variables exporter': () => variablesTable('exporter'),
  'variables otel': () => variablesTable('otel'),
  'variables otlp': () => variablesTable('otlp'),
  metrics: metricsTable,
};

const BLOCK = /<!-- generated: ([a-z ]+) -->\n([\s\S]*?)\n?<!-- end generated -->/g;

/** The generated blocks of a Markdown text: marker name, and what the block holds now. */
export function generatedBlocks(markdown: string): { name: string; content: string }[] {
  return [...markdown.matchAll(BLOCK)].map((match) => ({ name: match[1]!, content: match[2]! }));
}

/** The text with every generated block rendered afresh. */
export function regenerate(markdown: string): string {
  return markdown.replace(BLOCK, (whole, name: string) => {
    const render = GENERATED_TABLES[name];
    return render === undefined ? whole : `<!-- generated: ${name} -->\n${render()}\n<!-- end generated -->`;
  });
}
