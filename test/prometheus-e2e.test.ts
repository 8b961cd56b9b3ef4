/**
 * The Prometheus half of the otel/ kit, checked with the real tools: promtool checks and
 * unit-tests the shipped rules and scrape configuration, and a real Prometheus, configured from
 * the shipped prometheus.yml, scrapes the real service and evaluates the shipped rules on it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { promtoolLint } from './support/label-safety.js';
import { REPO_ROOT } from './support/paths.js';
import { dashboardQueries, metricNames, type GrafanaDashboard } from './support/promql.js';
import { startPrometheus, until, type PrometheusServer, type VectorSample } from './support/prometheus.js';
import { startService, type ServiceProcess } from './support/service.js';
import { NON_EPHEMERAL, SocketHolder, type HeldSocket } from './support/sockets.js';
import { findTool, requireTool } from './support/tools.js';

const PROMETHEUS_DIR = `${REPO_ROOT}otel/prometheus/`;
const RULES = `${PROMETHEUS_DIR}rules.yml`;
const RULE_TESTS = `${PROMETHEUS_DIR}rules.test.yml`;
const SCRAPE_CONFIG = `${PROMETHEUS_DIR}prometheus.yml`;
const DASHBOARD = `${REPO_ROOT}otel/grafana/dashboard.json`;
const OTEL_README = `${REPO_ROOT}otel/README.md`;
const JOB = 'udp-listener-exporter';

const ALERTS = [...readFileSync(RULES, 'utf8').matchAll(/^ +- alert: (\w+)$/gm)].map((m) => m[1]!);
const RECORDS = [...readFileSync(RULES, 'utf8').matchAll(/^ +- record: ([\w:]+)$/gm)].map((m) => m[1]!);

/** Runs a tool to completion; a non-zero exit fails the test with everything it printed. */
function run(tool: string, args: readonly string[], input?: string): string {
  const result = spawnSync(tool, args, { encoding: 'utf8', ...(input === undefined ? {} : { input }) });
  const output = `${result.stdout}${result.stderr}`;
  assert.equal(result.status, 0, `${tool} ${args.join(' ')} exited with ${result.status}:\n${output}`);
  return output;
}

describe('promtool on the shipped rules and scrape configuration', () => {
  it('rules.yml has the alerts otel/README.md documents, with their for: and severity', () => {
    assert.deepEqual([...ALERTS].sort(), [
      'UdpDatagramsToClosedPorts',
      'UdpExporterCollectionFailing',
      'UdpExporterConfigReloadFailed',
      'UdpExporterDown',
      'UdpListenerBacklog',
      'UdpListenerDown',
      'UdpListenerDropping',
      'UdpListenerQueueFilling',
    ]);
    assert.deepEqual(RECORDS, ['udp_listener:receive_queue_fill:ratio']);
    const rules = parseYaml(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert?: string; for: string; labels: { severity: string } }[] }[] };
    const alerting = rules.groups.flatMap((group) => group.rules).filter((rule) => rule.alert !== undefined);
    const shipped = alerting.map((rule) => [rule.alert, rule.for, rule.labels.severity]);
    const alertsSection = /\n## Alerting\n([\s\S]*?)\n##/.exec(readFileSync(OTEL_README, 'utf8'))![1]!;
    const documented = [...alertsSection.matchAll(/^\| `(\w+)` \| .+ \| (\w+) \| (\w+) \| [^|]+ \|$/gm)].map((m) => [m[1], m[2], m[3]]);
    assert.deepEqual(documented.sort(), shipped.sort());
  });

  it('check rules: rules.yml is valid', (t) => {
    const promtool = requireTool(t, 'promtool', 'prometheus');
    if (promtool === undefined) return;
    assert.match(run(promtool, ['check', 'rules', RULES]), new RegExp(`SUCCESS: ${ALERTS.length + RECORDS.length} rules found`));
  });

  it('rules.test.yml asserts every alert both firing and quiet', () => {
    const text = readFileSync(RULE_TESTS, 'utf8');
    const cases = [...text.matchAll(/alertname: (\w+)\n +exp_alerts:( \[\])?\n/g)];
    for (const alert of ALERTS) {
      const mine = cases.filter((m) => m[1] === alert);
      assert.ok(mine.some((m) => m[2] !== undefined), `${alert}: no case where it must stay quiet`);
      assert.ok(mine.some((m) => m[2] === undefined), `${alert}: no case where it must fire`);
    }
  });

  it('rules.test.yml feeds UdpListenerDropping counter resets, a full one and a partial one', () => {
    const tests = parseYaml(readFileSync(RULE_TESTS, 'utf8')) as { tests: { input_series: { series: string; values: string }[]; alert_rule_test?: { alertname: string }[] }[] };
    const dropping = tests.tests.filter((group) => group.alert_rule_test?.some((test) => test.alertname === 'UdpListenerDropping'));
    const series = dropping.flatMap((group) => group.input_series).filter((s) => s.series.startsWith('udp_listener_drops_total{'));
    const falls = series.map((s) => expandSeriesValues(s.values)).flatMap((values) => values.slice(1).map((value, i) => [values[i]!, value] as const).filter(([before, after]) => after < before));
    assert.ok(falls.some(([, after]) => after === 0), 'no drops counter falls to 0 (a listener restarting)');
    assert.ok(falls.some(([, after]) => after > 0), 'no drops counter falls partway (one SO_REUSEPORT sibling restarting)');
  });

  it('test rules: the alerts fire, and stay quiet, where rules.test.yml says', (t) => {
    const promtool = requireTool(t, 'promtool', 'prometheus');
    if (promtool === undefined) return;
    assert.match(run(promtool, ['test', 'rules', RULE_TESTS]), /SUCCESS/);
  });

  it('check config: prometheus.yml is valid and finds rules.yml beside it', (t) => {
    const promtool = requireTool(t, 'promtool', 'prometheus');
    if (promtool === undefined) return;
    const output = run(promtool, ['check', 'config', SCRAPE_CONFIG]);
    // A rule_files entry is a glob: one that matches nothing is not an error, just 0 files.
    assert.match(output, /SUCCESS: 1 rule files found/);
    assert.match(output, new RegExp(`SUCCESS: ${ALERTS.length + RECORDS.length} rules found`));
  });
});

/**
 * The shipped prometheus.yml with the test's target, the shipped rules.yml by absolute path,
 * and 1 s intervals so the test need not wait. Each replaced text must occur exactly once, so
 * an edit of prometheus.yml that this test would silently miss fails here instead.
 */
function e2eConfig(target: string): string {
  let text = readFileSync(SCRAPE_CONFIG, 'utf8');
  for (const [from, to] of [
    ['scrape_interval: 15s', 'scrape_interval: 1s'],
    ['evaluation_interval: 15s', 'evaluation_interval: 1s'],
    ['  - rules.yml\n', `  - ${JSON.stringify(RULES)}\n`],
    ["targets: ['localhost:9464']", `targets: ['${target}']`],
  ] as const) {
    assert.equal(text.split(from).length, 2, `prometheus.yml should contain ${JSON.stringify(from)} exactly once`);
    text = text.replace(from, to);
  }
  return text;
}

interface Target {
  readonly labels: Readonly<Record<string, string>>;
  readonly scrapeUrl: string;
  readonly health: string;
  readonly lastError: string;
}
interface RuleGroup {
  readonly name: string;
  readonly file: string;
  readonly rules: readonly { readonly name: string; readonly type: string; readonly health: string; readonly lastError?: string }[];
}
interface Alert {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly state: string;
}

describe('a real Prometheus scraping the service, with the shipped configuration and rules', () => {
  const prometheusBinary = findTool('prometheus');
  const holder = new SocketHolder();
  let service: ServiceProcess | undefined;
  let prometheus: PrometheusServer | undefined;
  let listener: HeldSocket;
  let stalled: HeldSocket;
  let instance: string;

  before(async () => {
    if (prometheusBinary === undefined) return;
    listener = await holder.open({ family: 'ipv4', address: '0.0.0.0', port: NON_EPHEMERAL });
    // A listener that never reads, with a tiny buffer: datagrams sent to it are dropped.
    stalled = await holder.open({ family: 'ipv4', address: '127.0.0.1', port: NON_EPHEMERAL, rcvbuf: 4096 });
    service = await startService({ UDP_LISTENER_PORTS: `e2e=${listener.port},stalled=${stalled.port}` });
    instance = new URL(service.baseUrl).host;
    prometheus = await startPrometheus(prometheusBinary, e2eConfig(instance));
  });

  after(async () => {
    await prometheus?.stop();
    await service?.stop();
    await holder.dispose();
  });

  /** The Prometheus of this suite, or undefined after marking the test skipped (never in CI). */
  const server = (t: Parameters<typeof requireTool>[0]): PrometheusServer | undefined => {
    if (requireTool(t, 'prometheus', 'prometheus') === undefined) return undefined;
    assert.ok(prometheus !== undefined, 'Prometheus did not start');
    return prometheus;
  };

  const seen = (): string => `prometheus log:\n${prometheus?.log() ?? ''}\nservice log:\n${service?.stderr() ?? ''}`;

  const alerts = async (name: string): Promise<Alert[]> =>
    (await prometheus!.api<{ alerts: Alert[] }>('alerts')).alerts.filter((a) => a.labels.alertname === name);

  const upOf = (port: number): Promise<VectorSample[]> => prometheus!.query(`udp_listener_up{job="${JOB}",network_local_port="${port}"}`);

  it('scrapes the service as a healthy target of job udp-listener-exporter', async (t) => {
    const p = server(t);
    if (p === undefined) return;
    const target = await until(
      'the target to be scraped',
      async () => (await p.api<{ activeTargets: Target[] }>('targets')).activeTargets.find((x) => x.health !== 'unknown'),
      seen,
    );
    assert.deepEqual(
      { job: target.labels.job, url: target.scrapeUrl, health: target.health, error: target.lastError },
      { job: JOB, url: `${service!.baseUrl}/metrics`, health: 'up', error: '' },
    );
    // The series UdpExporterDown watches, by the job name it selects.
    const up = await until('up to be stored', async () => (await p.query(`up{job="${JOB}"}`))[0], seen);
    assert.equal(up.value[1], '1');
  });

  it('loads every shipped rule from rules.yml and evaluates each with health ok', async (t) => {
    const p = server(t);
    if (p === undefined) return;
    const groups = await until(
      'every rule to be evaluated',
      async () => {
        const { groups } = await p.api<{ groups: RuleGroup[] }>('rules');
        const rules = groups.flatMap((g) => g.rules);
        return rules.length > 0 && rules.every((r) => r.health !== 'unknown') ? groups : undefined;
      },
      seen,
    );
    assert.deepEqual(
      groups.map((g) => g.file),
      groups.map(() => RULES),
    );
    const rules = groups.flatMap((g) => g.rules);
    assert.deepEqual(rules.map((r) => r.name).sort(), [...ALERTS, ...RECORDS].sort());
    for (const rule of rules) {
      const type = RECORDS.includes(rule.name) ? 'recording' : 'alerting';
      assert.deepEqual({ name: rule.name, type: rule.type, health: rule.health, error: rule.lastError ?? '' }, { name: rule.name, type, health: 'ok', error: '' });
    }
    // Before the first scrape absent(up{job=...}) was true; with the target up it must clear.
    await until('UdpExporterDown to clear', async () => ((await alerts('UdpExporterDown')).length === 0 ? true : undefined), seen);
  });

  it('promtool check metrics finds nothing to lint in a live scrape', async (t) => {
    if (server(t) === undefined) return;
    const promtool = requireTool(t, 'promtool', 'prometheus');
    if (promtool === undefined) return;
    const text = await (await fetch(`${service!.baseUrl}/metrics`)).text();
    promtoolLint(promtool, text);
  });

  it('stores udp_listener_up 1 for the held port, with its name and instance', async (t) => {
    const p = server(t);
    if (p === undefined) return;
    const [sample, ...more] = await until(
      'udp_listener_up of the held port',
      async () => {
        const found = await upOf(listener.port);
        return found.length > 0 ? found : undefined;
      },
      seen,
    );
    assert.equal(more.length, 0);
    assert.deepEqual(sample!.metric, { __name__: 'udp_listener_up', job: JOB, instance, network_local_port: String(listener.port), udp_listener_name: 'e2e' });
    assert.equal(sample!.value[1], '1');
  });

  it('UdpListenerDropping goes pending when a listener starts dropping', async (t) => {
    const p = server(t);
    if (p === undefined) return;
    const drops = `udp_listener_drops_total{job="${JOB}",network_local_port="${stalled.port}"}`;
    // A first sample before the drops, so that increase() over the window sees them happen.
    await until('a drops sample before any drop', async () => ((await p.query(drops))[0]?.value[1] === '0' ? true : undefined), seen);
    assert.deepEqual(await alerts('UdpListenerDropping'), []);
    await holder.send('ipv4', ['127.0.0.1', stalled.port], 300);
    const [alert] = await until('UdpListenerDropping to be pending', async () => {
      const found = await alerts('UdpListenerDropping');
      return found.length > 0 ? found : undefined;
    }, seen);
    assert.equal(alert!.state, 'pending');
    assert.equal(alert!.labels.network_local_port, String(stalled.port));
    assert.equal(alert!.annotations.summary, `UDP port ${stalled.port} (stalled) on ${instance} is dropping datagrams`);
  });

  it('answers every dashboard query, with data where it stores the metrics the query reads', async (t) => {
    const p = server(t);
    if (p === undefined) return;
    const stored = new Set(await p.api<string[]>('label/__name__/values'));
    const queries = dashboardQueries(JSON.parse(readFileSync(DASHBOARD, 'utf8')) as GrafanaDashboard);
    assert.ok(queries.length > 10);
    let answered = 0;
    for (const { where, expr } of queries) {
      // Grafana's variables, as Grafana would fill them in.
      const concrete = expr.replaceAll('$__rate_interval', '1m').replace(/\$\{?instance\}?/g, '.+');
      assert.doesNotMatch(concrete, /\$/, `${where}: a variable this test does not know`);
      const result = await p.query(concrete).catch((error: Error) => assert.fail(`${where}: ${concrete}: ${error.message}`));
      const names = metricNames(expr);
      // ALERTS holds pending alerts here, none firing; other series the service does not serve yet.
      if (names.includes('ALERTS') || !names.every((name) => stored.has(name))) continue;
      assert.ok(result.length > 0, `${where}: ${concrete} returned nothing`);
      answered++;
    }
    assert.ok(answered >= 8, `only ${answered} queries returned data`);
  });

  it('stores 0 once the listener closes, and UdpListenerDown goes pending for that port', async (t) => {
    const p = server(t);
    if (p === undefined) return;
    assert.deepEqual(await alerts('UdpListenerDown'), []);
    await holder.close(listener);
    await until('udp_listener_up to read 0', async () => ((await upOf(listener.port))[0]?.value[1] === '0' ? true : undefined), seen);
    const [alert, ...more] = await until('UdpListenerDown to be pending', async () => {
      const found = await alerts('UdpListenerDown');
      return found.length > 0 ? found : undefined;
    }, seen);
    assert.equal(more.length, 0);
    assert.deepEqual(
      { state: alert!.state, labels: alert!.labels, summary: alert!.annotations.summary },
      {
        state: 'pending',
        labels: { alertname: 'UdpListenerDown', severity: 'critical', job: JOB, instance, network_local_port: String(listener.port), udp_listener_name: 'e2e' },
        summary: `No listener on UDP port ${listener.port} (e2e) on ${instance}`,
      },
    );
  });
});

/** promtool's series notation as rules.test.yml uses it: `a`, `axn` (a, n more times) and `a+bxn`. */
function expandSeriesValues(notation: string): number[] {
  const values: number[] = [];
  for (const term of notation.trim().split(/\s+/)) {
    const match = /^(-?\d+(?:\.\d+)?)(?:([+-]\d+(?:\.\d+)?)?x(\d+))?$/.exec(term);
    if (match === null) throw new Error(`cannot expand ${JSON.stringify(term)} of ${JSON.stringify(notation)}`);
    const start = Number(match[1]);
    const step = Number(match[2] ?? 0);
    const repeats = match[3] === undefined ? 0 : Number(match[3]);
    for (let i = 0; i <= repeats; i++) values.push(start + i * step);
  }
  return values;
}
