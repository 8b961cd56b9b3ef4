/**
 * Just enough PromQL reading for tests: the metric names an expression selects, and the
 * queries a Grafana dashboard and a Prometheus rule file hold.
 */

/** Words that are PromQL syntax, not metric names, where they stand without a following `(`. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'atan2']);

/**
 * Metric names selected by a PromQL expression. Grafana variables ($name, ${name}) are dropped,
 * then strings, label matchers `{...}`, ranges `[...]` and the label lists of by/without/on/
 * ignoring/group_left/group_right; of the identifiers left, those followed by `(` are functions
 * or aggregations and the rest are metric names.
 */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/\$\{\w+(?::\w+)?\}|\$\w+/g, '')
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ');
  const names = new Set<string>();
  for (const match of bare.matchAll(/(?<![\w.:])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    if (match[2] !== undefined || KEYWORDS.has(match[1]!.toLowerCase())) continue;
    names.add(match[1]!);
  }
  return [...names];
}

/** A query found in a file, with where it was found, for failure messages. */
export interface FoundQuery {
  readonly where: string;
  readonly expr: string;
}

interface GrafanaPanel {
  readonly id?: number;
  readonly title?: string;
  readonly type?: string;
  readonly targets?: readonly { readonly refId?: string; readonly expr?: string }[];
  readonly panels?: readonly GrafanaPanel[];
}

export interface GrafanaDashboard {
  readonly panels?: readonly GrafanaPanel[];
  readonly annotations?: { readonly list?: readonly { readonly name?: string; readonly expr?: string }[] };
  readonly templating?: { readonly list?: readonly { readonly name?: string; readonly type?: string; readonly query?: unknown; readonly definition?: string; readonly datasource?: unknown }[] };
}

/** Every panel, rows' nested panels included. */
export function allPanels(dashboard: GrafanaDashboard): GrafanaPanel[] {
  return (dashboard.panels ?? []).flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

/**
 * Every PromQL query of a dashboard: panel targets, annotation queries, and the selector of
 * each query variable's label_values(selector, label).
 */
export function dashboardQueries(dashboard: GrafanaDashboard): FoundQuery[] {
  const found: FoundQuery[] = [];
  for (const panel of allPanels(dashboard)) {
    for (const target of panel.targets ?? []) {
      if (target.expr !== undefined) found.push({ where: `panel "${panel.title}" query ${target.refId}`, expr: target.expr });
    }
  }
  for (const annotation of dashboard.annotations?.list ?? []) {
    if (annotation.expr !== undefined) found.push({ where: `annotation "${annotation.name}"`, expr: annotation.expr });
  }
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type !== 'query') continue;
    const query = typeof variable.query === 'string' ? variable.query : (variable.query as { query?: string } | undefined)?.query ?? '';
    for (const text of [query, variable.definition ?? '']) {
      const labelValues = /^label_values\((.*),\s*\w+\)$/.exec(text.trim());
      found.push({ where: `variable ${variable.name}`, expr: labelValues === null ? text : labelValues[1]! });
    }
  }
  return found;
}

/**
 * The `expr` of every rule in a Prometheus rule file, single-line or a `|` block. The file is
 * YAML; this reads only the shape rule files have, and fails on an expr it cannot read.
 */
export function ruleQueries(text: string): FoundQuery[] {
  const lines = text.split('\n');
  const found: FoundQuery[] = [];
  for (const [index, line] of lines.entries()) {
    const match = /^(\s*)(?:- )?expr:\s*(.*)$/.exec(line);
    if (match === null) continue;
    const [, indent, value] = match;
    let expr = value!;
    if (/^[|>][-+]?$/.test(expr)) {
      const block: string[] = [];
      for (const next of lines.slice(index + 1)) {
        if (next.trim() !== '' && next.search(/\S/) <= indent!.length) break;
        block.push(next.trim());
      }
      expr = block.join(' ').trim();
    } else if (/^'.*'$/.test(expr)) {
      expr = expr.slice(1, -1).replaceAll("''", "'");
    } else if (/^".*"$/.test(expr)) {
      expr = JSON.parse(expr) as string;
    }
    if (expr === '') throw new Error(`line ${index + 1}: cannot read the expr`);
    found.push({ where: `line ${index + 1}`, expr });
  }
  return found;
}
