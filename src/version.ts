import { readFileSync } from 'node:fs';

/** The version in package.json, read when asked (nothing is read at import time). */
export function packageVersion(): string {
  // Compiled to dist/src/version.js; package.json sits two levels up in the source tree and in a package.
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}
