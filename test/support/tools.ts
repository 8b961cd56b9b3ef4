/**
 * External tools some tests need (promtool, prometheus). Locally a missing tool skips the test
 * with a notice; in CI (CI=true) it fails the run, because .ci/run installs them.
 */
import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export function findTool(name: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The tool's path, or undefined after marking the test skipped (never in CI). */
export function requireTool(t: TestContext, name: string, debianPackage: string): string | undefined {
  const found = findTool(name);
  if (found !== undefined) return found;
  if (process.env.CI === 'true') throw new Error(`${name} is not installed; .ci/run must install the Debian package ${debianPackage}`);
  t.skip(`${name} not installed (apt-get install -y ${debianPackage}); skipped locally, required in CI`);
  return undefined;
}
