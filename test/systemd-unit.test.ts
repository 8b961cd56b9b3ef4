/**
 * otel/systemd/udp-listener-exporter.service, checked by systemd's own tools: `verify` for its
 * syntax and `security` for what the hardening adds up to, and read here for the settings the
 * exporter needs and the ones that would blind it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { INSTALLED_MAIN } from './support/package.js';
import { MAIN_JS, productionNodeFlags, REPO_ROOT } from './support/paths.js';
import { requireTool } from './support/tools.js';

const UNIT_NAME = 'udp-listener-exporter.service';
const UNIT = readFileSync(`${REPO_ROOT}otel/systemd/${UNIT_NAME}`, 'utf8');
/** The single executable, installed where node_exporter's binary goes. */
const INSTALLED_EXECUTABLE = '/usr/local/bin/udp-listener-exporter';
/** The other way: the npm package installed with --prefix /opt/udp-listener-exporter, run by the system's node. */
const PACKAGE_EXEC_START = `/usr/bin/node ${productionNodeFlags().join(' ')} /opt/udp-listener-exporter/${INSTALLED_MAIN}`;
const CAPABILITIES = 'CAP_DAC_READ_SEARCH CAP_SYS_PTRACE';

/** Key=value settings of one section, every value of a repeated key in order; comments skipped. */
function section(name: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let current = '';
  for (const line of UNIT.split('\n')) {
    const header = /^\[(\w+)\]$/.exec(line);
    if (header !== null) current = header[1]!;
    const setting = /^(\w+)=(.*)$/.exec(line);
    if (current === name && setting !== null) settings.set(setting[1]!, [...(settings.get(setting[1]!) ?? []), setting[2]!]);
  }
  return settings;
}

/** A path as one word of a systemd command line. */
function quoted(file: string): string {
  return `"${file.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('%', '%%')}"`;
}

/**
 * The unit as verify can judge it: verify checks that the ExecStart binary exists, and neither
 * /usr/local/bin/udp-listener-exporter nor /opt/... exists on a test machine (the single
 * executable is built only in the Node 26 pass). So the node running this test on this
 * checkout's dist/src/main.js takes its place; everything else is the shipped text.
 */
function unitForThisMachine(): string {
  const shipped = `ExecStart=${INSTALLED_EXECUTABLE}\n`;
  assert.equal(UNIT.split(shipped).length, 2, `the unit should contain ${JSON.stringify(shipped)} exactly once`);
  assert.ok(existsSync(MAIN_JS), MAIN_JS);
  return UNIT.replace(shipped, `ExecStart=${quoted(process.execPath)} ${productionNodeFlags().join(' ')} ${quoted(MAIN_JS)}\n`);
}

function run(tool: string, args: readonly string[]): { status: number | null; output: string; stdout: string } {
  const result = spawnSync(tool, args, { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}`, stdout: result.stdout };
}

describe('the systemd unit', () => {
  const service = section('Service');
  const directory = mkdtempSync(path.join(tmpdir(), 'udp-listener-unit-'));
  const unitFile = path.join(directory, UNIT_NAME);
  writeFileSync(unitFile, unitForThisMachine());
  after(() => rmSync(directory, { recursive: true, force: true }));

  it('runs the single executable, and shows how to run the npm package instead; with the optional environment file', () => {
    assert.deepEqual(service.get('ExecStart'), [INSTALLED_EXECUTABLE]);
    // The package's line is commented out, with the node flags of npm start and the path npm installs to.
    assert.equal(UNIT.split(`\n#ExecStart=${PACKAGE_EXEC_START}\n`).length, 2, PACKAGE_EXEC_START);
    assert.match(UNIT, /^# +sudo npm install --global --prefix \/opt\/udp-listener-exporter /m);
    assert.deepEqual(service.get('EnvironmentFile'), ['-/etc/default/udp-listener-exporter']);
    assert.deepEqual(service.get('Restart'), ['on-failure']);
  });

  it('runs as an unprivileged user with exactly the two capabilities the owner lookup needs', () => {
    assert.ok(service.get('DynamicUser')?.[0] === 'yes' || service.has('User'), 'DynamicUser=yes or User=');
    assert.deepEqual(service.get('AmbientCapabilities'), [CAPABILITIES]);
    assert.deepEqual(service.get('CapabilityBoundingSet'), [CAPABILITIES]);
    for (const setting of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp', 'ProtectKernelTunables']) {
      assert.deepEqual(service.get(setting), ['yes'], setting);
    }
    assert.deepEqual(service.get('ProtectSystem'), ['strict']);
  });

  it('passes systemd-analyze verify without a warning', (t) => {
    const analyze = requireTool(t, 'systemd-analyze', 'systemd');
    if (analyze === undefined) return;
    // verify exits 0 even on unknown or unparsable settings; it only prints them.
    const { status, output } = run(analyze, ['verify', unitFile]);
    assert.equal(status, 0, output);
    assert.equal(output, '');
  });

  it('rates an exposure of at most 2.5 in systemd-analyze security, leaving /proc and the host network visible', (t) => {
    const analyze = requireTool(t, 'systemd-analyze', 'systemd');
    if (analyze === undefined) return;
    // --threshold is on a 0-100 scale; the report prints it divided by ten.
    const report = run(analyze, ['security', '--offline=true', '--threshold=25', unitFile]);
    assert.equal(report.status, 0, report.output);

    const checks = JSON.parse(run(analyze, ['security', '--offline=true', '--json=short', unitFile]).stdout) as { name: string; set: boolean }[];
    const isSet = (name: string): boolean => {
      const check = checks.find((c) => c.name === name);
      assert.ok(check !== undefined, `systemd-analyze security has no check ${name}`);
      return check.set;
    };
    // Each of these would hide the sockets or their owners from the exporter.
    for (const name of ['ProtectProc=', 'ProcSubset=', 'PrivateNetwork=', 'PrivateUsers=']) assert.equal(isSet(name), false, name);
    // Of all capabilities, only the two it needs remain: DAC_READ_SEARCH is one of CAP_DAC_*.
    const capabilityChecks = checks.filter((c) => c.name.startsWith('CapabilityBoundingSet='));
    assert.ok(capabilityChecks.length > 10);
    assert.deepEqual(capabilityChecks.filter((c) => !c.set).map((c) => c.name).sort(), [
      'CapabilityBoundingSet=~CAP_(DAC_*|FOWNER|IPC_OWNER)',
      'CapabilityBoundingSet=~CAP_SYS_PTRACE',
    ]);
  });
});
