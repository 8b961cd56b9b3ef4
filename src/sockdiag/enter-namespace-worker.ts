/**
 * Worker thread entry (enter-namespace.ts starts it): moves this thread, and only it, into a
 * network namespace, opens a NETLINK_SOCK_DIAG socket there and hands its descriptor back.
 * Descriptors belong to the process, so the socket outlives this thread, and stays in the
 * namespace it was created in. The thread then ends, taking its changed namespace with it:
 * the main thread never changes namespace.
 */
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { EnterRequest, EnterResult } from './enter-namespace.js';
import { loadLibc } from './libc.js';
import { kernelErrnoName } from './messages.js';

async function enter({ path, inode }: EnterRequest): Promise<EnterResult> {
  let namespaceFd: number;
  try {
    // libuv opens every file with O_CLOEXEC.
    namespaceFd = openSync(path, constants.O_RDONLY);
  } catch (error) {
    return { failure: { code: (error as NodeJS.ErrnoException).code ?? String(error), step: 'open' } };
  }
  try {
    // The pid may have exited and been reused by a process in another namespace.
    if (fstatSync(namespaceFd).ino !== inode) return { failure: { code: 'ENOENT', step: 'the process left the namespace; open' } };
    const libc = await loadLibc();
    const entered = libc.enterNetworkNamespace(namespaceFd);
    if (entered < 0) return { failure: { code: kernelErrnoName(-entered), step: 'setns' } };
    const fd = libc.openSockDiagSocket();
    if (fd < 0) return { failure: { code: kernelErrnoName(-fd), step: 'socket(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG)' } };
    return { fd };
  } finally {
    closeSync(namespaceFd);
  }
}

parentPort!.postMessage(await enter(workerData as EnterRequest));
