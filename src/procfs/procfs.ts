/**
 * The one place that knows where procfs is mounted. Every procfs path in the service is built
 * here from the configured root (HOST_PROC), so the whole exporter runs against a fixture tree
 * as easily as against the live /proc.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { open, readdir, readlink, statfs } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { remainingMs, settledBy } from '../async.js';
import { ProcReadError, toProcReadError } from './errors.js';

/** /proc/net/udp with 100,000 sockets is about 13 MB; anything far larger is not procfs. */
const MAX_FILE_BYTES = 256 * 1024 * 1024;
/** Most procfs files fit one page; a socket table grows its buffer once and is then remembered. */
const INITIAL_READ_BYTES = 4096;
/**
 * Files at least this large keep their buffer from one read to the next: at 10,000 sockets the
 * tables are over a megabyte each, and a fresh one per scrape only feeds the allocator.
 */
const REUSE_BUFFER_BYTES = 256 * 1024;
/** statfs(2) f_type of procfs (linux/magic.h). */
const PROC_SUPER_MAGIC = 0x9fa0;
/** A read of a procfs file blocks the event loop for at most about this long at a time. */
const PROCFS_SLICE_MS = 5;
/**
 * What ProcFs remembers per file (its last size, whether it is on procfs) is forgotten past
 * this many files: per-process files such as <pid>/comm come and go with their processes.
 */
const MAX_REMEMBERED_FILES = 4096;

export interface ReadOptions {
  /**
   * Give up waiting at this performance.now() time (the collection's deadline); the read
   * itself cannot be cancelled.
   */
  readonly deadline: number;
}

/** Where procfs is mounted unless HOST_PROC says otherwise: the one place the path is written. */
export const DEFAULT_PROC_ROOT = '/proc';

/**
 * The net directory of one process, `<root>/<pid>/net`: the socket tables and counters of the
 * network namespace that process is in. The readers of its files (net-udp.ts, net-snmp.ts)
 * take it.
 */
export interface NetDirectory {
  readonly procfs: ProcFs;
  /** Absolute path, e.g. /proc/1/net. */
  readonly path: string;
}

export class ProcFs {
  readonly root: string;
  /** Reads that passed their deadline and have not settled yet, by absolute path. */
  private readonly stuckReads = new Map<string, Promise<unknown>>();
  private readonly lastSizes = new Map<string, number>();
  /** Buffers kept for large files between reads (see REUSE_BUFFER_BYTES). */
  private readonly keptBuffers = new Map<string, Buffer>();
  /** Whether each file lives on procfs (then read with synchronous calls, see readOnProcfs). */
  private readonly onProcfs = new Map<string, boolean>();

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** Files whose read passed its deadline and has not returned yet. */
  stuckFiles(): string[] {
    return [...this.stuckReads.keys()];
  }

  /**
   * Waits until every read that passed its deadline has returned, or until `deadline`, and
   * resolves with the files whose read is still in the kernel then. A read that was merely slow
   * returns meanwhile; only one that has not is really blocked.
   */
  async settleStuckReads(deadline: number): Promise<string[]> {
    await settledBy(Promise.allSettled(this.stuckReads.values()), deadline);
    return this.stuckFiles();
  }

  /** Absolute path of a file below the root, e.g. `path('1', 'net', 'udp')`. */
  path(...segments: string[]): string {
    return path.join(this.root, ...segments);
  }

  /** The net directory of a process: `netDirectory(1)`, or `netDirectory('self')` for our own. */
  netDirectory(pid: number | 'self'): NetDirectory {
    return { procfs: this, path: this.path(String(pid), 'net') };
  }

  /**
   * Reads a whole procfs file. Opened non-blocking and checked to be a regular file, so a FIFO
   * or device planted under the root fails at once instead of blocking a thread. A read that
   * cannot finish within the deadline (a hung mount) is abandoned, and no new read of the same
   * file is started while it is still stuck: Node has only four threads for file I/O and each
   * stuck read holds one. A file on procfs itself, which cannot hang that way, is read with
   * synchronous calls instead (see readOnProcfs).
   *
   * The bytes are valid until the next read of the same file: a large file on procfs is read
   * into the same buffer every time. Every caller parses them before it reads the file again.
   */
  async read(file: string, options: ReadOptions): Promise<Buffer> {
    if (this.stuckReads.has(file)) {
      throw new ProcReadError(file, 'still_stuck', 'an earlier read has not returned yet; not starting another');
    }
    const { deadline } = options;
    const onProcfs = this.onProcfs.get(file);
    if (onProcfs === true) return this.readOnProcfs(file, deadline);
    // Until statfs has answered, that answer is awaited under the deadline too: on a hung
    // mount statfs hangs like read does.
    const reading =
      onProcfs === false
        ? this.readWhole(file)
        : this.checkOnProcfs(file).then((procfs) => (procfs ? this.readOnProcfs(file, deadline) : this.readWhole(file)));
    return this.withDeadline(file, reading, deadline);
  }

  /**
   * Abandons `reading` at the deadline, and marks the file stuck until it settles, so that
   * no new read of it is started on top of one still blocked in the kernel.
   */
  private async withDeadline(file: string, reading: Promise<Buffer>, deadline: number): Promise<Buffer> {
    const deadlineMs = Math.round(remainingMs(deadline));
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.stuckReads.set(
          file,
          reading.then(
            () => this.stuckReads.delete(file),
            () => this.stuckReads.delete(file),
          ),
        );
        reject(new ProcReadError(file, 'timeout', `read did not finish within ${deadlineMs} ms`));
      }, deadlineMs);
      timer.unref();
    });
    try {
      return await Promise.race([reading, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Numeric entries of the root: the pids procfs shows, in ascending order. */
  async pids(): Promise<number[]> {
    let entries: string[];
    try {
      entries = await readdir(this.root);
    } catch (error) {
      throw toProcReadError(this.root, error);
    }
    return entries
      .filter((name) => /^\d+$/.test(name))
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** Entries of a directory below the root, e.g. `<root>/<pid>/fd`. */
  async list(directory: string): Promise<string[]> {
    try {
      return await readdir(directory);
    } catch (error) {
      throw toProcReadError(directory, error);
    }
  }

  /** Target of a symbolic link below the root, e.g. `<root>/<pid>/fd/3`. */
  async link(file: string): Promise<string> {
    try {
      return await readlink(file);
    } catch (error) {
      throw toProcReadError(file, error);
    }
  }

  /**
   * Asks statfs(2) once per file, through the thread pool since a dead mount can hang it. A
   * failure (the file is missing) is not remembered: the ordinary path then reports it.
   */
  private async checkOnProcfs(file: string): Promise<boolean> {
    try {
      const onProcfs = (await statfs(file)).type === PROC_SUPER_MAGIC;
      remember(this.onProcfs, file, onProcfs);
      return onProcfs;
    } catch {
      return false;
    }
  }

  /**
   * A file on procfs is read with synchronous read() calls on the main thread, yielding to the
   * event loop every few milliseconds. The kernel hands out a socket table at most one page
   * (4 KiB) per read() whatever the buffer size, so 10,000 sockets take about 360 calls; made
   * through the thread pool, each is a round trip between threads, and together they cost
   * about 20% more CPU and wall time than the kernel's own work. Reading procfs cannot hang
   * the way a network mount can, so the deadline is checked between slices instead of raced;
   * scrapes arriving meanwhile still join this read, as the event loop keeps turning.
   */
  private async readOnProcfs(file: string, deadline: number): Promise<Buffer> {
    // Scrapes that arrive together with the one that started this read are still waiting in
    // the event loop. A small table is read within one slice, so without a turn of the loop
    // before and after it each of them would start a read of its own once this one is done.
    await yieldToEventLoop();
    let fd: number;
    try {
      fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (error) {
      throw toProcReadError(file, error);
    }
    let bytes: Buffer;
    try {
      if (!fstatSync(fd).isFile()) {
        throw new ProcReadError(file, 'not_regular_file', 'not a regular file');
      }
      let buffer = this.bufferFor(file, true);
      let length = 0;
      let sliceStart = performance.now();
      for (;;) {
        if (length === buffer.length) buffer = grow(file, buffer, length);
        const bytesRead = readSync(fd, buffer, length, buffer.length - length, null);
        if (bytesRead === 0) break;
        length += bytesRead;
        if (performance.now() - sliceStart >= PROCFS_SLICE_MS) {
          await yieldToEventLoop();
          sliceStart = performance.now();
          if (sliceStart > deadline) {
            throw new ProcReadError(file, 'timeout', `read did not finish within its deadline (${length} bytes read)`);
          }
        }
      }
      remember(this.lastSizes, file, length);
      if (length >= REUSE_BUFFER_BYTES) remember(this.keptBuffers, file, buffer);
      else this.keptBuffers.delete(file);
      bytes = buffer.subarray(0, length);
    } catch (error) {
      throw toProcReadError(file, error);
    } finally {
      closeSync(fd);
    }
    await yieldToEventLoop();
    return bytes;
  }

  /**
   * A buffer for reading the file whole in one go: the kept one of a large file if it still has
   * room to spare, or a new one of the last size seen plus an eighth (a table that grew a little
   * still fits), or one page for a file not read before.
   */
  private bufferFor(file: string, reuse: boolean): Buffer {
    const last = this.lastSizes.get(file);
    const wanted = last === undefined ? INITIAL_READ_BYTES : last + Math.max(INITIAL_READ_BYTES, last >>> 3);
    const kept = reuse ? this.keptBuffers.get(file) : undefined;
    return kept !== undefined && kept.length >= wanted ? kept : Buffer.allocUnsafe(wanted);
  }

  private async readWhole(file: string): Promise<Buffer> {
    let handle;
    try {
      handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (error) {
      throw toProcReadError(file, error);
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) {
        throw new ProcReadError(file, 'not_regular_file', 'not a regular file');
      }
      // Never a kept buffer: a read abandoned at its deadline may still write into this one.
      let buffer = this.bufferFor(file, false);
      let length = 0;
      for (;;) {
        if (length === buffer.length) buffer = grow(file, buffer, length);
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
      remember(this.lastSizes, file, length);
      return buffer.subarray(0, length);
    } catch (error) {
      throw toProcReadError(file, error);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }
}

function grow(file: string, buffer: Buffer, length: number): Buffer {
  if (buffer.length >= MAX_FILE_BYTES) {
    throw new ProcReadError(file, 'too_large', `larger than ${MAX_FILE_BYTES} bytes`);
  }
  const grown = Buffer.allocUnsafe(Math.min(buffer.length * 2, MAX_FILE_BYTES));
  buffer.copy(grown, 0, 0, length);
  return grown;
}

function remember<V>(memory: Map<string, V>, file: string, value: V): void {
  if (memory.size >= MAX_REMEMBERED_FILES && !memory.has(file)) memory.clear();
  memory.set(file, value);
}
