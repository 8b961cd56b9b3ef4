/** Fixture procfs trees: the captured real files, with chosen files replaced, broken or removed. */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FIXTURES } from './paths.js';

/** New text, null (delete), a FIFO nobody writes, an empty directory, or a symbolic link to `link`. */
export type TreeChange = string | null | 'fifo' | 'directory' | { readonly link: string };

/**
 * A copy of test/fixtures/procfs/real in a temporary directory, with `changes` applied by path
 * below the root. Links make fake fd and ns entries: `{ link: 'socket:[5047]' }`.
 */
export function procTree(changes: Readonly<Record<string, TreeChange>> = {}): { root: string; change(changes: Readonly<Record<string, TreeChange>>): void; remove(): void } {
  const root = mkdtempSync(path.join(tmpdir(), 'udp-listener-procfs-'));
  cpSync(path.join(FIXTURES, 'procfs', 'real'), root, { recursive: true });
  const change = (more: Readonly<Record<string, TreeChange>>): void => {
    for (const [relative, content] of Object.entries(more)) {
      const file = path.join(root, relative);
      rmSync(file, { force: true, recursive: true });
      if (content === null) continue;
      mkdirSync(path.dirname(file), { recursive: true });
      if (typeof content === 'object') symlinkSync(content.link, file);
      else if (content === 'fifo') execFileSync('mkfifo', [file]);
      else if (content === 'directory') mkdirSync(file);
      else writeFileSync(file, content, 'latin1');
    }
  };
  change(changes);
  return { root, change, remove: () => rmSync(root, { recursive: true, force: true }) };
}
