/**
 * The npm package as a platform team installs it: `npm pack`, `npm install -g` of the tarball
 * into a prefix of its own, then the installed command, on the command line and as a service.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertServesRealListener, expectedVersionText, runCommand } from './support/artifact.js';
import { assertServesGoldenPages } from './support/golden.js';
import { installPackage, type InstalledPackage } from './support/package.js';
import { REPO_ROOT } from './support/paths.js';

const manifest = JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as {
  version: string;
  private?: boolean;
  license?: string;
  engines?: { node?: string };
  bin?: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** Every .ts file under a directory of the checkout, relative to the checkout. */
function sources(directory: string): string[] {
  return readdirSync(path.join(REPO_ROOT, directory), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => path.posix.join(directory, file.split(path.sep).join('/')));
}

/** The names of every package installed anywhere under root (`name` or `@scope/name`). */
function installedPackageNames(root: string): Set<string> {
  const names = new Set<string>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true, encoding: 'utf8' })) {
    if (!entry.isDirectory()) continue;
    const parts = path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep);
    const at = parts.lastIndexOf('node_modules');
    const name = parts.slice(at + 1);
    if (at >= 0 && name.length > 0 && name.length === (name[0]!.startsWith('@') ? 2 : 1)) names.add(name.join('/'));
  }
  return names;
}

describe('the npm package', () => {
  let installed: InstalledPackage;
  // The installed command finds node through PATH (#!/usr/bin/env node): the node running this test.
  const env = (): NodeJS.ProcessEnv => ({ PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` });

  before(async () => {
    installed = await installPackage();
  });
  after(() => installed?.remove());

  it('is publishable: not private, with a license, the engines it runs on and a bin', () => {
    assert.equal(manifest.private, undefined);
    assert.equal(manifest.license, 'Apache-2.0');
    assert.equal(manifest.engines?.node, '>=20.6.0');
    assert.deepEqual(manifest.bin, { 'udp-listener-exporter': 'dist/src/main.js' });
  });

  it('the tarball holds the compiled service, otel/ and the README: no TypeScript, tests, source maps or build tooling', () => {
    const entries = execFileSync('tar', ['-tzf', installed.tarball], { encoding: 'utf8' }).trim().split('\n');
    for (const entry of entries) assert.match(entry, /^package\/(package\.json|README\.md|dist\/src\/.+\.js|otel\/.+)$/);
    const compiled = sources('src').map((file) => `package/dist/${file.replace(/\.ts$/, '.js')}`);
    assert.deepEqual(entries.filter((entry) => entry.startsWith('package/dist/')).sort(), compiled.sort());
    assert.ok(entries.includes('package/otel/systemd/udp-listener-exporter.service'));
  });

  it('installs runtime dependencies only: no typescript, no bundler, no test/', () => {
    const names = installedPackageNames(installed.root);
    assert.ok(names.has('@opentelemetry/sdk-metrics'));
    // @types/node is not ours: protobufjs depends on it.
    for (const devOnly of Object.keys(manifest.devDependencies).filter((name) => name !== '@types/node')) assert.ok(!names.has(devOnly), devOnly);
    assert.ok(!names.has('@typescript/typescript-linux-x64') && !names.has('@esbuild/linux-x64'));
    assert.deepEqual(readdirSync(installed.root).sort(), ['README.md', 'dist', 'node_modules', 'otel', 'package.json']);
    assert.deepEqual(readdirSync(path.join(installed.root, 'dist')), ['src']);
  });

  it('the installed command answers --version and --help, and refuses an unknown flag with 2', async () => {
    const version = await runCommand(installed.bin, ['--version'], env());
    assert.deepEqual(version, { code: 0, stdout: expectedVersionText(manifest.version, process.versions.node), stderr: '' });
    const help = await runCommand(installed.bin, ['--help'], env());
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: udp-listener-exporter/);
    const refused = await runCommand(installed.bin, ['--bogus'], env());
    assert.deepEqual(refused, { code: 2, stdout: '', stderr: 'udp-listener-exporter: unknown option --bogus (see --help)\n' });
  });

  it('the installed command serves /metrics: a real UDP listener is up, a closed port is not', async () => {
    await assertServesRealListener({ executable: installed.bin }, { PATH: env().PATH! });
  });

  it('the netlink source loads its native binding (koffi) from the install and serves a real listener', async () => {
    await assertServesRealListener({ executable: installed.bin }, { PATH: env().PATH!, UDP_LISTENER_SOURCE: 'netlink' });
  });

  it('serves every golden page byte for byte, as the checkout does', async () => {
    await assertServesGoldenPages({ executable: installed.bin }, { PATH: env().PATH! });
  });
});
