/**
 * Label safety: whatever string ends up in a label value, the page must still be one that real
 * Prometheus parsers read, with the value intact. checkLabelValues() pushes (label, value) pairs
 * through the service's own serializer (serializeExposition) and hands the page to promtool and
 * to python3-prometheus-client's strict parser.
 *
 * To check a new source of label values (process names from /proc/<pid>/comm, say), call it
 * with the attribute key the service uses and the strings a property generates.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { serializeExposition } from '../../src/telemetry/prometheus.js';
import { parseExposition } from './exposition.js';
import { ManualReader } from './metric-reader.js';

export const PROBE_METRIC = 'label_safety_probe';
const INDEX_LABEL = 'probe_index';

/** Debian's interpreter: the one with python3-prometheus-client (the PATH one lacks it). */
export const DEBIAN_PYTHON = '/usr/bin/python3';

const PYTHON_STRICT_PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
text = sys.stdin.buffer.read().decode('utf-8')
out = []
for family in text_string_to_metric_families(text):
    for sample in family.samples:
        out.append([sample.name, sample.labels])
print(json.dumps(out))
`;

export function pythonParserAvailable(): boolean {
  if (!existsSync(DEBIAN_PYTHON)) return false;
  try {
    execFileSync(DEBIAN_PYTHON, ['-c', 'import prometheus_client.parser'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The page the service would serve for one gauge with one series per pair. */
export async function exposeLabelValues(pairs: readonly (readonly [string, string])[]): Promise<string> {
  const reader = new ManualReader();
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'label-safety' }), readers: [reader] });
  const gauge = provider.getMeter('label-safety').createObservableGauge(PROBE_METRIC, { description: 'Label safety probe.' });
  gauge.addCallback((result) => {
    pairs.forEach(([label, value], index) => result.observe(index, { [label]: value, [INDEX_LABEL]: String(index) }));
  });
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  return serializeExposition(resourceMetrics);
}

export interface LabelSafetyTools {
  /** Path of promtool, or undefined to skip it. */
  readonly promtool: string | undefined;
  readonly python: boolean;
}

/**
 * Throws unless every parser reads the page and gives back every value: as sent, or with lone
 * UTF-16 surrogates replaced by U+FFFD, which is what writing the page as UTF-8 does to them.
 */
export async function checkLabelValues(pairs: readonly (readonly [string, string])[], tools: LabelSafetyTools): Promise<void> {
  const page = await exposeLabelValues(pairs);
  const bytes = Buffer.from(page, 'utf8');
  const expected = pairs.map(([label, value]) => [sanitizeLabelName(label), Buffer.from(value, 'utf8').toString('utf8')] as const);

  const ours = parseExposition(bytes.toString('utf8')).samples.filter((s) => s.name === PROBE_METRIC);
  compare('test/support/exposition.ts', ours.map((s) => s.labels), expected);

  if (tools.promtool !== undefined) promtoolLint(tools.promtool, page);
  if (tools.python) {
    const parsed = parseWithPrometheusClient(page);
    compare('prometheus_client', parsed.filter(([name]) => name === PROBE_METRIC).map(([, labels]) => labels), expected);
  }
}

/** Throws unless `promtool check metrics` reads the page and finds nothing to lint. */
export function promtoolLint(promtool: string, page: string): void {
  let lint: string;
  try {
    lint = execFileSync(promtool, ['check', 'metrics'], { input: Buffer.from(page, 'utf8'), encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`promtool check metrics refused the page: ${stdout ?? ''}${stderr ?? ''}\n${page}`);
  }
  if (lint.trim() !== '') throw new Error(`promtool check metrics complained: ${lint}\n${page}`);
}

/** Every sample of the page as [name, labels], read by python3-prometheus-client's strict parser; throws if it refuses the page. */
export function parseWithPrometheusClient(page: string): [string, Record<string, string>][] {
  try {
    return JSON.parse(execFileSync(DEBIAN_PYTHON, ['-c', PYTHON_STRICT_PARSE], { input: Buffer.from(page, 'utf8'), encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }));
  } catch (error) {
    throw new Error(`prometheus_client's parser refused the page: ${(error as { stderr?: string }).stderr ?? String(error)}\n${page}`);
  }
}

function compare(parser: string, got: readonly Readonly<Record<string, string>>[], expected: readonly (readonly [string, string])[]): void {
  const byIndex = new Map(got.map((labels) => [labels[INDEX_LABEL], labels]));
  expected.forEach(([label, value], index) => {
    const labels = byIndex.get(String(index));
    if (labels === undefined) throw new Error(`${parser}: series ${index} is missing`);
    if (labels[label] !== value) {
      throw new Error(`${parser}: label ${label} of series ${index} reads ${JSON.stringify(labels[label])}, sent ${JSON.stringify(value)}`);
    }
  });
}

/** What the OpenTelemetry serializer does to an attribute key. */
export function sanitizeLabelName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, '_');
}
