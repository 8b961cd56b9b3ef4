/**
 * The examples of `check` in README.md and otel/README.md (Nagios, Kubernetes, systemd, the
 * shell) are command lines users copy: each must be one the command line accepts, so that an
 * option renamed in the code cannot leave a broken example behind.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { parseCommandLine } from '../src/cli.js';
import { REPO_ROOT } from './support/paths.js';

it('every check command line in the READMEs parses, and there are examples of each kind', () => {
  const readme = ['README.md', 'otel/README.md'].map((file) => readFileSync(`${REPO_ROOT}${file}`, 'utf8')).join('\n');
  const blocks = [...readme.matchAll(/^```[a-z]*\n([\s\S]*?)^```$/gm)].map(([, block]) => block!);
  const commands: string[][] = [];
  for (const block of blocks) {
    // Shell, NRPE and systemd lines: `.../main.js check ARGS` or `udp-listener-exporter check ARGS`.
    for (const [, args] of block.matchAll(/(?:main\.js|udp-listener-exporter) check((?: +[^\s#[\]"]+)*)(?= *(?:#|$))/gm)) {
      commands.push(args!.trim() === '' ? [] : args!.trim().split(/ +/));
    }
    // Exec arrays (Kubernetes probes): [..., "main.js", "check", ...].
    for (const [, rest] of block.matchAll(/"[^"]*main\.js", "check"((?:, "[^"]*")*)\]/g)) {
      commands.push([...rest!.matchAll(/"([^"]*)"/g)].map(([, arg]) => arg!));
    }
  }
  assert.ok(commands.length >= 4, `found ${commands.length} examples: ${JSON.stringify(commands)}`);
  for (const args of commands) assert.equal(parseCommandLine(['check', ...args]).kind, 'check', args.join(' '));
  assert.ok(commands.some((args) => args.includes('--wait')), 'the ExecStartPost= example');
  assert.ok(commands.some((args) => args.includes('--window')), 'a --window example');
});
