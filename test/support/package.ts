/**
 * The npm package as a user installs it: `npm pack` of this checkout, then `npm install -g` of
 * the tarball into a prefix of its own in a world-readable temporary directory, so that a
 * service run as nobody can read it wherever the checkout lives (a clone in root's 0700 home
 * cannot be entered by nobody).
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './paths.js';

const run = promisify(execFile);

export const PACKAGE_NAME = 'udp-listener-exporter';
/** Where `npm install -g --prefix PREFIX` puts the package's files, relative to PREFIX. */
export const INSTALLED_PACKAGE_DIR = `lib/node_modules/${PACKAGE_NAME}`;
/** The service's entry point in an install, relative to the prefix (the systemd unit and the image name it). */
export const INSTALLED_MAIN = `${INSTALLED_PACKAGE_DIR}/dist/src/main.js`;

export interface InstalledPackage {
  /** The tarball npm pack made. */
  readonly tarball: string;
  /** The --prefix of the install: bin/ and lib/node_modules/ are in it. */
  readonly prefix: string;
  /** The package's own directory. */
  readonly root: string;
  /** The installed command, a link to the entry point (`#!/usr/bin/env node`). */
  readonly bin: string;
  readonly mainScript: string;
  remove(): void;
}

/** Packs this checkout's current build and installs it with its runtime dependencies only. */
export async function installPackage(): Promise<InstalledPackage> {
  const directory = mkdtempSync(path.join(tmpdir(), `${PACKAGE_NAME}-package-`));
  try {
    // mkdtemp makes a 0700 directory; the install must be readable by any user, as under /usr.
    chmodSync(directory, 0o755);
    const prefix = path.join(directory, 'prefix');
    mkdirSync(prefix);
    // --ignore-scripts: prepack would rebuild dist/ from clean under the running suite. The
    // suite's own build (pretest) is what gets packed.
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', directory], { cwd: REPO_ROOT });
    const [{ filename }] = JSON.parse(stdout) as [{ filename: string }];
    const tarball = path.join(directory, filename);
    // --prefer-offline: the dependencies are the ones npm ci just put in npm's cache.
    await run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: directory, timeout: 180_000 });
    return {
      tarball,
      prefix,
      root: path.join(prefix, INSTALLED_PACKAGE_DIR),
      bin: path.join(prefix, 'bin', PACKAGE_NAME),
      mainScript: path.join(prefix, INSTALLED_MAIN),
      remove: () => rmSync(directory, { recursive: true, force: true }),
    };
  } catch (error) {
    rmSync(directory, { recursive: true, force: true });
    throw error;
  }
}
