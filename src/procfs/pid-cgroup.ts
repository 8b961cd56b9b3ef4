/**
 * /proc/<pid>/cgroup, read for hints of which container or Kubernetes pod a network namespace
 * belongs to. The paths follow the runtimes' conventions, e.g. (cgroup v2, v1):
 *
 *   0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid>.slice/cri-containerd-<id>.scope
 *   0::/system.slice/docker-<id>.scope
 *   12:pids:/kubepods/burstable/pod<uid>/<id>
 *
 * Nothing here is guaranteed by the kernel: a path that matches no convention gives no hints.
 */
import type { ProcFs } from './procfs.js';

export interface ContainerHints {
  /** 64 hex digits, as docker, containerd and CRI-O name containers. */
  readonly containerId?: string;
  readonly podUid?: string;
}

const CONTAINER_ID = /(?:^|[/:-])([0-9a-f]{64})(?:\.scope)?(?:\/|$)/;
// Not followed by another hex digit: 13 digits in the last group is not a uid cut to 12.
const POD_UID = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?![0-9a-f])/;

/** Reads `<root>/<pid>/cgroup` for container hints. */
export async function readContainerHints(procfs: ProcFs, pid: number, deadline: number): Promise<ContainerHints> {
  return parseCgroupHints((await procfs.read(procfs.path(String(pid), 'cgroup'), { deadline })).toString('utf8'));
}

export function parseCgroupHints(text: string): ContainerHints {
  let containerId: string | undefined;
  let podUid: string | undefined;
  for (const line of text.split('\n')) {
    const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    containerId ??= CONTAINER_ID.exec(path)?.[1];
    // systemd slices write the uid with underscores for dashes.
    podUid ??= POD_UID.exec(path)?.[1]?.replace(/_/g, '-');
  }
  return { ...(containerId === undefined ? {} : { containerId }), ...(podUid === undefined ? {} : { podUid }) };
}
