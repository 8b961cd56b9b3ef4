/**
 * Tests that must be root (network namespaces, running the service as another user with chosen
 * capabilities). Locally without root they skip with a notice; in CI (CI=true) they fail,
 * because CI runs them as root.
 */
import type { TestContext } from 'node:test';
import { installPackage, type InstalledPackage } from './package.js';
import type { StartOptions } from './service.js';

export function requireRoot(t: TestContext, why: string): boolean {
  if (process.getuid?.() === 0) return true;
  if (process.env.CI === 'true') throw new Error(`${why} needs root, and CI must run it`);
  t.skip(`not root: ${why} skipped locally, required in CI`);
  return false;
}

/** The uid/gid of nobody on Debian. */
export const NOBODY = 65534;

/** Runs a command as nobody with exactly these capabilities (setpriv, from util-linux). */
export function asNobody(capabilities: readonly string[]): string[] {
  const caps = capabilities.map((c) => `+${c}`).join(',');
  return [
    'setpriv',
    `--reuid=${NOBODY}`,
    `--regid=${NOBODY}`,
    '--clear-groups',
    ...(caps === '' ? [] : [`--inh-caps=${caps}`, `--ambient-caps=${caps}`]),
  ];
}

/**
 * Starts the service as nobody. It runs from the package installed in a world-readable
 * directory, not from this checkout's dist/: the checkout may be where nobody cannot enter (a
 * clone in root's 0700 home, or a mktemp -d directory). Installed once, on first use.
 */
export class NobodyService {
  private installed: Promise<InstalledPackage> | undefined;

  /** Start options for the service as nobody with exactly these capabilities. */
  async options(capabilities: readonly string[]): Promise<StartOptions> {
    this.installed ??= installPackage();
    return { prefix: asNobody(capabilities), mainScript: (await this.installed).mainScript };
  }

  async remove(): Promise<void> {
    await this.installed?.then((installed) => installed.remove(), () => undefined);
  }
}
