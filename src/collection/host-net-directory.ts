/**
 * Which net directory holds the host's socket tables: the service and the check both start
 * from it.
 */
import { access, constants } from 'node:fs/promises';
import type { Logger } from '../log.js';
import type { NetDirectory, ProcFs } from '../procfs/procfs.js';

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
