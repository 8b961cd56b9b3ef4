/** CPU time and memory of another process, from /proc/<pid>/stat and /proc/<pid>/status. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of utime/stime (USER_HZ); 100 on every common Linux build. */
export function clockTicksPerSecond(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (Number.isInteger(ticks) && ticks > 0) return ticks;
  } catch {
    // getconf missing: USER_HZ is 100 on every architecture Node runs on.
  }
  return 100;
}

/** utime + stime of a process in clock ticks (the process's own threads, not its children). */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  // comm (field 2) is in parentheses and may contain anything; the rest follows the last ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return Number(fields[11]) + Number(fields[12]);
}

export interface Memory {
  /** Resident set size now, in MiB. */
  readonly vmRssMiB: number;
  /** Peak resident set size, in MiB. */
  readonly vmHwmMiB: number;
  /**
   * The private part of the RSS (heap, stacks, malloc), in MiB: what this process alone costs.
   * The rest, RssFile, is file-backed pages, mostly the node binary's code, which every Node
   * process on the host shares through the page cache.
   */
  readonly rssAnonMiB: number;
  readonly rssFileMiB: number;
}

export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const kib = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (match === null) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(match[1]);
  };
  return { vmRssMiB: kib('VmRSS') / 1024, vmHwmMiB: kib('VmHWM') / 1024, rssAnonMiB: kib('RssAnon') / 1024, rssFileMiB: kib('RssFile') / 1024 };
}

export interface MachineTicks {
  readonly busy: number;
  readonly total: number;
}

/** Busy and total clock ticks of all CPUs since boot, from the first line of /proc/stat. */
export function machineTicks(): MachineTicks {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const busy = user! + nice! + system! + irq! + softirq! + (steal ?? 0);
  return { busy, total: busy + idle! + iowait! };
}

/**
 * How many threads of a process wait for a FUSE filesystem's answer right now (the kernel
 * function they sleep in, /proc/<pid>/task/<tid>/wchan, is FUSE's request_wait_answer), whatever
 * the call: open, statfs, read. Needs ptrace access to the process (the same user, or root).
 */
export function threadsWaitingOnFuse(pid: number): number {
  let count = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      if (readFileSync(`/proc/${pid}/task/${tid}/wchan`, 'latin1') === 'request_wait_answer') count++;
    } catch {
      // The thread ended meanwhile.
    }
  }
  return count;
}
