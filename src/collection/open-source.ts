/**
 * The SnapshotSource of a configuration, built in one place for the service and the check: the
 * procfs root, the host's net directory, and the socket tables from procfs or netlink.
 */
import { access, constants } from 'node:fs/promises';
import type { CollectionConfig } from '../config/config.js';
import type { Logger } from '../log.js';
import { ProcFs, type NetDirectory } from '../procfs/procfs.js';
import { NetlinkSocketTables } from '../sockdiag/netlink-tables.js';
import { SnapshotSource } from './snapshot.js';

export interface OpenedSource {
  readonly procfs: ProcFs;
  readonly hostNetDirectory: NetDirectory;
  readonly source: SnapshotSource;
}

/** Throws a ConfigError when UDP_LISTENER_SOURCE=netlink cannot be used here. */
export async function openSnapshotSource(config: CollectionConfig, logger: Logger): Promise<OpenedSource> {
  const procfs = new ProcFs(config.procRoot);
  const hostNetDirectory = await findHostNetDirectory(procfs, logger);
  // The netlink binding loads only when asked for: the default needs no native code.
  const socketTables = config.socketSource === 'netlink' ? await NetlinkSocketTables.open(procfs) : undefined;
  const source = new SnapshotSource({ procfs, config, hostNetDirectory, logger, ...(socketTables === undefined ? {} : { socketTables }) });
  return { procfs, hostNetDirectory, source };
}

/**
 * The socket tables of the host's network namespace are those of its PID 1: <root>/net follows
 * the reading process, which in a container with the host's /proc mounted is the container's
 * own namespace. Where PID 1 is hidden (hidepid), fall back to our own namespace and say so.
 */
export async function findHostNetDirectory(procfs: ProcFs, logger: Logger): Promise<NetDirectory> {
  const host = procfs.netDirectory(1);
  if (await readable(`${host.path}/udp`)) return host;
  const own = procfs.netDirectory('self');
  if (await readable(`${own.path}/udp`)) {
    logger.warn("cannot read PID 1's socket tables (is procfs mounted with hidepid?); watching this process's network namespace", {
      tried: `${host.path}/udp`,
      using: `${own.path}/udp`,
    });
    return own;
  }
  return host;
}

async function readable(file: string): Promise<boolean> {
  try {
    await access(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}
