/** Locations in the source tree, from the compiled test files in dist/test/. */
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const MAIN_JS = fileURLToPath(new URL('../../src/main.js', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
export const SOCKET_HOLDER = fileURLToPath(new URL('../../../test/support/socket-holder.py', import.meta.url));
export const STUCK_FUSE = fileURLToPath(new URL('../../../test/support/stuck-fuse.py', import.meta.url));
