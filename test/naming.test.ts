/**
 * Every instrument's Prometheus name is the same scraped directly (the JS serializer: dots to
 * underscores, `_total` on counters, no unit words) and through a Collector (unit words unless
 * present, `_total`, `_ratio`): both are computed here and compared with the metric table (metrics.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { METRICS } from '../src/telemetry/metrics.js';
import { collectorLabelName, collectorMetricName } from './support/collector-naming.js';

/** What @opentelemetry/exporter-prometheus 0.223 does to a name (PrometheusSerializer). */
function directName(name: string, counter: boolean): string {
  const sanitized = name.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_');
  return counter && !sanitized.endsWith('_total') ? `${sanitized}_total` : sanitized;
}

describe('Prometheus names', () => {
  for (const spec of METRICS) {
    it(`${spec.name} (${spec.unit || 'no unit'}) is ${spec.prometheusName} both ways`, () => {
      const counter = spec.kind === 'counter';
      assert.equal(directName(spec.name, counter), spec.prometheusName, 'direct scrape');
      assert.equal(collectorMetricName(spec.name, spec.unit, counter ? 'counter' : 'gauge'), spec.prometheusName, 'through the Collector');
    });
  }

  it('the port of the Collector rules reproduces upstream test expectations', () => {
    assert.equal(collectorMetricName('http.request.duration', 'ms', 'gauge'), 'http_request_duration_milliseconds');
    assert.equal(collectorMetricName('http.requests', '1', 'counter'), 'http_requests_total');
    assert.equal(collectorMetricName('cpu_seconds_total', 's', 'counter'), 'cpu_seconds_total');
    assert.equal(collectorMetricName('custom_metric', 'By/{custom}', 'gauge'), 'custom_metric_bytes');
    assert.equal(collectorMetricName('throughput', 'By/s', 'gauge'), 'throughput_bytes_per_second');
    assert.equal(collectorMetricName('udp.listener.up', '1', 'gauge'), 'udp_listener_up_ratio');
    assert.equal(collectorMetricName('udp.listener.receive_queue', 'By', 'gauge'), 'udp_listener_receive_queue_bytes');
    assert.equal(collectorLabelName('network.local.port'), 'network_local_port');
    assert.equal(collectorLabelName('2xx.count'), 'key_2xx_count');
  });
});
