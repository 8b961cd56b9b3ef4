import { readFileSync } from 'node:fs';

/**
 * The version, put in by the single-executable build (an esbuild `define`), which has no
 * package.json beside it. Undeclared everywhere else, where `typeof` reads it as undefined.
 */
declare const BUNDLED_PACKAGE_VERSION: string | undefined;

/** The version in package.json, read when asked (nothing is read at import time). */
export function packageVersion(): string {
  if (typeof BUNDLED_PACKAGE_VERSION === 'string') return BUNDLED_PACKAGE_VERSION;
  // Compiled to dist/src/version.js; package.json sits two levels up in the source tree and in a package.
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}
