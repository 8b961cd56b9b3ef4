/**
 * /proc/sys/net/ipv4/ip_local_port_range: the ports the kernel hands out to sockets bound to
 * port 0 (clients), written as "low<TAB>high\n".
 */
import { ProcFormatError } from './errors.js';
import type { ProcFs } from './procfs.js';

export interface PortRange {
  readonly low: number;
  readonly high: number;
}

/** The kernel's default, used when the file cannot be read. */
export const DEFAULT_EPHEMERAL_PORT_RANGE: PortRange = { low: 32768, high: 60999 };

/** Reads and parses `<root>/sys/net/ipv4/ip_local_port_range`. */
export async function readIpLocalPortRange(procfs: ProcFs, deadline: number): Promise<PortRange> {
  const file = ipLocalPortRangeFile(procfs);
  return parseIpLocalPortRange((await procfs.read(file, { deadline })).toString('latin1'), file);
}

/** The file's path, which failures are reported under. */
export function ipLocalPortRangeFile(procfs: ProcFs): string {
  return procfs.path('sys', 'net', 'ipv4', 'ip_local_port_range');
}

/**
 * The newline is required: the kernel always writes it, and without it a read cut short
 * ("1024\t6553" of "1024\t65535\n") would pass for a narrower range.
 */
export function parseIpLocalPortRange(text: string, file: string): PortRange {
  const match = /^(\d{1,5})[\t ]+(\d{1,5})\n$/.exec(text);
  if (match === null) {
    throw new ProcFormatError(file, 1, 'range', text, 'expected two port numbers "low high" and a newline');
  }
  const low = Number(match[1]);
  const high = Number(match[2]);
  if (low < 1 || high > 65535 || low > high) {
    throw new ProcFormatError(file, 1, 'range', text.trim(), 'expected 1 <= low <= high <= 65535');
  }
  return { low, high };
}
