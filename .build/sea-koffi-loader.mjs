// koffi's loader of its native binding as the single executable has it: .build/sea.mjs bundles
// this module in place of koffi/src/koffi/src/static.js, whose loadStatic() require()s the
// binding from koffi's platform package (@koromix/koffi-<platform>-<arch>) in node_modules. Here
// the binding travels inside the executable as a SEA asset, and Node can load a native module
// only from a file: so the first thread to load koffi (the main thread, when the netlink source
// starts) copies it into a file without a name and dlopen()s that. Like static.js, this runs only
// when koffi is imported, that is only for UDP_LISTENER_SOURCE=netlink.
import { mkdtempSync, openSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getRawAsset } from 'node:sea';

/** The asset .build/sea.mjs stores the binding under. */
const ASSET = 'koffi.node';

/** koffi's platform package name is ignored: the asset is the binding for the Node inside this file. */
export function loadStatic() {
  const binding = { exports: {} };
  try {
    process.dlopen(binding, unnamedCopy(new Uint8Array(getRawAsset(ASSET))));
  } catch (error) {
    throw new Error(`koffi's native binding, carried in the single executable, cannot load from a copy in ${tmpdir()} (TMPDIR: it must be writable and allow executable mappings, not be mounted noexec): ${error.message}`);
  }
  return binding.exports;
}

/**
 * A copy of `bytes` in a file that has no name, as /proc/self/fd/N (this process's own procfs,
 * whatever HOST_PROC says): created in a private directory (mkdtemp makes it 0700) and unlinked
 * with it before a byte is written, so the copy goes with the process however it ends. Its
 * descriptor (CLOEXEC, as libuv opens every file) stays open for the life of the process. A memfd would touch no filesystem at all,
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
