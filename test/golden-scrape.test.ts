/**
 * The whole page, byte for byte, against golden files (test/support/golden.ts): the service
 * started as a process on a fixture procfs, scraped over HTTP. Refactoring must not change one
 * byte of it; a deliberate change of the page regenerates the files with `UPDATE_GOLDEN=1 npm
 * test` and shows up in the diff of the commit.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { GOLDEN, GOLDEN_CASES, goldenCasePage } from './support/golden.js';

describe('golden scrape on the captured fixtures', () => {
  for (const goldenCase of GOLDEN_CASES) {
    it(`${goldenCase.name}: the page is byte-identical to test/fixtures/golden/${goldenCase.name}.prom`, async () => {
      const page = await goldenCasePage(goldenCase);
      const file = `${GOLDEN}${goldenCase.name}.prom`;
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, page);
      assert.equal(page, readFileSync(file, 'utf8'), `the page differs from ${file}; if the change is intended, run UPDATE_GOLDEN=1 npm test`);
    });
  }
});
