// Removes what tsc compiled from a source that is gone: `npm run build` (tsc -b) is incremental
// and never deletes dist/ (a test or a service may be running from it), so a renamed or deleted
// X.ts would otherwise leave dist/X.js behind for good, and `npm test` would keep running a
// deleted test. Only .js and .js.map files without their .ts are removed; dist/sea/ (the single
// executable) and dist/.tsbuildinfo are not tsc's outputs of a source and are left alone.
import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = path.join(root, 'dist');
const KEEP = new Set([path.join(dist, 'sea')]);

/** Prunes one directory; true when it is left empty. */
function prune(directory) {
  let remaining = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const file = path.join(directory, entry.name);
    if (KEEP.has(file)) remaining++;
    else if (entry.isDirectory()) {
      if (prune(file)) rmdirSync(file);
      else remaining++;
    } else {
      const compiled = /^(.*)\.js(?:\.map)?$/.exec(path.relative(dist, file));
      if (compiled !== null && !existsSync(path.join(root, `${compiled[1]}.ts`))) rmSync(file);
      else remaining++;
    }
  }
  return remaining === 0;
}

if (existsSync(dist)) prune(dist);
