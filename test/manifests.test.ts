/**
 * The Kubernetes and Collector manifests in otel/ carry settings otel/README.md relies on; no cluster
 * or Collector binary exists here, so those settings are checked where they are written.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../src/config/config.js';
import { REPO_ROOT } from './support/paths.js';

/** Parsed YAML, walked by the assertions that follow. */
type Json = Record<string, any>;

describe('otel/kubernetes/daemonset.yaml', () => {
  const documents = parseAllDocuments(readFileSync(`${REPO_ROOT}otel/kubernetes/daemonset.yaml`, 'utf8')).map((d) => d.toJS() as Json);
  const daemonSet = documents.find((d) => d.kind === 'DaemonSet')!;
  const configMap = documents.find((d) => d.kind === 'ConfigMap')!;
  const pod = daemonSet.spec.template.spec as Json;
  const container = pod.containers[0] as Json;

  it('mounts the node\'s /proc read-only where HOST_PROC points, in the host PID namespace', () => {
    assert.equal(pod.hostPID, true);
    const hostProc = container.env.find((e: Json) => e.name === 'HOST_PROC').value as string;
    const mount = container.volumeMounts.find((m: Json) => m.mountPath === hostProc);
    assert.equal(mount.readOnly, true);
    const volume = pod.volumes.find((v: Json) => v.name === mount.name);
    assert.equal(volume.hostPath.path, '/proc');
  });

  it('keeps only the two capabilities the owner lookup needs, on a read-only root, with no escalation', () => {
    const security = container.securityContext as Json;
    assert.deepEqual(security.capabilities.drop, ['ALL']);
    assert.deepEqual([...security.capabilities.add].sort(), ['DAC_READ_SEARCH', 'SYS_PTRACE']);
    assert.equal(security.readOnlyRootFilesystem, true);
    assert.equal(security.allowPrivilegeEscalation, false);
  });

  it('passes only variables the service knows, and values it accepts', () => {
    const env: Record<string, string> = { ...configMap.data };
    for (const entry of container.env as Json[]) if (typeof entry.value === 'string') env[entry.name] = entry.value;
    delete env.NODE_NAME; // only an input of OTEL_RESOURCE_ATTRIBUTES' $(NODE_NAME)
    for (const name of Object.keys(env)) assert.ok(CONFIG_VARIABLES.includes(name), `${name} is not a variable of the service`);
    env.HOST_PROC = '/proc';
    env.OTEL_RESOURCE_ATTRIBUTES = env.OTEL_RESOURCE_ATTRIBUTES!.replaceAll('$(NODE_NAME)', 'node-a');
    const config = loadConfig(env);
    assert.equal(config.resource.attributes['service.instance.id'], 'node-a');
  });

  it('probes and scrapes the port the service listens on by default', () => {
    const port = container.ports.find((p: Json) => p.name === 'metrics');
    assert.equal(port.containerPort, loadConfig({}).prometheus.port);
    assert.equal(daemonSet.spec.template.metadata.annotations['prometheus.io/port'], String(port.containerPort));
    assert.equal(container.readinessProbe.httpGet.path, '/');
  });
});

describe('otel/collector.yaml', () => {
  const collector = parse(readFileSync(`${REPO_ROOT}otel/collector.yaml`, 'utf8')) as Json;

  it('routes OTLP (gRPC and HTTP) to the prometheus exporter', () => {
    assert.ok(collector.receivers.otlp.protocols.grpc && collector.receivers.otlp.protocols.http);
    const pipeline = collector.service.pipelines.metrics;
    assert.deepEqual(pipeline.receivers, ['otlp']);
    assert.deepEqual(pipeline.exporters, ['prometheus']);
    for (const processor of pipeline.processors) assert.ok(processor in collector.processors, processor);
  });

  it('uses the naming strategy test/support/collector-naming.ts implements', () => {
    assert.equal(collector.exporters.prometheus.translation_strategy, 'UnderscoreEscapingWithSuffixes');
  });

  it('keeps a series at least two default push intervals before expiring it', () => {
    const expiration = /^(\d+)m$/.exec(collector.exporters.prometheus.metric_expiration)!;
    assert.ok(Number(expiration[1]) * 60_000 >= 2 * loadConfig({}).export.intervalMs);
  });
});
