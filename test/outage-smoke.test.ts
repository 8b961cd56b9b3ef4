/**
 * A few seconds of the OTLP outage run (test/load/otlp-outage.ts, `npm run outage`) inside
 * `npm test`: the collector accepts and never answers. Asserted is what does not depend on the
 * machine's speed: failures are counted, hung exports stay bounded, scrapes keep answering, the
 * service exits 0 on SIGTERM. Memory and timing are reported, not asserted.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { runOutage } from './load/otlp-outage.js';

it('OTLP outage smoke run: exports do not pile up and /metrics keeps answering', async (t) => {
  const report = await runOutage({ seconds: 8, intervalMs: 500, sampleEveryMs: 1000 });
  t.diagnostic(JSON.stringify({ ...report, samples: report.samples.length }));
  assert.ok(report.requestsReceived >= 1);
  assert.ok(report.samples.length >= 5, 'every sample scraped /metrics successfully');
  // A request never outlives its export and a reader skips an interval while its export is in
  // flight, so at most one hung request (and its connection) is open at a time.
  assert.ok(report.maxCollectorConnections <= 1, `${report.maxCollectorConnections} hung connections`);
  assert.ok(report.exportFailures >= 1);
  assert.equal(report.exitCode, 0);
});
