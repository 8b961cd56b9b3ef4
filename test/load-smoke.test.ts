/**
 * A short run of the load test (test/load/load.ts, `npm run load`) inside `npm test`: a few
 * hundred listeners, ten clients, socket churn, three seconds. It asserts what does not depend
 * on the machine's speed: no failed request, every page complete and showing every listener up,
 * shared procfs reads. Memory and timing are reported, not asserted.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { runLoad } from './load/load.js';

it('load smoke run: every page complete and correct under concurrent scrapes and socket churn', async (t) => {
  const report = await runLoad({ sockets: 500, clients: 10, seconds: 3, maxRequests: 5000, churnPerSecond: 500 });
  t.diagnostic(JSON.stringify(report));
  assert.equal(report.errors, 0, report.firstError);
  assert.ok(report.requests > 0);
  assert.ok(report.collections < report.requests, `${report.collections} collections for ${report.requests} requests`);
});
