/** Locations in the source tree, from the compiled test files in dist/test/. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const MAIN_JS = fileURLToPath(new URL('../../src/main.js', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
export const SOCKET_HOLDER = fileURLToPath(new URL('../../../test/support/socket-holder.py', import.meta.url));
export const STUCK_FUSE = fileURLToPath(new URL('../../../test/support/stuck-fuse.py', import.meta.url));

/**
 * The node flags of the production command line (`npm start`), which the systemd unit, the
 * container image and the benchmark use too: one source, read from package.json.
 */
export function productionNodeFlags(): string[] {
  const manifest = JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { scripts: { start: string } };
  const match = /^node((?: --[a-z-]+(?:=\S+)?)*) dist\/src\/main\.js$/.exec(manifest.scripts.start);
  if (match === null) throw new Error(`package.json start script is not "node [flags] dist/src/main.js": ${manifest.scripts.start}`);
  return match[1]!.trim().split(' ').filter((flag) => flag !== '');
}
