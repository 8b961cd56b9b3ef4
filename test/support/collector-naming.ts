/**
 * The OpenTelemetry Collector's `prometheus` exporter naming, ported from prometheus/otlptranslator
 * v1 (metric_namer.go, unit_namer.go, label_namer.go; the code the Collector uses since mid-2025),
 * for the default translation strategy UnderscoreEscapingWithSuffixes. Only the escaping-with-
 * suffixes path is ported: it is what otel/collector.yaml configures.
 *
 * - The name is split into tokens on every character outside [a-zA-Z0-9:].
 * - The main unit's word (By -> bytes, s -> seconds, ...) is appended unless some token already
 *   equals it; units in {braces} add nothing; X/Y adds per_Y.
 * - Monotonic sums lose every `total` token and get one at the end; gauges of unit `1` get `ratio`.
 * - Label keys: every character outside [a-zA-Z0-9] becomes `_`, runs collapse, a leading digit
 *   gets `key_`.
 */

const UNIT_WORDS: Readonly<Record<string, string>> = {
  d: 'days', h: 'hours', min: 'minutes', s: 'seconds', ms: 'milliseconds', us: 'microseconds', ns: 'nanoseconds',
  By: 'bytes', KiBy: 'kibibytes', MiBy: 'mebibytes', GiBy: 'gibibytes', TiBy: 'tibibytes',
  KBy: 'kilobytes', MBy: 'megabytes', GBy: 'gigabytes', TBy: 'terabytes',
  m: 'meters', V: 'volts', A: 'amperes', J: 'joules', W: 'watts', g: 'grams', Cel: 'celsius', Hz: 'hertz', '1': '', '%': 'percent',
};
const PER_UNIT_WORDS: Readonly<Record<string, string>> = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', mo: 'month', y: 'year' };

export type CollectorMetricType = 'gauge' | 'counter' | 'nonmonotonic_sum';

const tokens = (text: string): string[] => text.split(/[^a-zA-Z0-9:]+/).filter((t) => t !== '');
const cleanUnit = (unit: string): string => unit.replace(/[^a-zA-Z0-9:]/g, '_').replace(/_+/g, '_').replace(/^_/, '');

function unitSuffixes(unit: string): [string, string] {
  const [mainPart = '', perPart] = unit.split(/\/(.*)/s);
  const main = mainPart.trim();
  let mainWord = main !== '' && !/[{}]/.test(main) ? (UNIT_WORDS[main] ?? main) : '';
  let perWord = '';
  if (perPart !== undefined && perPart !== '') {
    const per = perPart.trim();
    perWord = per !== '' && !/[{}]/.test(per) ? (PER_UNIT_WORDS[per] ?? per) : '';
    if (perWord !== '') perWord = `per_${perWord}`;
  }
  mainWord = cleanUnit(mainWord);
  return [mainWord, cleanUnit(perWord)];
}

export function collectorMetricName(name: string, unit: string, type: CollectorMetricType): string {
  let parts = tokens(name);
  let [main, per] = unitSuffixes(unit);
  if (parts.includes(main)) main = '';
  if (per === 'per_') per = '';
  else {
    per = per.replace(/_$/, '');
    if (parts.includes(per)) per = '';
  }
  if (per !== '') main = main.replace(/_$/, '');
  if (main !== '') parts.push(main);
  if (per !== '') parts.push(per);
  if (type === 'counter') parts = [...parts.filter((t) => t !== 'total'), 'total'];
  if (unit === '1' && type === 'gauge') parts = [...parts.filter((t) => t !== 'ratio'), 'ratio'];
  const joined = parts.join('_');
  return /^\d/.test(joined) ? `_${joined}` : joined;
}

export function collectorLabelName(key: string): string {
  const reserved = key.length >= 4 && key.startsWith('__') && key.endsWith('__');
  const inner = reserved ? key.slice(2, -2) : key;
  let name = inner.replace(/[^a-zA-Z0-9]+/g, '_');
  if (reserved) name = `__${name}__`;
  return /^\d/.test(name) ? `key_${name}` : name;
}
