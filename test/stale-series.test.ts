import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Attributes, BatchObservableResult, Observable } from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider } from '@opentelemetry/sdk-metrics';
import { StaleSeriesPruner, UnsupportedSdkError } from '../src/telemetry/stale-series.js';
import { ManualReader, seriesOf } from './support/metric-reader.js';

/** A gauge and a counter recorded from `current`, pruned the way the exporter prunes. */
function setUp(readers: ManualReader[], prune = true) {
  const provider = new MeterProvider({ readers });
  const meter = provider.getMeter('test');
  const gauge = meter.createObservableGauge('g');
  const counter = meter.createObservableCounter('c');
  const pruner = new StaleSeriesPruner([gauge, counter]);
  let current: { port: number; value: number }[] = [];
  meter.addBatchObservableCallback((result: BatchObservableResult) => {
    const observed = new Map<Observable, Attributes[]>([
      [gauge, []],
      [counter, []],
    ]);
    for (const { port } of current) {
      const attributes = { port };
      observed.get(gauge)!.push(attributes);
      observed.get(counter)!.push(attributes);
    }
    if (prune) pruner.retainOnly(observed);
    for (const { port, value } of current) {
      result.observe(gauge, value, { port });
      result.observe(counter, value, { port });
    }
  }, [gauge, counter]);
  return {
    provider,
    set(values: { port: number; value: number }[]) {
      current = values;
    },
  };
}

describe('StaleSeriesPruner', () => {
  it('the SDK alone keeps exporting a series nobody observes any more (why the pruner exists)', async () => {
    const reader = new ManualReader();
    const { set } = setUp([reader], false);
    set([{ port: 1, value: 1 }]);
    await reader.metrics();
    set([]);
    assert.deepEqual(seriesOf(await reader.metrics(), 'g'), { '{"port":1}': 1 });
  });

  it('drops a series from the next collection once it is no longer observed, and keeps the others', async () => {
    const reader = new ManualReader();
    const { set } = setUp([reader]);
    set([{ port: 1, value: 1 }, { port: 2, value: 5 }]);
    assert.deepEqual(seriesOf(await reader.metrics(), 'g'), { '{"port":1}': 1, '{"port":2}': 5 });
    set([{ port: 2, value: 6 }]);
    const metrics = await reader.metrics();
    assert.deepEqual(seriesOf(metrics, 'g'), { '{"port":2}': 6 });
    assert.deepEqual(seriesOf(metrics, 'c'), { '{"port":2}': 6 });
    set([]);
    assert.deepEqual(seriesOf(await reader.metrics(), 'g'), {});
  });

  it('keeps a surviving counter start time, and starts a returning series afresh', async () => {
    const reader = new ManualReader();
    const { set } = setUp([reader]);
    set([{ port: 1, value: 10 }, { port: 2, value: 10 }]);
    const first = (await reader.metrics()).find((m) => m.descriptor.name === 'c')!;
    set([{ port: 2, value: 12 }]);
    await reader.metrics();
    await new Promise((resolve) => setTimeout(resolve, 5));
    set([{ port: 1, value: 3 }, { port: 2, value: 15 }]);
    const third = (await reader.metrics()).find((m) => m.descriptor.name === 'c')!;
    const startOf = (metric: typeof first, port: number) => metric.dataPoints.find((p) => p.attributes.port === port)!.startTime;
    assert.deepEqual(startOf(third, 2), startOf(first, 2));
    assert.notDeepEqual(startOf(third, 1), startOf(first, 1));
    assert.deepEqual(seriesOf([third], 'c'), { '{"port":1}': 3, '{"port":2}': 15 });
  });

  it('never reaches the cardinality limit however many series come and go', async () => {
    const reader = new ManualReader();
    const { set } = setUp([reader]);
    for (let round = 0; round < 50; round++) {
      set(Array.from({ length: 100 }, (_, i) => ({ port: round * 100 + i, value: round })));
      await reader.metrics();
    }
    const series = seriesOf(await reader.metrics(), 'g');
    assert.equal(Object.keys(series).length, 100);
    assert.ok(!Object.keys(series).some((key) => key.includes('otel.metric.overflow')));
    assert.equal(series['{"port":4999}'], 49);
  });

  it('prunes for every reader, cumulative and delta, also between the collections of a slower one', async () => {
    const fast = new ManualReader();
    const slow = new ManualReader(AggregationTemporality.DELTA);
    const { set } = setUp([fast, slow]);
    set([{ port: 1, value: 4 }, { port: 2, value: 4 }]);
    await fast.metrics();
    await slow.metrics();
    set([{ port: 2, value: 7 }]);
    await fast.metrics();
    set([{ port: 2, value: 9 }, { port: 3, value: 1 }]);
    assert.deepEqual(seriesOf(await fast.metrics(), 'c'), { '{"port":2}': 9, '{"port":3}': 1 });
    assert.deepEqual(seriesOf(await slow.metrics(), 'c'), { '{"port":2}': 5, '{"port":3}': 1 });
  });

  it('refuses, at construction, an instrument whose storage it does not know', () => {
    assert.throws(() => new StaleSeriesPruner([{ addCallback() {}, removeCallback() {} } as unknown as Observable]), UnsupportedSdkError);
  });
});
