/**
 * The one place that knows where procfs is mounted. Every procfs path in the service is built
 * here from the configured root (HOST_PROC), so the whole exporter runs against a fixture tree
 * as easily as against the live /proc.
 */
import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync } from 'node:fs';
import { open, readdir, readlink, statfs } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { remainingMs, settledBy } from '../async.js';
import { ProcFormatError, ProcReadError, toProcReadError } from './errors.js';

/**
 * /proc/net/udp with 100,000 sockets is about 13 MB; anything far larger is not procfs. Files
 * are streamed, so this bounds the time spent on one, not the memory.
 */
const MAX_FILE_BYTES = 256 * 1024 * 1024;
/** Most procfs files fit one page: a file not read before starts with a chunk this size. */
const INITIAL_READ_BYTES = 4096;
/**
 * The largest chunk a file is read and handed over in. A socket table is parsed chunk by chunk
 * as it is read (net-udp.ts), so a table of any size costs this much buffer, not its size.
 */
const CHUNK_BYTES = 256 * 1024;
/** statfs(2) f_type of procfs (linux/magic.h). */
const PROC_SUPER_MAGIC = 0x9fa0;
/** A read of a procfs file blocks the event loop for at most about this long at a time. */
const PROCFS_SLICE_MS = 5;
/**
 * What ProcFs remembers per file (its last size, whether it is on procfs) is forgotten past
 * this many files: per-process files such as <pid>/comm come and go with their processes.
 */
const MAX_REMEMBERED_FILES = 4096;

/**
 * Receives a file's bytes in order, chunk by chunk. A chunk is valid only during the call: the
 * reader fills the same buffer again. A ProcFormatError the consumer throws ends the read as it
 * is (the file is malformed); anything else it throws, as a ProcReadError.
 */
export type ChunkConsumer = (chunk: Buffer) => void;

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
  /** The process it belongs to. */
  readonly pid: number | 'self';
  /** Absolute path, e.g. /proc/1/net. */
  readonly path: string;
}

export class ProcFs {
  readonly root: string;
  /** Reads that passed their deadline and have not settled yet, by absolute path. */
  private readonly stuckReads = new Map<string, Promise<unknown>>();
  private readonly lastSizes = new Map<string, number>();
  /**
   * The chunk buffer of every read on procfs: such reads fill it and hand it over without
   * yielding in between (see readOnProcfs), so one buffer serves them all.
   */
  private procfsChunk: Buffer | undefined;
  /** Whether each file (and the root: see link) lives on procfs, then read with synchronous calls (see readOnProcfs). */
  private readonly onProcfs = new Map<string, boolean>();
  /** When the synchronous link reads last let the event loop turn (see link). */
  private linkSliceStartedAt = Number.NEGATIVE_INFINITY;

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
    return { procfs: this, pid, path: this.path(String(pid), 'net') };
  }

  /**
   * Reads a whole procfs file, for a small one: the bytes are copied out of the chunk buffers.
   * A socket table is streamed instead (stream).
   */
  async read(file: string, options: ReadOptions): Promise<Buffer> {
    const chunks: Buffer[] = [];
    await this.stream(file, options, (chunk) => chunks.push(Buffer.from(chunk)));
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }

  /**
   * Reads a whole procfs file and hands it to `consume` chunk by chunk. Opened non-blocking and
   * checked to be a regular file, so a FIFO or device planted under the root fails at once
   * instead of blocking a thread. A read that cannot finish within the deadline (a hung mount)
   * is abandoned: `consume` is not called again, and no new read of the same file is started
   * while it is still stuck, since Node has only four threads for file I/O and each stuck read
   * holds one. A file on procfs itself, which cannot hang that way, is read with synchronous
   * calls instead (see readOnProcfs).
   */
  async stream(file: string, options: ReadOptions, consume: ChunkConsumer): Promise<void> {
    if (this.stuckReads.has(file)) {
      throw new ProcReadError(file, 'still_stuck', 'an earlier read has not returned yet; not starting another');
    }
    const { deadline } = options;
    const onProcfs = this.onProcfs.get(file);
    if (onProcfs === true) return this.readOnProcfs(file, deadline, consume);
    const abandoned = { value: false };
    // Until statfs has answered, that answer is awaited under the deadline too: on a hung
    // mount statfs hangs like read does. If it answers after the deadline, no read starts:
    // this one has already failed, and `consume` must not be called again.
    const read = (procfs: boolean): Promise<void> => (procfs ? this.readOnProcfs(file, deadline, consume) : this.readThroughThreads(file, consume, abandoned));
    const reading = onProcfs === false ? read(false) : this.checkOnProcfs(file).then((procfs) => (abandoned.value ? undefined : read(procfs)));
    return this.withDeadline(file, reading, deadline, abandoned);
  }

  /**
   * Abandons `reading` at the deadline, and marks the file stuck until it settles, so that
   * no new read of it is started on top of one still blocked in the kernel.
   */
  private async withDeadline(file: string, reading: Promise<void>, deadline: number, abandoned: { value: boolean }): Promise<void> {
    const deadlineMs = Math.round(remainingMs(deadline));
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abandoned.value = true;
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

  /**
   * Target of a symbolic link below the root, e.g. `<root>/<pid>/fd/3`. When the root is procfs
   * itself, read with a synchronous readlink(2): on procfs it only prints a path the kernel
   * already holds, so it cannot hang as a file on a dead mount can, and it costs a few
   * microseconds where a round trip through the thread pool costs several times that, in CPU
   * too (the owners re-read one link per holder every collection, and a walk reads every fd
   * link on the host). The event loop still turns every PROCFS_SLICE_MS, as during a read.
   * Below any other root (a copy of procfs, a FUSE tree) links go through the thread pool.
   */
  async link(file: string): Promise<string> {
    if (this.onProcfs.get(this.root) ?? (await this.checkOnProcfs(this.root))) {
      if (performance.now() - this.linkSliceStartedAt > PROCFS_SLICE_MS) {
        await yieldToEventLoop();
        this.linkSliceStartedAt = performance.now();
      }
      try {
        return readlinkSync(file);
      } catch (error) {
        throw toProcReadError(file, error);
      }
    }
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
   * scrapes arriving meanwhile still join this read, as the event loop keeps turning. Each chunk
   * is handed over before the loop yields, so every such read shares one chunk buffer.
   */
  private async readOnProcfs(file: string, deadline: number, consume: ChunkConsumer): Promise<void> {
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
    try {
      if (!fstatSync(fd).isFile()) {
        throw new ProcReadError(file, 'not_regular_file', 'not a regular file');
      }
      this.procfsChunk ??= Buffer.allocUnsafe(CHUNK_BYTES);
      const chunk = this.procfsChunk;
      let total = 0;
      let length = 0;
      let sliceStart = performance.now();
      for (;;) {
        const bytesRead = readSync(fd, chunk, length, chunk.length - length, null);
        length += bytesRead;
        const sliceOver = performance.now() - sliceStart >= PROCFS_SLICE_MS;
        // Handed over when full, at the end, and before every yield (another read's turn
        // fills the same buffer).
        if (length > 0 && (bytesRead === 0 || length === chunk.length || sliceOver)) {
          total = checkSize(file, total, length);
          consume(chunk.subarray(0, length));
          length = 0;
        }
        if (bytesRead === 0) break;
        if (sliceOver) {
          await yieldToEventLoop();
          sliceStart = performance.now();
          if (sliceStart > deadline) {
            throw new ProcReadError(file, 'timeout', `read did not finish within its deadline (${total} bytes read)`);
          }
        }
      }
    } catch (error) {
      throw asReadFailure(file, error);
    } finally {
      closeSync(fd);
    }
    await yieldToEventLoop();
  }

  /**
   * A file elsewhere (a relocated HOST_PROC on another filesystem, a mount that may hang) is
   * read through the thread pool, into a buffer of its own: a read abandoned at its deadline
   * may still write into it. Its chunks are as large as the file was last time, up to
   * CHUNK_BYTES, so a small file takes one read.
   */
  private async readThroughThreads(file: string, consume: ChunkConsumer, abandoned: { readonly value: boolean }): Promise<void> {
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
      const last = this.lastSizes.get(file);
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, last === undefined ? INITIAL_READ_BYTES : last + Math.max(INITIAL_READ_BYTES, last >>> 3)));
      let total = 0;
      for (;;) {
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
        if (abandoned.value || bytesRead === 0) break;
        total = checkSize(file, total, bytesRead);
        consume(chunk.subarray(0, bytesRead));
      }
      // An abandoned read's total is cut short: it says nothing of the file's size.
      if (!abandoned.value) remember(this.lastSizes, file, total);
    } catch (error) {
      throw asReadFailure(file, error);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }
}

/** The bytes read so far, refusing a file past MAX_FILE_BYTES. */
function checkSize(file: string, total: number, more: number): number {
  if (total + more > MAX_FILE_BYTES) throw new ProcReadError(file, 'too_large', `larger than ${MAX_FILE_BYTES} bytes`);
  return total + more;
}

/** A consumer's ProcFormatError passes as it is; anything else becomes a ProcReadError. */
function asReadFailure(file: string, error: unknown): Error {
  return error instanceof ProcFormatError ? error : toProcReadError(file, error);
}

function remember<V>(memory: Map<string, V>, file: string, value: V): void {
  if (memory.size >= MAX_REMEMBERED_FILES && !memory.has(file)) memory.clear();
  memory.set(file, value);
}
