/**
 * The container recipe cannot be built here (no container engine), so what can be checked is:
 * its runtime stage's file layout runs the service, and the base image is a maintained LTS.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { scrape, valueOf } from './support/exposition.js';
import { productionNodeFlags, REPO_ROOT } from './support/paths.js';
import { startService } from './support/service.js';

const containerfile = readFileSync(`${REPO_ROOT}otel/container/Containerfile`, 'utf8');

describe('otel/container/Containerfile', () => {
  it('builds on a maintained Node LTS line, not the end-of-life 20', () => {
    const majors = [...containerfile.matchAll(/^FROM node:(\d+)-/gm)].map((m) => Number(m[1]));
    assert.ok(majors.length >= 2);
    for (const major of majors) assert.ok(major >= 22 && major % 2 === 0, `node:${major} is not a maintained LTS line`);
  });

  it('the runtime stage, laid out as its COPY lines say, serves metrics', async () => {
    const workdir = /^WORKDIR (\S+)$/gm;
    const runtimeStage = containerfile.slice(containerfile.lastIndexOf('\nFROM '));
    const target = [...runtimeStage.matchAll(workdir)][0]![1]!;
    const image = mkdtempSync(path.join(tmpdir(), 'image-'));
    try {
      for (const [, from, to] of runtimeStage.matchAll(/^COPY --from=build \/src\/(\S+) (\S+)$/gm)) {
        const destination = path.join(image, path.relative(target, path.resolve(target, to!)));
        // node_modules is linked rather than copied: its contents are npm's business, its place is the recipe's.
        if (from === 'node_modules') symlinkSync(path.join(REPO_ROOT, 'node_modules'), destination);
        else cpSync(path.join(REPO_ROOT, from!), destination, { recursive: true });
      }
      const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(runtimeStage)![1]!) as string[];
      assert.equal(entrypoint[0], 'node');
      const main = path.join(image, entrypoint[entrypoint.length - 1]!);
      const service = await startService({ UDP_LISTENER_PORTS: '514' }, { mainScript: main });
      try {
        const page = await scrape(service.baseUrl);
        assert.notEqual(valueOf(page, 'udp_listener_up', { network_local_port: '514' }), undefined);
        assert.match(service.stderr(), /version=\d+\.\d+\.\d+/);
      } finally {
        await service.stop();
      }
    } finally {
      rmSync(image, { recursive: true, force: true });
    }
  });
});

describe('the production command line', () => {
  it('the systemd unit and the image start node with the flags of npm start', () => {
    const flags = productionNodeFlags();
    assert.ok(flags.includes('--optimize-for-size'), 'the memory flag the README figures were measured with');
    const unit = readFileSync(`${REPO_ROOT}otel/systemd/udp-listener-exporter.service`, 'utf8');
    assert.match(unit, new RegExp(`^ExecStart=/usr/bin/node ${flags.join(' ')} /opt/udp-listener-exporter/dist/src/main\\.js$`, 'm'));
    assert.deepEqual(JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(containerfile)![1]!), ['node', ...flags, 'dist/src/main.js']);
  });
});
