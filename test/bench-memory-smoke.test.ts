/**
 * `npm run bench:memory` still runs: with a small synthetic table and a few hundred real
 * sockets it must finish, find every listener of the table, read every file, and write its
 * figures as JSON. Nothing here is judged by size; the figures are for people to read.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const MEMORY_JS = fileURLToPath(new URL('./bench/memory.js', import.meta.url));

interface ServiceMemory {
  readonly mode: string;
  readonly peakRssMiB: number;
  readonly collectionSeconds: number;
  readonly readSuccess: boolean;
}

describe('npm run bench:memory', () => {
  it('completes with a 20,000-line table and 400 sockets, and writes every figure as JSON', async (t) => {
    const directory = mkdtempSync(path.join(tmpdir(), 'udp-listener-bench-memory-'));
    t.after(() => rmSync(directory, { recursive: true, force: true }));
    const out = path.join(directory, 'memory.json');
    const child = spawn(process.execPath, [MEMORY_JS, '--sockets', '400', '--table-lines', '20000', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, output);

    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      table: { lines: number; bytes: number; listenersFound: boolean; service: ServiceMemory };
      sockets: { total: number; services: ServiceMemory[] };
    };
    assert.equal(report.table.lines, 20_000);
    assert.equal(report.table.listenersFound, true);
    assert.equal(report.sockets.total, 400);
    const services = [report.table.service, ...report.sockets.services];
    assert.deepEqual(report.sockets.services.map((s) => s.mode), ['configured', 'discovery']);
    for (const service of services) {
      assert.equal(service.readSuccess, true, service.mode);
      assert.ok(Number.isFinite(service.peakRssMiB) && service.peakRssMiB > 0, `${service.mode}: ${service.peakRssMiB}`);
      assert.ok(Number.isFinite(service.collectionSeconds), `${service.mode}: ${service.collectionSeconds}`);
    }
    assert.match(output, /\| udp6 of 20,000 lines .* MiB .*\| ok \|/);
  });
});
