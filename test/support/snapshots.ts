/**
 * Snapshots written by hand, for the pure readers of a snapshot (the check's verdict, the status
 * page): a few sockets per namespace, owners by inode, failures.
 */
import type { NetNamespace } from '../../src/collection/namespaces.js';
import type { SocketOwner } from '../../src/collection/owners.js';
import type { CollectionFailure, NamespaceSnapshot, PortListeners, Snapshot } from '../../src/collection/snapshot.js';

/** A socket as the check sees it: [port, inode, receive queue bytes, drops]. */
export type Socket = readonly [port: number, inode: number, queue: number, drops: number];

function listenersOf(sockets: readonly Socket[]): Map<number, PortListeners> {
  const byPort = new Map<number, PortListeners>();
  for (const [port, inode, queue, drops] of sockets) {
    const known = byPort.get(port);
    byPort.set(port, {
      port,
      sockets: (known?.sockets ?? 0) + 1,
      receiveQueueBytes: (known?.receiveQueueBytes ?? 0) + queue,
      drops: (known?.drops ?? 0) + drops,
      receiveBufferBytes: undefined,
      inodes: [...(known?.inodes ?? []), inode],
      socketDrops: [...(known?.socketDrops ?? []), drops],
    });
  }
  return byPort;
}

export interface SnapshotSpec {
  /** Host namespace sockets; undefined: its tables could not be read. */
  readonly sockets?: readonly Socket[] | undefined;
  /** Other namespaces (UDP_LISTENER_NETNS=all): the host's sockets then go in the first one. */
  readonly namespaces?: readonly { namespace: NetNamespace; sockets: readonly Socket[] | undefined }[];
  readonly owners?: Readonly<Record<number, readonly SocketOwner[]>>;
  readonly failures?: readonly CollectionFailure[];
  /** Discovery mode: ports left out by the limit. */
  readonly omittedPorts?: number;
}

const NO_COUNTERS = { ipv4: undefined, ipv6: undefined };

export function snapshot(spec: SnapshotSpec): Snapshot {
  const namespaces: NamespaceSnapshot[] =
    spec.namespaces !== undefined
      ? spec.namespaces.map(({ namespace, sockets }) => ({ namespace, listeners: sockets === undefined ? undefined : listenersOf(sockets), counters: NO_COUNTERS }))
      : [{ namespace: undefined, listeners: spec.sockets === undefined ? undefined : listenersOf(spec.sockets), counters: NO_COUNTERS }];
  return {
    namespaces,
    omittedPorts: spec.omittedPorts ?? 0,
    owners:
      spec.owners === undefined
        ? undefined
        : { owners: new Map(Object.entries(spec.owners).map(([inode, owners]) => [Number(inode), owners])), unresolvedSockets: 0, unreadableProcesses: 0 },
    namespaceUnreadableProcesses: undefined,
    failures: spec.failures ?? [],
    filesRead: new Map(),
    durationSeconds: 0.001,
  };
}
