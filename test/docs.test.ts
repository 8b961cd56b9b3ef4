/**
 * The README and otel/ files must stay true to the code in the same commit. The configuration
 * and metric tables of the README are rendered from the code's tables (test/support/docs-tables.ts):
 * run `UPDATE_GOLDEN=1 npm test` to rewrite them after changing a variable or a metric.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CONFIG_VARIABLES, loadConfig } from '../src/config/config.js';
import { GENERATED_TABLES, generatedBlocks, regenerate } from './support/docs-tables.js';
import { REPO_ROOT } from './support/paths.js';

const README = `${REPO_ROOT}README.md`;

describe('README', () => {
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(README, regenerate(readFileSync(README, 'utf8')));
  const readme = readFileSync(README, 'utf8');

  it('has every generated table exactly once', () => {
    assert.deepEqual(generatedBlocks(readme).map(({ name }) => name).sort(), Object.keys(GENERATED_TABLES).sort());
  });

  for (const { name, content } of generatedBlocks(readme)) {
    it(`table "${name}" is what the code's table renders (UPDATE_GOLDEN=1 npm test rewrites it)`, () => {
      assert.equal(content, GENERATED_TABLES[name]!());
    });
  }
});

describe('otel/udp-listener-exporter.env', () => {
  const lines = readFileSync(`${REPO_ROOT}otel/udp-listener-exporter.env`, 'utf8').split('\n');
  const assignments = lines.map((line) => /^#?([A-Z_]+)=(.*)$/.exec(line)).filter((m) => m !== null);

  it('mentions every variable, and only variables the service reads', () => {
    assert.deepEqual(assignments.map((m) => m[1]).sort(), [...CONFIG_VARIABLES].sort());
  });

  it('is a valid configuration with every line uncommented', () => {
    const env = Object.fromEntries(assignments.map((m) => [m[1]!, m[2]!]));
    assert.doesNotThrow(() => loadConfig(env));
  });
});
