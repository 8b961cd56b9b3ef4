/** The README and otel/ files must stay true to the code in the same commit. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CONFIG_VARIABLES, loadConfig } from '../src/config/config.js';
import { ALL_INSTRUMENTS } from '../src/telemetry/names.js';
import { REPO_ROOT } from './support/paths.js';

const readme = readFileSync(`${REPO_ROOT}README.md`, 'utf8');

/** First-column code spans of the table under a heading. */
function tableKeys(heading: string): string[] {
  const start = readme.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has no ${heading}`);
  const section = readme.slice(start + 1).split(/\n## /)[0]!;
  return [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
}

describe('README', () => {
  it('configuration table lists exactly the variables the service reads', () => {
    assert.deepEqual(tableKeys('## Configuration').sort(), [...CONFIG_VARIABLES].sort());
  });

  it('metric table lists exactly the instruments, with their OpenTelemetry names', () => {
    const rows = [...readme.matchAll(/^\| `([a-z_]+)` \| `([a-z_.]+)` \|/gm)].map((m) => [m[1], m[2]]);
    assert.deepEqual(
      rows.sort(),
      ALL_INSTRUMENTS.map((spec) => [spec.prometheusName, spec.name]).sort(),
    );
  });
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
