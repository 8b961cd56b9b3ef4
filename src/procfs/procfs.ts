/**
 * The one place that knows where procfs is mounted. Every procfs path in the service is built
 * here from the configured root (HOST_PROC), so the whole exporter runs against a fixture tree
 * as easily as against the live /proc.
 */
import { constants } from 'node:fs';
import { open, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { ProcReadError, toProcReadError } from './errors.js';

/** /proc/net/udp with 100,000 sockets is about 13 MB; anything far larger is not procfs. */
const MAX_FILE_BYTES = 256 * 1024 * 1024;
const INITIAL_READ_BYTES = 64 * 1024;
/** Extra room over the last size seen, so a stable file is read in one read() call. */
const READ_HEADROOM_BYTES = 64 * 1024;

export interface ReadOptions {
  /** Give up waiting after this many milliseconds; the read itself cannot be cancelled. */
  readonly deadlineMs: number;
}

export class ProcFs {
  readonly root: string;
  /** Reads that passed their deadline and have not settled yet, by absolute path. */
  private readonly stuckReads = new Set<string>();
  private readonly lastSizes = new Map<string, number>();

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** Files whose read passed its deadline and is still blocked in the kernel. */
  stuckFiles(): string[] {
    return [...this.stuckReads];
  }

  /** Absolute path of a file below the root, e.g. `path('1', 'net', 'udp')`. */
  path(...segments: string[]): string {
    return path.join(this.root, ...segments);
  }

  /**
   * Reads a whole procfs file. Opened non-blocking and checked to be a regular file, so a FIFO
   * or device planted under the root fails at once instead of blocking a thread. A read that
   * cannot finish within the deadline (a hung mount) is abandoned, and no new read of the same
   * file is started while it is still stuck: Node has only four threads for file I/O and each
   * stuck read holds one.
   */
  async read(file: string, options: ReadOptions): Promise<Buffer> {
    if (this.stuckReads.has(file)) {
      throw new ProcReadError(file, 'still_stuck', 'an earlier read has not returned yet; not starting another');
    }
    const reading = this.readWhole(file);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.stuckReads.add(file);
        reading.then(
          () => this.stuckReads.delete(file),
          () => this.stuckReads.delete(file),
        );
        reject(new ProcReadError(file, 'timeout', `read did not finish within ${options.deadlineMs} ms`));
      }, options.deadlineMs);
      timer.unref();
    });
    try {
      return await Promise.race([reading, deadline]);
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
      let buffer = Buffer.allocUnsafe((this.lastSizes.get(file) ?? INITIAL_READ_BYTES) + READ_HEADROOM_BYTES);
      let length = 0;
      for (;;) {
        if (length === buffer.length) {
          if (buffer.length >= MAX_FILE_BYTES) {
            throw new ProcReadError(file, 'too_large', `larger than ${MAX_FILE_BYTES} bytes`);
          }
          const grown = Buffer.allocUnsafe(Math.min(buffer.length * 2, MAX_FILE_BYTES));
          buffer.copy(grown, 0, 0, length);
          buffer = grown;
        }
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
      this.lastSizes.set(file, length);
      return buffer.subarray(0, length);
    } catch (error) {
      throw toProcReadError(file, error);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }
}
