// koffi's loader of its native binding as the single executable has it: .build/sea.mjs bundles
// this module in place of koffi/src/koffi/src/static.js, whose loadStatic() require()s the
// binding from koffi's platform package (@koromix/koffi-<platform>-<arch>) in node_modules. Here
// the binding travels inside the executable as a SEA asset, and Node can load a native module
// only from a file: so the first thread to load koffi (the main thread, when the netlink source
// starts) copies it into a file without a name and dlopen()s that. The worker threads that enter
// other network namespaces load that same copy, which the dynamic linker has mapped already,
// rather than each writing and mapping one more (Node would close and unmap a worker's own copy
// when it ends, but one starts at every namespace that appears). Like static.js, this runs only
// when koffi is imported, that is only for UDP_LISTENER_SOURCE=netlink.
import { mkdtempSync, openSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getRawAsset } from 'node:sea';
import { getEnvironmentData, setEnvironmentData } from 'node:worker_threads';

/** The asset .build/sea.mjs stores the binding under. */
const ASSET = 'koffi.node';
/** Worker environment data (copied into every worker started later): the path of the loaded copy. */
const LOADED_COPY = 'udp-listener-exporter: koffi.node';

/** koffi's platform package name is ignored: the asset is the binding for the Node inside this file. */
export function loadStatic() {
  const loaded = getEnvironmentData(LOADED_COPY);
  let copy = loaded;
  const binding = { exports: {} };
  try {
    copy ??= unnamedCopy(new Uint8Array(getRawAsset(ASSET)));
    process.dlopen(binding, copy);
  } catch (error) {
    throw new Error(`koffi's native binding, carried in the single executable, cannot load from a copy in ${tmpdir()} (TMPDIR: it must be writable and allow executable mappings, not be mounted noexec): ${error.message}`);
  }
  if (loaded === undefined) setEnvironmentData(LOADED_COPY, copy);
  return binding.exports;
}

/**
 * A copy of `bytes` in a file that has no name, as /proc/self/fd/N (this process's own procfs,
 * whatever HOST_PROC says): created in a private directory (mkdtemp makes it 0700) and unlinked
 * with it before a byte is written, so the copy goes with the process however it ends. Its
 * descriptor (CLOEXEC, as libuv opens every file) stays open for the life of the process: it is
 * what keeps the copy, and its path, for the workers. A memfd would touch no filesystem at all,
 * but Node has no memfd_create and koffi, which could call it, is what is being loaded;
 * O_TMPFILE would skip the name, but not every filesystem supports it (overlayfs, a container's
 * usual /tmp, only since Linux 6.6).
 */
function unnamedCopy(bytes) {
  const directory = mkdtempSync(path.join(tmpdir(), 'udp-listener-exporter-'));
  let fd;
  try {
    const file = path.join(directory, 'koffi.node');
    fd = openSync(file, 'wx+', 0o700);
    unlinkSync(file);
  } finally {
    rmdirSync(directory);
  }
  writeFileSync(fd, bytes);
  return `/proc/self/fd/${fd}`;
}
