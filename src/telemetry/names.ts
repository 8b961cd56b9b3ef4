/**
 * The meter's name and the attribute keys of every series, OpenTelemetry semantic-convention
 * names where one exists. The metrics themselves are declared in metrics.ts.
 */

export const METER_NAME = 'udp-listener-exporter';

export const ATTR_PORT = 'network.local.port';
export const ATTR_LISTENER_NAME = 'udp.listener.name';
export const ATTR_FILE_PATH = 'file.path';
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_NETWORK_TYPE = 'network.type';
export const ATTR_PROCESS_PID = 'process.pid';
export const ATTR_PROCESS_EXECUTABLE_NAME = 'process.executable.name';
/** UDP_LISTENER_NETNS=all: the network namespace's inode, and hints of what it belongs to. */
export const ATTR_NETNS_INODE = 'linux.netns.inode';
export const ATTR_CONTAINER_ID = 'container.id';
export const ATTR_K8S_POD_UID = 'k8s.pod.uid';
/** Which lookup found processes it could not read: `owners` (fd walk) or `namespaces`. */
export const ATTR_LOOKUP = 'lookup';
