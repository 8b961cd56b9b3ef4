/**
 * Opening a NETLINK_SOCK_DIAG socket inside another network namespace, without the main thread
 * ever changing namespace: a short-lived worker thread enters it (setns(2) moves only the
 * calling thread), opens the socket and hands back its descriptor (enter-namespace-worker.ts).
 * This needs CAP_SYS_ADMIN, as `ip netns exec` or `nsenter` do.
 */
import { Worker } from 'node:worker_threads';
import { errnoError } from './messages.js';

export interface EnterRequest {
  /** `<root>/<pid>/ns/net` of a process in the namespace. */
  readonly path: string;
  /** The namespace's inode: the file must still refer to it (its pid may have been reused). */
  readonly inode: number;
}

export type EnterResult = { readonly fd: number } | { readonly failure: { readonly code: string; readonly step: string } };

/** Resolves with the socket's descriptor; rejects with a ProcReadError naming the namespace file and the errno. */
export async function openSocketInNamespace(request: EnterRequest): Promise<number> {
  const worker = new Worker(new URL('./enter-namespace-worker.js', import.meta.url), { workerData: request });
  // A namespace being opened does not hold the process open at shutdown.
  worker.unref();
  const result = await new Promise<EnterResult>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the worker entering ${request.path} exited with ${code} before answering`)));
  });
  if ('fd' in result) return result.fd;
  throw errnoError(request.path, result.failure.code, `cannot open a netlink socket in the network namespace: ${result.failure.step}`);
}
