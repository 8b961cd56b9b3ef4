/**
 * UDP_LISTENER_NETNS=all on a fixture procfs tree laid out as a Kubernetes node's: the host (PID 1)
 * and a pod's container process in a namespace of its own, whose cgroup names the pod and the
 * container. The series of each namespace carry its inode, and the pod's carry the container
 * and pod hints from its cgroup, which a real test namespace (netns.test.ts) cannot show: a
 * process started by `ip netns exec` sits in the host's cgroup.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { samplesOf, scrape } from './support/exposition.js';
import { FIXTURES } from './support/paths.js';
import { procTree } from './support/proc-tree.js';
import { startService, type ServiceProcess } from './support/service.js';

const HOST_NETNS = '4026531840';
const POD_NETNS = '4026532999';
const CONTAINER_ID = 'a3f1c0de'.repeat(8);
const POD_UID = '5c0f9d2e-7b1a-4e3c-9f8d-2a6b4c1e0f37';
/** The port only the pod listens on: 9999, and the host's fixture listener on 6984. */
const POD_PORT = '9999';
const HOST_PORT = '6984';

const real = (file: string): string => readFileSync(path.join(FIXTURES, 'procfs', 'real', '1', 'net', file), 'latin1');
const [udpHeader, , hostListener] = real('udp').split('\n');
/** The fixture's 0.0.0.0:6984 listener, moved to port 9999 and another inode. */
const podListener = hostListener!.replace(':1B48 ', ':270F ').replace(/ 5047 /, ' 99001 ');

let tree: ReturnType<typeof procTree>;
let service: ServiceProcess;

before(async () => {
  assert.ok(hostListener!.includes(':1B48 ') && hostListener!.includes(' 5047 '), `the fixture changed: ${hostListener}`);
  tree = procTree({
    '1/ns/net': { link: `net:[${HOST_NETNS}]` },
    '4242/ns/net': { link: `net:[${POD_NETNS}]` },
    '4242/comm': 'shipper\n',
    // systemd's cgroup driver writes the pod uid with underscores.
    '4242/cgroup': `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD_UID.replace(/-/g, '_')}.slice/cri-containerd-${CONTAINER_ID}.scope\n`,
    '4242/net/udp': `${udpHeader}\n${podListener}\n`,
    '4242/net/udp6': `${real('udp6').split('\n')[0]}\n`,
    '4242/net/snmp': real('snmp'),
    '4242/net/snmp6': real('snmp6'),
    // A second process of the pod: the namespace is read once, through its lowest pid, so this
    // process's table (which a real kernel would show identically) must not add anything.
    '4243/ns/net': { link: `net:[${POD_NETNS}]` },
    '4243/comm': 'sidecar\n',
    '4243/net/udp': `${udpHeader}\n${podListener.replace(':270F ', ':22B8 ').replace(' 99001 ', ' 99002 ')}\n`,
    '4243/net/udp6': `${real('udp6').split('\n')[0]}\n`,
    '4243/net/snmp': real('snmp'),
    '4243/net/snmp6': real('snmp6'),
  });
  service = await startService({ HOST_PROC: tree.root, UDP_LISTENER_NETNS: 'all', UDP_LISTENER_OWNERS: 'false' });
});

after(async () => {
  await service?.stop();
  tree?.remove();
});

it('each namespace\'s listeners carry its inode; the pod\'s also its container and pod from the cgroup', async () => {
  const page = await scrape(service.baseUrl);
  const up = samplesOf(page, 'udp_listener_up');
  const pod = up.filter((s) => s.labels.linux_netns_inode === POD_NETNS);
  assert.deepEqual(
    pod.map((s) => [s.labels, s.value]),
    [[{ network_local_port: POD_PORT, linux_netns_inode: POD_NETNS, container_id: CONTAINER_ID, k8s_pod_uid: POD_UID }, 1]],
  );
  const host = up.filter((s) => s.labels.linux_netns_inode === HOST_NETNS);
  assert.ok(host.some((s) => s.labels.network_local_port === HOST_PORT && s.value === 1), JSON.stringify(host));
  // The host's processes are in no container: no hints, and nothing of the pod's.
  assert.ok(host.every((s) => s.labels.container_id === undefined && s.labels.k8s_pod_uid === undefined), JSON.stringify(host));
  assert.ok(!host.some((s) => s.labels.network_local_port === POD_PORT), JSON.stringify(host));
  assert.equal(up.length, pod.length + host.length, 'every series belongs to one of the two namespaces');
  assert.ok(!up.some((s) => s.labels.network_local_port === '8888'), 'the pod namespace was read through one process only');

  // Host-wide counters per namespace, with the same hints.
  const noPorts = samplesOf(page, 'udp_host_datagrams_no_port_total').filter((s) => s.labels.network_type === 'ipv4');
  assert.deepEqual(noPorts.map((s) => s.labels.linux_netns_inode).sort(), [HOST_NETNS, POD_NETNS]);
  assert.equal(noPorts.find((s) => s.labels.linux_netns_inode === POD_NETNS)?.labels.container_id, CONTAINER_ID);
});
