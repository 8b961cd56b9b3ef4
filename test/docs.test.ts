/**
 * The README and otel/ files must stay true to the code in the same commit. The configuration
 * and metric tables of the README are rendered from the code's tables (test/support/docs-tables.ts):
 * run `UPDATE_GOLDEN=1 npm test` to rewrite them after changing a variable or a metric.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CONFIG_VARIABLES, loadConfig } from '../src/config/config.js';
import { GENERATED_TABLES, generatedBlocks, regenerate } from './support/docs-tables.js';
import { REPO_ROOT } from './support/paths.js';

/** The Markdown files that hold generated tables. */
const WITH_TABLES = ['README.md', 'otel/README.md'];

describe('generated tables', () => {
  if (process.env.UPDATE_GOLDEN === '1') {
    for (const file of WITH_TABLES) writeFileSync(`${REPO_ROOT}${file}`, regenerate(readFileSync(`${REPO_ROOT}${file}`, 'utf8')));
  }
  const blocks = WITH_TABLES.flatMap((file) => generatedBlocks(readFileSync(`${REPO_ROOT}${file}`, 'utf8')).map((block) => ({ file, ...block })));

  it('every generated table appears exactly once', () => {
    assert.deepEqual(blocks.map(({ name }) => name).sort(), Object.keys(GENERATED_TABLES).sort());
  });

  for (const { file, name, content } of blocks) {
    it(`${file}: table "${name}" is what the code's table renders (UPDATE_GOLDEN=1 npm test rewrites it)`, () => {
      assert.equal(content, GENERATED_TABLES[name]!());
    });
  }
});

describe('README size', () => {
  it('stays readable in one sitting: under 25,600 bytes (25 KiB) (operations live in otel/README.md, figures in test/bench/README.md)', () => {
    const bytes = statSync(`${REPO_ROOT}README.md`).size;
    assert.ok(bytes < 25_600, `README.md is ${bytes} bytes`);
  });
});

/** The Markdown files that point into each other; paths are relative to the repository root. */
const MARKDOWN_FILES = ['README.md', 'otel/README.md', 'test/README.md', 'test/bench/README.md'];

/** The text without fenced code blocks, whose `#` lines are shell comments and whose brackets are not links. */
function withoutCodeBlocks(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');
}

/** The #anchors GitHub gives the headings: lower case, punctuation but `-` and `_` dropped, spaces to `-`, repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const [, heading] of withoutCodeBlocks(markdown).matchAll(/^#{1,6} +(.+?) *$/gm)) {
    const base = heading!.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replaceAll(' ', '-');
    let anchor = base;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${base}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}

describe('relative Markdown links', () => {
  for (const file of MARKDOWN_FILES) {
    it(`${file}: every relative link names an existing file and, after #, a heading in it`, () => {
      const prose = withoutCodeBlocks(readFileSync(`${REPO_ROOT}${file}`, 'utf8')).replace(/`[^`\n]*`/g, '');
      const targets = [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
      assert.ok(targets.length > 0, `${file} has no relative links: is the pattern still right?`);
      const broken: string[] = [];
      for (const target of targets) {
        const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
        const resolved = pathPart === '' ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), pathPart));
        if (resolved.startsWith('../') || !existsSync(`${REPO_ROOT}${resolved}`)) {
          broken.push(`${target}: no file ${resolved}`);
        } else if (anchor !== undefined && !headingAnchors(readFileSync(`${REPO_ROOT}${resolved}`, 'utf8')).has(anchor)) {
          broken.push(`${target}: no heading #${anchor} in ${resolved}`);
        }
      }
      assert.deepEqual(broken, []);
    });
  }
});

describe('otel/udp-listener-exporter.env', () => {
  const lines = readFileSync(`${REPO_ROOT}otel/udp-listener-exporter.env`, 'utf8').split('\n');
  const assignments = lines.map((line) => /^#?([A-Z_]+)=(.*)$/.exec(line)).filter((m) => m !== null);

  it('mentions every variable, and only variables the service reads', () => {
    assert.deepEqual(assignments.map((m) => m[1]).sort(), [...CONFIG_VARIABLES].sort());
  });

  it('is a valid configuration with every line uncommented', () => {
    const env = Object.fromEntries(assignments.map((m) => [m[1]!, m[2]!]));
    assert.doesNotThrow(() => loadConfig(env));
  });
});
