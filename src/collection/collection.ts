/**
 * The bookkeeping of collections. A Collection is one read of procfs: its deadline, every file
 * it read and whether that worked, and what failed. FailureHistory outlives collections: it
 * counts failures by file and kind for the errors counter, and logs a file once when it starts
 * failing and once when it recovers, not at every scrape.
 */
import type { Logger } from '../log.js';
import { failureOf, type ReadFailure } from '../procfs/errors.js';

export interface CollectionFailure {
  /** The file as reported in `file_path`. */
  readonly file: string;
  readonly failure: ReadFailure;
  readonly message: string;
}

/** Failures of one kind on one file, counted since start-up. */
export interface FailureCount {
  readonly file: string;
  readonly failure: ReadFailure;
  count: number;
}

/** What a read gave when it worked; a box, so that a reader's own `undefined` (no data) stays a value. */
export interface Recorded<T> {
  readonly value: T;
}

export class Collection {
  /** performance.now() time by which the collection answers with what it has. */
  readonly deadline: number;
  readonly failures: CollectionFailure[] = [];
  /** Every file this collection read, and whether it was read and parsed. */
  readonly filesRead = new Map<string, boolean>();
  private readonly history: FailureHistory;

  constructor(deadline: number, history: FailureHistory) {
    this.deadline = deadline;
    this.history = history;
  }

  /** Records a settled read under `file`: its value in a box, or undefined after a failure. */
  record<T>(file: string, settled: PromiseSettledResult<T>): Recorded<T> | undefined {
    if (settled.status === 'rejected') {
      this.fail(file, settled.reason);
      return undefined;
    }
    this.filesRead.set(file, true);
    return { value: settled.value };
  }

  /** Runs a read and records it under `file`. */
  async attempt<T>(file: string, read: () => Promise<T>): Promise<Recorded<T> | undefined> {
    try {
      return this.record<T>(file, { status: 'fulfilled', value: await read() });
    } catch (error) {
      return this.record<T>(file, { status: 'rejected', reason: error });
    }
  }

  fail(file: string, error: unknown): void {
    const failure: CollectionFailure = { file, failure: failureOf(error), message: error instanceof Error ? error.message : String(error) };
    this.failures.push(failure);
    this.filesRead.set(file, false);
    this.history.count(failure);
  }
}

export class FailureHistory {
  /** Failures since start-up by file and kind, in the order first seen. */
  readonly counts = new Map<string, FailureCount>();
  /** Files whose last read failed. */
  private readonly failingFiles = new Set<string>();
  private readonly logger: Logger;

  constructor(logger: Logger) {
    this.logger = logger;
  }

  count({ file, failure }: CollectionFailure): void {
    const key = `${failure} ${file}`;
    const known = this.counts.get(key);
    if (known === undefined) this.counts.set(key, { file, failure, count: 1 });
    else known.count++;
  }

  /** Logs the files this collection found newly failing, and those that recovered. */
  logTransitions({ failures, filesRead }: Collection): void {
    for (const { file, failure, message } of failures) {
      if (this.failingFiles.has(file)) continue;
      this.failingFiles.add(file);
      this.logger.warn('procfs read failed; series that depend on it are left out until it recovers', { file, failure, error: message });
    }
    for (const [file, ok] of filesRead) {
      if (ok && this.failingFiles.delete(file)) this.logger.info('procfs read recovered', { file });
    }
  }
}
