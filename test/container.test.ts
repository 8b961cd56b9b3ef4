/**
 * The container recipe cannot be built here (no container engine), so what can be checked is:
 * the build stage makes the npm package and installs it, the runtime stage takes only that
 * install, the install laid out as the image has it runs the service as the image's user, and
 * the base image is a maintained LTS.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { assertServesRealListener } from './support/artifact.js';
import { INSTALLED_MAIN, installPackage, type InstalledPackage } from './support/package.js';
import { productionNodeFlags, REPO_ROOT } from './support/paths.js';
import { asNobody, NOBODY } from './support/privileges.js';

const containerfile = readFileSync(`${REPO_ROOT}otel/container/Containerfile`, 'utf8');
const buildStage = containerfile.slice(containerfile.indexOf('\nFROM '), containerfile.lastIndexOf('\nFROM '));
const runtimeStage = containerfile.slice(containerfile.lastIndexOf('\nFROM '));
const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(runtimeStage)![1]!) as string[];

describe('otel/container/Containerfile', () => {
  let installed: InstalledPackage | undefined;
  after(() => installed?.remove());

  it('builds on a maintained Node LTS line, not the end-of-life 20', () => {
    const majors = [...containerfile.matchAll(/^FROM node:(\d+)-/gm)].map((m) => Number(m[1]));
    assert.ok(majors.length >= 2);
    for (const major of majors) assert.ok(major >= 22 && major % 2 === 0, `node:${major} is not a maintained LTS line`);
  });

  it('packs the package and installs its tarball; the runtime stage takes that install and nothing else', () => {
    assert.doesNotMatch(containerfile, /^COPY .*\btest\b/m, 'no test files in any stage');
    assert.match(buildStage, /^RUN npm pack \\\n && npm install --global --prefix \/opt\/udp-listener-exporter [^\n]*\.\/udp-listener-exporter-\*\.tgz$/m);
    assert.deepEqual([...runtimeStage.matchAll(/^COPY (.*)$/gm)].map((m) => m[1]), ['--from=build /opt/udp-listener-exporter /opt/udp-listener-exporter']);
    assert.match(runtimeStage, new RegExp(`^USER ${NOBODY}:${NOBODY}$`, 'm'));
  });

  it('the install, laid out as the image has it, serves metrics as the image runs it (as nobody when root)', async () => {
    installed = await installPackage();
    const script = entrypoint[entrypoint.length - 1]!;
    const main = path.join(installed.prefix, path.relative('/opt/udp-listener-exporter', script));
    const asImageUser = process.getuid?.() === 0 ? asNobody([]) : [];
    await assertServesRealListener({ mainScript: main, nodeArgs: entrypoint.slice(1, -1), prefix: asImageUser });
  });
});

describe('the production command line', () => {
  it('the image starts node with the flags of npm start on the installed package', () => {
    assert.deepEqual(entrypoint, ['node', ...productionNodeFlags(), `/opt/udp-listener-exporter/${INSTALLED_MAIN}`]);
  });
});
