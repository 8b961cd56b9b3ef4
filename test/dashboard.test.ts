/**
 * otel/grafana/dashboard.json is a dashboard Grafana can import against any Prometheus data
 * source, and it and otel/prometheus/rules.yml query only metrics the service really exports.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { METRICS } from '../src/telemetry/metrics.js';
import { REPO_ROOT } from './support/paths.js';
import { allPanels, dashboardQueries, metricNames, ruleQueries, type FoundQuery, type GrafanaDashboard } from './support/promql.js';

const DASHBOARD_TEXT = readFileSync(`${REPO_ROOT}otel/grafana/dashboard.json`, 'utf8');
const RULES_TEXT = readFileSync(`${REPO_ROOT}otel/prometheus/rules.yml`, 'utf8');
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/**
 * What a query may select: the service's instruments by their Prometheus names, Prometheus's
 * own `up` of each target, the `target_info` the exporter adds, and the ALERTS series
 * Prometheus writes for alerting rules.
 */
const EXPORTED = new Set([...METRICS.map((spec) => spec.prometheusName), 'up', 'target_info', 'ALERTS', 'ALERTS_FOR_STATE']);
/** Series the shipped recording rules write: what the alerts built on them select. */
const RECORDED = new Set([...RULES_TEXT.matchAll(/^ +- record: ([\w:]+)$/gm)].map((m) => m[1]!));

/** Metric names the queries use that nothing exports, each with where it is used. */
function unknownNames(queries: readonly FoundQuery[]): Record<string, string[]> {
  const unknown: Record<string, string[]> = {};
  for (const query of queries) {
    for (const name of metricNames(query.expr)) {
      if (!EXPORTED.has(name) && !RECORDED.has(name)) (unknown[name] ??= []).push(query.where);
    }
  }
  return unknown;
}

describe('metricNames', () => {
  for (const [expr, names] of [
    ['udp_listener_up == 0', ['udp_listener_up']],
    ['up{job="udp-listener-exporter"} == 0 or absent(up{job="udp-listener-exporter"})', ['up']],
    ['increase(udp_listener_drops_total[5m]) > 0 unless resets(udp_listener_drops_total[5m]) > 0', ['udp_listener_drops_total']],
    ['rate(a_total{instance=~"$instance", x="b_total"}[$__rate_interval])', ['a_total']],
    ['sum by (instance, file_path) (rate(c_total[5m] offset 1h)) > 1e3', ['c_total']],
    ['x * on (instance, port) group_left (name) y or on (instance) z', ['x', 'y', 'z']],
    ['ALERTS{alertname=~"Udp.*", alertstate="firing"}', ['ALERTS']],
    ["label_replace(m, 'dst', '$1', 'src', '(.*)')", ['m']],
  ] as const) {
    it(`${expr} selects ${names.join(', ')}`, () => assert.deepEqual(metricNames(expr), names));
  }
});

describe('otel/grafana/dashboard.json', () => {
  const dashboard = JSON.parse(DASHBOARD_TEXT) as GrafanaDashboard & {
    schemaVersion: number;
    uid: string;
    title: string;
    templating: { list: { name: string; type: string; query: unknown; datasource?: unknown }[] };
  };
  const panels = allPanels(dashboard) as (ReturnType<typeof allPanels>[number] & {
    datasource?: unknown;
    gridPos: { x: number; y: number; w: number; h: number };
    targets?: { refId: string; expr?: string; datasource?: unknown }[];
  })[];

  it('is a dashboard of schema version 39 or newer, with a Prometheus data source variable and an instance variable', () => {
    assert.ok(dashboard.schemaVersion >= 39, `schemaVersion ${dashboard.schemaVersion}`);
    assert.ok(dashboard.uid.length > 0 && dashboard.title.length > 0);
    const variables = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    assert.deepEqual({ type: variables.get('datasource')?.type, query: variables.get('datasource')?.query }, { type: 'datasource', query: 'prometheus' });
    assert.equal(variables.get('instance')?.type, 'query');
    assert.deepEqual(variables.get('instance')?.datasource, DATASOURCE);
  });

  it('takes every panel and every query from the ${datasource} variable', () => {
    assert.ok(panels.length > 10);
    for (const panel of panels) {
      assert.deepEqual(panel.datasource, DATASOURCE, `panel "${panel.title}"`);
      for (const target of panel.targets ?? []) assert.deepEqual(target.datasource, DATASOURCE, `panel "${panel.title}" query ${target.refId}`);
    }
    for (const annotation of (dashboard.annotations?.list ?? []) as { name: string; expr?: string; datasource?: unknown }[]) {
      if (annotation.expr !== undefined) assert.deepEqual(annotation.datasource, DATASOURCE, `annotation "${annotation.name}"`);
    }
  });

  it('has a query in every panel but the rows, unique panel ids and refIds, and no panels overlapping on the 24-column grid', () => {
    assert.equal(new Set(panels.map((p) => p.id)).size, panels.length, 'panel ids');
    for (const panel of panels) {
      if (panel.type === 'row') continue;
      const refIds = (panel.targets ?? []).map((t) => t.refId);
      assert.ok(refIds.length > 0, `panel "${panel.title}" has no query`);
      assert.equal(new Set(refIds).size, refIds.length, `panel "${panel.title}" refIds`);
    }
    for (const [i, a] of panels.entries()) {
      const g = a.gridPos;
      assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0, `panel "${a.title}" gridPos`);
      for (const b of panels.slice(i + 1)) {
        const h = b.gridPos;
        const overlap = g.x < h.x + h.w && h.x < g.x + g.w && g.y < h.y + h.h && h.y < g.y + g.h;
        assert.ok(!overlap, `panels "${a.title}" and "${b.title}" overlap`);
      }
    }
  });

  it('queries only metrics the service exports', () => {
    const queries = dashboardQueries(dashboard);
    // An empty list would pass the checks below: every `expr` anywhere in the file (21 panel
    // targets and an annotation today) must be among the queries checked, and the variables too.
    const exprs = exprsIn(JSON.parse(DASHBOARD_TEXT));
    assert.ok(exprs.length > 10, `only ${exprs.length} expr in the dashboard`);
    assert.equal(exprs.length, [...DASHBOARD_TEXT.matchAll(/"expr":/g)].length);
    const variableQueries = dashboard.templating.list.filter((v) => v.type === 'query').length;
    assert.ok(variableQueries > 0);
    assert.ok(queries.length >= exprs.length + variableQueries, `${queries.length} queries checked, the dashboard has ${exprs.length} expr and ${variableQueries} query variables`);
    const checked = queries.map((query) => query.expr);
    for (const expr of exprs) assert.ok(checked.includes(expr), `not checked: ${expr}`);
    for (const query of queries) assert.ok(metricNames(query.expr).length > 0, `${query.where}: no metric found in ${query.expr}`);
    assert.deepEqual(unknownNames(queries), {});
  });
});

/** Every string under an `expr` key anywhere in a parsed JSON value. */
function exprsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(exprsIn);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, inner]) => (key === 'expr' && typeof inner === 'string' ? [inner] : exprsIn(inner)));
}

describe('otel/prometheus/rules.yml', () => {
  it('queries only metrics the service exports', () => {
    const queries = ruleQueries(RULES_TEXT);
    assert.equal(queries.length, [...RULES_TEXT.matchAll(/^ +- (?:alert|record): /gm)].length);
    assert.ok(RECORDED.size > 0);
    for (const query of queries) assert.ok(metricNames(query.expr).length > 0, `${query.where}: no metric found in ${query.expr}`);
    assert.deepEqual(unknownNames(queries), {});
  });
});
