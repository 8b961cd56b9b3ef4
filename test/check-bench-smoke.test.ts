/**
 * The check's benchmark (test/bench/check-bench.ts) still runs: a few hundred sockets, one round. It
 * must finish and write every figure; nothing here is timed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';

const CHECK_BENCH_JS = fileURLToPath(new URL('./bench/check-bench.js', import.meta.url));

it('the check benchmark completes at 300 sockets and writes every figure as JSON', async () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'udp-listener-check-bench-'));
  try {
    const out = path.join(directory, 'check.json');
    const child = spawn(process.execPath, [CHECK_BENCH_JS, '--sockets', '300', '--ports', '10', '--rounds', '1', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, output);
    const report = JSON.parse(readFileSync(out, 'utf8')) as { ports: number[]; figures: Record<string, { median: number }> };
    assert.equal(report.ports.length, 10);
    const names = Object.keys(report.figures);
    for (const expected of ['command: cat', 'command: check', "in process: check's work", 'in process: one read', 'in process: Zabbix-style']) {
      assert.ok(names.some((name) => name.startsWith(expected)), `${expected} in ${names.join('; ')}`);
    }
    for (const [name, { median }] of Object.entries(report.figures)) assert.ok(Number.isFinite(median) && median > 0, `${name}: ${median}`);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
