/**
 * The command line as a user meets it: `--help`, `--version`, `check --help`, and what is
 * refused. None of them may read the configuration or open a port: each runs with a
 * configuration that would stop the service (exit 2), in a process where opening a port throws
 * (a preload, support/forbid-listening.ts), which a test shows does catch the service listening.
 * `check` refuses as a monitoring plugin does: UNKNOWN on stdout, exit 3.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { VARIABLES } from '../src/config/variables.js';
import { METRICS } from '../src/telemetry/metrics.js';
import { expectedVersionText, runCommand, type Outcome } from './support/artifact.js';
import { MAIN_JS, REPO_ROOT } from './support/paths.js';

const FORBID_LISTENING = new URL('./support/forbid-listening.js', import.meta.url).href;
/** A configuration the service refuses: whatever reads it exits 2. */
const REFUSED_CONFIGURATION = { UDP_LISTENER_PORTS: '70000' };

describe('command line', () => {
  function runGuarded(args: readonly string[], configuration: Record<string, string>): Promise<Outcome> {
    const env = { PATH: process.env.PATH, OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: '0', ...configuration };
    return runCommand(process.execPath, ['--import', FORBID_LISTENING, MAIN_JS, ...args], env);
  }
  const cli = (...args: string[]): Promise<Outcome> => runGuarded(args, REFUSED_CONFIGURATION);

  for (const flag of ['--help', '-h']) {
    it(`${flag} prints usage, every variable with its default and summary, and every metric; exit 0`, async () => {
      const { code, stdout, stderr } = await cli(flag);
      assert.equal(stderr, '');
      assert.equal(code, 0);
      assert.match(stdout, /^Usage: udp-listener-exporter/);
      assert.ok(VARIABLES.length > 10 && METRICS.length > 10, 'the tables the loops below walk are not empty');
      for (const variable of VARIABLES) {
        const plain = (text: string): string => text.replace(/\[([^\]]+)\]\([^)]*\)/g, '$1').replace(/`/g, '');
        assert.ok(stdout.includes(`  ${variable.name}  (default: ${plain(variable.default)})\n      ${plain(variable.summary)}\n`), variable.name);
      }
      for (const metric of METRICS) assert.match(stdout, new RegExp(`^  ${metric.prometheusName} +${metric.kind}$`, 'm'));
    });
  }

  it('check loads no OpenTelemetry package, and the recorder sees the service load them', async () => {
    const recorder = new URL('./support/record-opentelemetry.js', import.meta.url).href;
    const run = (args: readonly string[]): Promise<Outcome> =>
      runCommand(process.execPath, ['--import', recorder, MAIN_JS, ...args], { PATH: process.env.PATH, OTEL_METRICS_EXPORTER: 'none', UDP_LISTENER_OWNERS: 'false' });
    const check = await run(['check', '1']);
    assert.equal(check.code, 2, check.stdout + check.stderr);
    assert.doesNotMatch(check.stderr, /^imported /m);
    // The same recorder sees --version load the SDK: it is not blind.
    const version = await run(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stderr, /^imported .*\/@opentelemetry\/core\//m);
  });

  it('--version prints the package, Node and SDK versions; exit 0', async () => {
    const { code, stdout, stderr } = await cli('--version');
    assert.equal(stderr, '');
    assert.equal(code, 0);
    const { version } = JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { version: string };
    assert.equal(stdout, expectedVersionText(version, process.versions.node));
  });

  const refused: readonly (readonly [readonly string[], string])[] = [
    [['--bogus'], 'unknown option --bogus'],
    [['-x'], 'unknown option -x'],
    [['--port', '9100'], 'unknown option --port'],
    [['--help=yes'], 'option --help takes no value'],
    [['9100'], 'unexpected argument "9100"'],
    [['serve', 'now'], 'unexpected argument "now"'],
  ];
  for (const [args, message] of refused) {
    it(`${args.join(' ')}: one line naming it, exit 2`, async () => {
      const { code, stdout, stderr } = await cli(...args);
      assert.equal(code, 2);
      assert.equal(stdout, '');
      assert.equal(stderr.split('\n').length, 2, `one line: ${stderr}`);
      assert.ok(stderr.startsWith(`udp-listener-exporter: ${message}`), stderr);
    });
  }

  it('no argument, or `serve`, starts the service: it reads the configuration (here: refused, exit 2)', async () => {
    for (const args of [[], ['serve']]) {
      const { code, stderr } = await cli(...args);
      assert.equal(code, 2);
      assert.match(stderr, /configuration error: UDP_LISTENER_PORTS: "70000"/);
    }
  });

  it('with a usable configuration, serving trips the guard against opening a port (exit 1): the guard works', async () => {
    const { code, stderr } = await runGuarded([], { UDP_LISTENER_PORTS: '514' });
    assert.equal(code, 1);
    assert.match(stderr, /msg="start-up failed" error="opened a port: listen\(\) called"/);
  });

  it('--help names the check subcommand; check --help prints its own usage; exit 0', async () => {
    assert.match((await cli('--help')).stdout, /^ {7}udp-listener-exporter check \[options\] \[PORTSPEC\.\.\.\]$/m);
    for (const flag of ['--help', '-h']) {
      const { code, stdout, stderr } = await cli('check', flag);
      assert.equal(stderr, '');
      assert.equal(code, 0);
      assert.match(stdout, /^Usage: udp-listener-exporter check \[options\] \[PORTSPEC\.\.\.\]\n/);
      for (const option of ['--window DURATION', '--queue-warning BYTES', '--queue-critical BYTES', '--wait DURATION', '--json']) assert.ok(stdout.includes(`  ${option}`), option);
      assert.match(stdout, /3 UNKNOWN: bad arguments or environment, or the socket tables could not be read/);
    }
  });

  // The environment's UDP_LISTENER_PORTS=70000 would be UNKNOWN too: each case names its own problem.
  const checkRefused: readonly (readonly [readonly string[], string])[] = [
    [['check', '--bogus', '514'], 'unknown option --bogus (see udp-listener-exporter check --help)'],
    [['check', '--window'], 'option --window needs a value (see udp-listener-exporter check --help)'],
    [['check', '--window', '5x', '514'], '--window: "5x": expected a duration such as 500ms, 5s or 1m, from 100 ms to 600000 ms'],
    [['check', '--wait', '20m', '514'], '--wait: "20m": expected a duration such as 500ms, 5s or 1m, from 100 ms to 600000 ms'],
    [['check', '--json=yes', '514'], 'option --json takes no value'],
    [['check', '--window', '1s', '--window', '2s', '514'], 'option --window is given twice'],
    [['check', '--queue-warning', '-5', '514'], '--queue-warning: "-5": expected a number of bytes from 0 to 9007199254740991'],
    [['check', '--queue-warning', '2000', '--queue-critical', '1000', '514'], '--queue-warning 2000 is above --queue-critical 1000'],
    [['check', '70000'], 'PORTSPEC: "70000": port 70000 is outside 1-65535'],
    [['check', 'a=514', 'a=515'], 'PORTSPEC: "a=515": name "a" is already used by "a=514"'],
    [['check', '514,515', '515'], 'PORTSPEC: "515": port 515 is already given by "515"'],
  ];
  for (const [args, message] of checkRefused) {
    it(`${args.join(' ')}: UNKNOWN naming it on stdout, exit 3`, async () => {
      const { code, stdout, stderr } = await cli(...args);
      assert.equal(code, 3);
      assert.equal(stderr, '');
      assert.equal(stdout, `UNKNOWN - ${message}\n`);
    });
  }

  it('check with a bad environment: UNKNOWN with the configuration error, exit 3', async () => {
    const { code, stdout } = await cli('check');
    assert.equal(code, 3);
    assert.equal(stdout.split('\n')[0], 'UNKNOWN - configuration error: UDP_LISTENER_PORTS: "70000": port 70000 is outside 1-65535');
  });
});
