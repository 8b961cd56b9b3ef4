import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULTS, loadCollectionConfig, loadConfig } from '../src/config/config.js';
import { ConfigError } from '../src/config/errors.js';
import { editDistance } from '../src/config/variable-names.js';
import { parsePortList } from '../src/config/ports.js';
import { FIXTURES } from './support/paths.js';

describe('UDP_LISTENER_PORTS', () => {
  it('reads names, single ports and ranges, sorted by port', () => {
    assert.deepEqual(parsePortList('syslog=514,filebeat=6984,9000-9002', 'V'), [
      { port: 514, name: 'syslog' },
      { port: 6984, name: 'filebeat' },
      { port: 9000 },
      { port: 9001 },
      { port: 9002 },
    ]);
  });

  it('gives every port of a named range the name, and ignores blanks around entries', () => {
    assert.deepEqual(parsePortList(' netflow=2055-2056 , 53 ', 'V'), [{ port: 53 }, { port: 2055, name: 'netflow' }, { port: 2056, name: 'netflow' }]);
  });

  it('means discovery mode when empty or blank', () => {
    assert.deepEqual(parsePortList('', 'V'), []);
    assert.deepEqual(parsePortList('   ', 'V'), []);
  });

  it('accepts the extremes 1 and 65535 and a one-port range', () => {
    assert.deepEqual(parsePortList('1,65535,7-7', 'V'), [{ port: 1 }, { port: 7 }, { port: 65535 }]);
  });

  // [list, the token the error must name]
  const bad: readonly [string, string][] = [
    ['70000', '70000'],
    ['0', '0'],
    ['abc', 'abc'],
    ['10-5', '10-5'],
    ['=514', '=514'],
    ['a=1,a=2', 'a=2'],
    ['514,514', '514'],
    ['9000-9010,x=9005', 'x=9005'],
    ['514,,6984', '514,,6984'],
    ['514,', '514,'],
    ['-5', '-5'],
    ['5-', '5-'],
    ['1-2-3', '1-2-3'],
    ['0x10', '0x10'],
    ['+514', '+514'],
    ['5 14', '5 14'],
    ['my name=514', 'my name=514'],
    ['a=b=514', 'a=b=514'],
    ['sys"log=514', 'sys"log=514'],
    [`${'n'.repeat(65)}=514`, `${'n'.repeat(65)}=514`],
    ['syslog=', 'syslog='],
    ['100000000000000000000', '100000000000000000000'],
  ];
  for (const [list, token] of bad) {
    it(`refuses ${JSON.stringify(list)}, naming ${JSON.stringify(token)}`, () => {
      assert.throws(
        () => parsePortList(list, 'UDP_LISTENER_PORTS'),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.variable === 'UDP_LISTENER_PORTS' &&
          error.token === token &&
          error.message.startsWith(`UDP_LISTENER_PORTS: ${JSON.stringify(token)}: `) &&
          !error.message.includes('\n'),
      );
    });
  }
});

describe('loadConfig', () => {
  const procRoot = `${FIXTURES}procfs/real`;

  it('has sensible defaults: discovery mode, port 9464, all interfaces', () => {
    const config = loadConfig({});
    assert.deepEqual(config, {
      procRoot: DEFAULTS.procRoot,
      ports: [],
      discoveryLimit: 100,
      collectionTimeoutMs: 5000,
      owners: true,
      netns: 'host',
      socketSource: 'procfs',
      prometheus: { host: undefined, port: 9464 },
      export: { exporters: new Set(['prometheus']), otlp: undefined, intervalMs: 60000, timeoutMs: 30000 },
      resource: { serviceName: 'udp-listener-exporter', attributes: {} },
      web: undefined,
      logLevel: 'info',
      warnings: [],
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      HOST_PROC: procRoot,
      UDP_LISTENER_PORTS: 'syslog=514',
      UDP_LISTENER_DISCOVERY_LIMIT: '7',
      UDP_LISTENER_COLLECTION_TIMEOUT: '250ms',
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: '0',
      OTEL_LOG_LEVEL: 'DEBUG',
      UDP_LISTENER_OWNERS: 'false',
      UDP_LISTENER_NETNS: 'ALL',
      UDP_LISTENER_SOURCE: 'Netlink',
      OTEL_SERVICE_NAME: 'udp-exporter-eu1',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,team=platform%20ops,service.name=ignored',
    });
    assert.deepEqual(config, {
      procRoot,
      ports: [{ port: 514, name: 'syslog' }],
      discoveryLimit: 7,
      collectionTimeoutMs: 250,
      owners: false,
      netns: 'all',
      socketSource: 'netlink',
      prometheus: { host: '127.0.0.1', port: 0 },
      export: { exporters: new Set(['prometheus']), otlp: undefined, intervalMs: 60000, timeoutMs: 30000 },
      resource: { serviceName: 'udp-exporter-eu1', attributes: { 'deployment.environment.name': 'prod', team: 'platform ops' } },
      web: undefined,
      logLevel: 'debug',
      warnings: [],
    });
  });

  it('takes ports a command line gave instead of UDP_LISTENER_PORTS, which it then does not parse; other variables still count', () => {
    const given = parsePortList('syslog=514', 'PORTSPEC');
    const config = loadConfig({ UDP_LISTENER_PORTS: 'not a port list', UDP_LISTENER_OWNERS: 'false' }, { ports: given });
    assert.deepEqual(config.ports, given);
    assert.equal(config.owners, false);
    assert.throws(() => loadConfig({ UDP_LISTENER_PORTS: 'not a port list' }, { ports: undefined }), ConfigError);
  });

  it('loadCollectionConfig reads the collection\'s variables alone, and still refuses an unknown UDP_LISTENER_* name', () => {
    const env = { UDP_LISTENER_OWNERS: 'false', OTEL_LOG_LEVEL: 'debug', UDP_LISTENER_WEB_CONFIG_FILE: '/nonexistent', OTEL_EXPORTER_PROMETHEUS_PORT: 'http' };
    assert.throws(() => loadConfig(env), ConfigError);
    const config = loadCollectionConfig(env);
    const { procRoot, ports, discoveryLimit, collectionTimeoutMs, owners, netns, socketSource, logLevel } = loadConfig({ UDP_LISTENER_OWNERS: 'false', OTEL_LOG_LEVEL: 'debug' });
    assert.deepEqual(config, { procRoot, ports, discoveryLimit, collectionTimeoutMs, owners, netns, socketSource, logLevel });
    assert.equal(config.owners, false);
    assert.equal(config.logLevel, 'debug');
    assert.throws(() => loadCollectionConfig({ UDP_LISTENER_PORT: '514' }), (error: unknown) => error instanceof ConfigError && error.variable === 'UDP_LISTENER_PORT');
  });

  it('treats empty values as unset, as the OpenTelemetry specification says', () => {
    assert.equal(loadConfig({ OTEL_EXPORTER_PROMETHEUS_PORT: '', UDP_LISTENER_DISCOVERY_LIMIT: ' ' }).prometheus.port, 9464);
  });

  const bad: readonly [Record<string, string>, string, string][] = [
    [{ UDP_LISTENER_DISCOVERY_LIMIT: '0' }, 'UDP_LISTENER_DISCOVERY_LIMIT', '0'],
    [{ UDP_LISTENER_SOURCE: 'ss' }, 'UDP_LISTENER_SOURCE', 'ss'],
    [{ UDP_LISTENER_DISCOVERY_LIMIT: 'ten' }, 'UDP_LISTENER_DISCOVERY_LIMIT', 'ten'],
    [{ UDP_LISTENER_DISCOVERY_LIMIT: '-1' }, 'UDP_LISTENER_DISCOVERY_LIMIT', '-1'],
    [{ UDP_LISTENER_COLLECTION_TIMEOUT: '5' }, 'UDP_LISTENER_COLLECTION_TIMEOUT', '5'],
    [{ UDP_LISTENER_COLLECTION_TIMEOUT: '5h' }, 'UDP_LISTENER_COLLECTION_TIMEOUT', '5h'],
    [{ UDP_LISTENER_COLLECTION_TIMEOUT: '0s' }, 'UDP_LISTENER_COLLECTION_TIMEOUT', '0s'],
    [{ UDP_LISTENER_COLLECTION_TIMEOUT: '2m' }, 'UDP_LISTENER_COLLECTION_TIMEOUT', '2m'],
    [{ OTEL_EXPORTER_PROMETHEUS_PORT: '70000' }, 'OTEL_EXPORTER_PROMETHEUS_PORT', '70000'],
    [{ OTEL_EXPORTER_PROMETHEUS_PORT: 'http' }, 'OTEL_EXPORTER_PROMETHEUS_PORT', 'http'],
    [{ OTEL_LOG_LEVEL: 'loud' }, 'OTEL_LOG_LEVEL', 'loud'],
    [{ HOST_PROC: '/nonexistent/proc' }, 'HOST_PROC', '/nonexistent/proc'],
    [{ HOST_PROC: `${FIXTURES}capture-procfs.py` }, 'HOST_PROC', `${FIXTURES}capture-procfs.py`],
    [{ UDP_LISTENER_PORT: '514' }, 'UDP_LISTENER_PORT', '514'],
    [{ UDP_LISTENER_OWNERS: 'yes' }, 'UDP_LISTENER_OWNERS', 'yes'],
    [{ UDP_LISTENER_NETNS: 'pods' }, 'UDP_LISTENER_NETNS', 'pods'],
    [{ OTEL_RESOURCE_ATTRIBUTES: 'a=1,b' }, 'OTEL_RESOURCE_ATTRIBUTES', 'b'],
    [{ OTEL_RESOURCE_ATTRIBUTES: '=1' }, 'OTEL_RESOURCE_ATTRIBUTES', '=1'],
    [{ OTEL_RESOURCE_ATTRIBUTES: 'a=%E0%A4%A' }, 'OTEL_RESOURCE_ATTRIBUTES', 'a=%E0%A4%A'],
  ];
  for (const [env, variable, token] of bad) {
    it(`refuses ${variable}=${JSON.stringify(env[variable])}`, () => {
      assert.throws(
        () => loadConfig(env),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.variable === variable &&
          error.token === token &&
          error.message.startsWith(`${variable}: ${JSON.stringify(token)}: `),
      );
    });
  }
});

describe('names that resemble the service\'s variables', () => {
  // [name in the environment, the known name the warning must name]
  const nearMisses: readonly [string, string][] = [
    ['udp_listener_ports', 'UDP_LISTENER_PORTS'],
    ['UDP_LISTNER_PORTS', 'UDP_LISTENER_PORTS'],
    ['Udp_Listener_Netns', 'UDP_LISTENER_NETNS'],
    ['udp_listener_anything_else', 'UDP_LISTENER_NETNS'],
    ['udp_listener_collection_timeot', 'UDP_LISTENER_COLLECTION_TIMEOUT'],
    ['UDP_LISTENR_OWNERS', 'UDP_LISTENER_OWNERS'],
    ['OTEL_EXPORTER_OTLP_HEADRS', 'OTEL_EXPORTER_OTLP_HEADERS'],
    ['OTEL_EXPORTER_OTLP_METRIC_ENDPOINT', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'],
    ['OTEL_METRICS_EXPROTER', 'OTEL_METRICS_EXPORTER'],
    ['otel_log_level', 'OTEL_LOG_LEVEL'],
    ['HOST_PROCS', 'HOST_PROC'],
  ];
  for (const [name, resembles] of nearMisses) {
    it(`${name} is ignored with one warning naming ${resembles}; the service still starts`, () => {
      assert.deepEqual(loadConfig({ [name]: '514' }).warnings, [{ variable: name, resembles }]);
    });
  }

  it('other software\'s variables, standard OpenTelemetry ones for other signals included, raise nothing', () => {
    const env = {
      PATH: '/usr/bin',
      HOME: '/root',
      HOSTNAME: 'node-1',
      KUBERNETES_SERVICE_HOST: '10.0.0.1',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces',
      OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'a=b',
      OTEL_BSP_SCHEDULE_DELAY: '5000',
      GRPC_VERBOSITY: 'ERROR',
      HOST_SYS: '/host/sys',
      HOST_ETC: '/host/etc',
    };
    assert.deepEqual(loadConfig(env).warnings, []);
  });

  it('an unknown name with the exact UDP_LISTENER_ prefix is refused, with the nearest name when it is near', () => {
    assert.throws(() => loadConfig({ UDP_LISTENER_PROTS: '514' }), /^ConfigError: UDP_LISTENER_PROTS: "514": unknown variable \(did you mean UDP_LISTENER_PORTS\?\); the known ones are UDP_LISTENER_PORTS, /);
    assert.throws(() => loadConfig({ UDP_LISTENER_COLOUR: 'blue' }), /^ConfigError: UDP_LISTENER_COLOUR: "blue": unknown variable; the known ones are /);
  });

  const distances: readonly [string, string, number][] = [
    ['UDP_LISTENER_PORTS', 'UDP_LISTENER_PORTS', 0],
    ['UDP_LISTNER_PORTS', 'UDP_LISTENER_PORTS', 1],
    ['UDP_LISTENER_PROTS', 'UDP_LISTENER_PORTS', 1],
    ['UDP_LISTENER_PORT', 'UDP_LISTENER_PORTS', 1],
    ['UDP_LISTNR_PORTS', 'UDP_LISTENER_PORTS', 2],
    ['CA', 'ABC', 3],
    ['HOST_PATH', 'HOST_PROC', 3],
  ];
  for (const [a, b, edits] of distances) {
    it(`editDistance(${a}, ${b}) is ${edits}, and the cap stops counting`, () => {
      assert.equal(editDistance(a, b, 10), edits);
      assert.equal(editDistance(b, a, 10), edits);
      assert.equal(editDistance(a, b, 1), Math.min(edits, 1));
    });
  }
});
