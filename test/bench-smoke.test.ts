/**
 * `npm run bench` still runs: at 100 sockets with minimal repetitions and a short idle
 * window, it must finish and write JSON holding every figure. Nothing here is timed; the
 * benchmark's own numbers are for people to read, not for the test suite to judge.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const BENCH_JS = fileURLToPath(new URL('./bench/bench.js', import.meta.url));

/** Paths below each size's result that must hold a finite number. */
const FIGURES = [
  'tables.lines.udp',
  'tables.lines.udp6',
  'floor.readFileSequential.wallMs.median',
  'floor.readFileSequential.wallMs.p90',
  'floor.readFileSequential.cpuMs.median',
  'floor.serviceReadPath.wallMs.median',
  'floor.serviceReadPath.wallMs.p90',
  'floor.serviceReadPath.ratioToFloor',
  ...['configured', 'discovery'].flatMap((mode) => [
    `scrapes.${mode}.wallMs.median`,
    `scrapes.${mode}.wallMs.p90`,
    `scrapes.${mode}.ratioToFloor`,
    `scrapes.${mode}.ratioToServiceRead`,
    `scrapes.${mode}.cpuMsPerScrape`,
    `scrapes.${mode}.pageBytes`,
    `breakdown.${mode}.readMs`,
    `breakdown.${mode}.parseAndAggregateMs`,
    `breakdown.${mode}.sdkCollectMs`,
    `breakdown.${mode}.serializeMs`,
    `breakdown.${mode}.httpRoundTripMs`,
    `breakdown.${mode}.unaccountedMs`,
    `concurrency.${mode}.maxProcfsReads`,
    `concurrency.${mode}.wallMs.median`,
    `concurrency.${mode}.ratioToFloor`,
    `idle.${mode}.percentOfCore`,
    `memory.${mode}.vmRssMiB`,
    `memory.${mode}.vmHwmMiB`,
    `memory.${mode}.scrapes`,
    `memory.${mode}.atStartMiB`,
  ]),
  'idle.floorImpliedPercentOfCore',
  ...['scanner', 'split', 'regex'].flatMap((parser) => ['all', 'configured', 'discovery'].map((mode) => `parser.figures.${parser}.${mode}.median`)),
];

function at(value: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], value);
}

describe('npm run bench', () => {
  it('completes at 100 sockets and writes every figure as JSON', async () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'udp-listener-bench-'));
    try {
      const out = path.join(directory, 'results.json');
      const child = spawn(
        process.execPath,
        [
          BENCH_JS,
          ...['--sizes', '100', '--reps', '3', '--warmup', '1', '--bursts', '1', '--parser-reps', '2'],
          ...['--idle', '400ms', '--idle-interval', '200ms', '--idle-settle', '0s', '--rss-scrapes', '10', '--node-exporter', 'none', '--out', out],
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0, output);

      const report = JSON.parse(readFileSync(out, 'utf8')) as { sizes: unknown[]; machine: unknown; options: unknown };
      assert.equal(report.sizes.length, 1);
      const size = report.sizes[0];
      assert.equal(at(size, 'sockets'), 100);
      // The options as given, and what each size made of them.
      assert.equal(at(report, 'options.warmupRounds'), 1);
      assert.equal(at(report, 'options.nodeExporter'), null);
      assert.equal(at(size, 'repetitions'), 3);
      assert.equal(at(size, 'parser.reps'), 2);
      for (const figure of FIGURES) {
        const value = at(size, figure);
        assert.ok(typeof value === 'number' && Number.isFinite(value), `${figure} is ${JSON.stringify(value)}`);
      }
      assert.equal(at(size, 'scrapes.nodeExporter'), null);
      assert.ok(Array.isArray(at(size, 'goals')), 'goals is a list (empty below 10,000 sockets)');
      assert.ok(typeof at(report, 'machine.cpus') === 'number');
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
