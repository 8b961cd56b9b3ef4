/**
 * /proc/<pid>/comm: the name a process gave itself (at most 15 bytes plus a newline, but any
 * bytes it chose: quotes, backslashes, braces, newlines, invalid UTF-8). It becomes a label
 * value, so it is turned into printable text here, once, and every exposition stays valid.
 */
import type { ProcFs } from './procfs.js';

/** Reads `<root>/<pid>/comm` as printable text (see executableNameFromComm). */
export async function readExecutableName(procfs: ProcFs, pid: number, deadline: number): Promise<string> {
  return executableNameFromComm(await procfs.read(procfs.path(String(pid), 'comm'), { deadline }));
}

const decoder = new TextDecoder('utf-8', { fatal: false });
/** The kernel caps comm at 15 bytes; a longer file is not comm, but is still rendered safely. */
const MAX_NAME_CHARS = 64;

/**
 * Invalid UTF-8 becomes U+FFFD; control characters (C0, DEL, C1) become `\xNN` so they stay
 * visible without breaking a line; quotes and backslashes are left to the exposition's own
 * escaping, which handles them.
 */
export function executableNameFromComm(bytes: Uint8Array): string {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0a) end--;
  const text = decoder.decode(bytes.subarray(0, end));
  let name = '';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    name += code < 0x20 || (code >= 0x7f && code <= 0x9f) ? `\\x${code.toString(16).padStart(2, '0')}` : char;
    if (name.length >= MAX_NAME_CHARS) break;
  }
  return name;
}
