/**
 * The examples of `check` in README.md and otel/README.md (Nagios, Icinga, Kubernetes, systemd,
 * the shell) are command lines users copy: each must be one the command line accepts, so that an
 * option renamed in the code cannot leave a broken example behind, and each must run a program
 * where a shipped install puts it, so that a moved install cannot either.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { parseCommandLine } from '../src/cli.js';
import { REPO_ROOT } from './support/paths.js';

const read = (file: string): string => readFileSync(`${REPO_ROOT}${file}`, 'utf8');

interface Example {
  program: string;
  args: string[];
}

/** Every `check` command line in the fenced code blocks of a Markdown text. */
function checkExamples(markdown: string): Example[] {
  const blocks = [...markdown.matchAll(/^```[a-z]*\n([\s\S]*?)^```$/gm)].map(([, block]) => block!);
  const examples: Example[] = [];
  for (const block of blocks) {
    // Shell, NRPE and systemd lines: `PROGRAM check ARGS`.
    for (const [, program, args] of block.matchAll(/(\S*(?:main\.js|udp-listener-exporter)) check((?: +[^\s#[\]"{}]+)*)(?= *(?:#|\]|}|$))/gm)) {
      examples.push({ program: program!.replace(/^.*=/, ''), args: args!.trim() === '' ? [] : args!.trim().split(/ +/) });
    }
    // Exec arrays (Kubernetes probes, Icinga): ["PROGRAM", "check", ...].
    for (const [, program, rest] of block.matchAll(/"([^"]*(?:main\.js|udp-listener-exporter))", "check"((?:, "[^"]*")*) ?\]/g)) {
      examples.push({ program: program!, args: [...rest!.matchAll(/"([^"]*)"/g)].map(([, arg]) => arg!) });
    }
  }
  return examples;
}

/** Where the shipped installs put the command: the systemd unit's single file, and the package's bin under the image's prefix. */
function shippedPrograms(): string[] {
  const unitProgram = /^ExecStart=(\S+)$/m.exec(read('otel/systemd/udp-listener-exporter.service'))![1]!;
  const packagePrefix = /npm install --global --prefix (\S+) /.exec(read('otel/container/Containerfile'))![1]!;
  const bins = Object.keys((JSON.parse(read('package.json')) as { bin: Record<string, string> }).bin);
  assert.deepEqual(bins, ['udp-listener-exporter']);
  return ['udp-listener-exporter', unitProgram, `${packagePrefix}/bin/udp-listener-exporter`];
}

it('every check command line in the READMEs parses and runs a shipped program, and there are examples of each kind', () => {
  const examples = ['README.md', 'otel/README.md'].flatMap((file) => checkExamples(read(file)));
  assert.ok(examples.length >= 5, `found ${examples.length} examples: ${JSON.stringify(examples)}`);
  const programs = shippedPrograms();
  for (const { program, args } of examples) {
    assert.equal(parseCommandLine(['check', ...args]).kind, 'check', args.join(' '));
    assert.ok(programs.includes(program), `${program} is not where a shipped install puts the command (${programs.join(', ')})`);
  }
  assert.ok(examples.some(({ args }) => args.includes('--wait')), 'the ExecStartPost= example');
  assert.ok(examples.some(({ args }) => args.includes('--window')), 'a --window example');
});

it('README.md itself shows a Nagios, a systemd ExecStartPost= and a Kubernetes exec probe example', () => {
  const readme = read('README.md');
  const examples = checkExamples(readme);
  assert.ok(/^command\[\w+\]=\S+ check /m.test(readme), 'an NRPE command definition');
  assert.ok(/^ExecStartPost=\S+ check /m.test(readme), 'a systemd drop-in');
  assert.ok(/^ *readinessProbe:\n *exec: \{ command: \["[^"]+", "check"/m.test(readme), 'a Kubernetes exec probe of check');
  assert.ok(examples.length >= 3, JSON.stringify(examples));
});
